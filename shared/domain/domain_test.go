package domain

import "testing"

func TestSyncRequestValidate(t *testing.T) {
	bad := []SyncRequest{
		{TenantID: "nope", RunID: "r"},
		{TenantID: "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01", RunID: ""},
		{TenantID: "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01", RunID: "a/b"},
	}
	for _, r := range bad {
		if r.Validate() == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}
