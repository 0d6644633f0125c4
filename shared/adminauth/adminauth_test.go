package adminauth

import (
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"testing"
)

func principal(groups ...string) string {
	claims := `{"typ":"name","val":"Ada Admin"}`
	for _, g := range groups {
		claims += `,{"typ":"groups","val":"` + g + `"}`
	}
	return base64.StdEncoding.EncodeToString([]byte(`{"auth_typ":"aad","name_typ":"name","role_typ":"roles","claims":[` + claims + `]}`))
}

func TestCheck(t *testing.T) {
	const group = "3f1c0d2e-0000-4000-8000-000000000001"
	r := httptest.NewRequest("GET", "/api/tenants", nil)
	if who, err := Check(r, group); err != nil || who != "function key" {
		t.Errorf("key only: %q %v", who, err)
	}
	r.Header.Set("X-MS-CLIENT-PRINCIPAL", principal("other", group))
	if who, err := Check(r, group); err != nil || who != "Ada Admin" {
		t.Errorf("admin: %q %v", who, err)
	}
	r.Header.Set("X-MS-CLIENT-PRINCIPAL", principal("other"))
	if _, err := Check(r, group); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("non-admin: %v", err)
	}
	if _, err := Check(r, ""); err == nil {
		t.Error("a principal without ADMIN_GROUP_ID configured must be refused")
	}
	r.Header.Set("X-MS-CLIENT-PRINCIPAL", "%%%")
	if _, err := Check(r, group); err == nil {
		t.Error("garbage principal accepted")
	}
}
