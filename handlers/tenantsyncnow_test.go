package handlers

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// TenantSyncNow: 202 with the run id of the message it queued; a tenant the worker would refuse
// is 409 with the reason and nothing queued; an unknown tenant is 404.
func TestTenantSyncNow(t *testing.T) {
	e := newInputsEnv(t)
	rec := e.do("POST", "/api/tenants/"+e.tenant+"/sync", "")
	var ans struct{ RunID string }
	if rec.Code != http.StatusAccepted || json.Unmarshal(rec.Body.Bytes(), &ans) != nil || ans.RunID == "" {
		t.Fatalf("sync now: %d %s", rec.Code, rec.Body)
	}
	if got := e.queue.Tenants(t); len(got) != 1 || got[0] != e.tenant {
		t.Fatalf("queued %v", got)
	}
	var req domain.SyncRequest
	if err := json.Unmarshal(e.queue.Messages()[0].Body, &req); err != nil || req.RunID != ans.RunID || req.Reason != "manual" {
		t.Errorf("queued %+v (%v), answered run %q", req, err, ans.RunID)
	}
	if rec := e.do("POST", "/api/tenants/"+e.tenant+"/sync", "{}"); rec.Code != http.StatusAccepted {
		t.Errorf("sync now with {}: %d %s", rec.Code, rec.Body)
	}
	if code, _ := errorCode(t, e.do("POST", "/api/tenants/"+e.tenant+"/sync", `{"full":true}`)); code != "BadRequest" {
		t.Errorf("sync now with a body: %s", code)
	}

	if err := e.store.SetExcluded(e.ctx, e.tenant, true); err != nil {
		t.Fatal(err)
	}
	rec = e.do("POST", "/api/tenants/"+e.tenant+"/sync", "")
	if code, msg := errorCode(t, rec); rec.Code != http.StatusConflict || code == "" || msg == "" {
		t.Errorf("excluded tenant: %d %s %q", rec.Code, code, msg)
	}
	if got := e.queue.Tenants(t); len(got) != 2 {
		t.Errorf("an excluded tenant's sync was queued: %v", got)
	}
	if code, _ := errorCode(t, e.do("POST", "/api/tenants/00000000-0000-4000-8000-00000000dead/sync", "")); code != "TenantNotFound" {
		t.Errorf("unknown tenant: %s", code)
	}
}
