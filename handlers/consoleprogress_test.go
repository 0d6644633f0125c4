package handlers

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/domain"
)

// ConsoleProgress: the tenant's sync state as JSON for the page's live progress.
func TestConsoleProgress(t *testing.T) {
	e := newConsoleEnv(t)
	read := func() console.Progress {
		t.Helper()
		rec := e.get("/tenants/" + e.tenant + "/progress")
		var p console.Progress
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
			t.Fatalf("progress: %d %s", rec.Code, rec.Body)
		}
		return p
	}
	if p := read(); !p.Done || p.State != domain.SyncNever {
		t.Errorf("never synced: %+v", p)
	}
	if err := e.store.MarkQueued(e.ctx, []domain.SyncRequest{{TenantID: e.tenant, RunID: "run-progress", QueuedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if p := read(); p.Done || p.State != domain.SyncQueued || p.RunID != "run-progress" || p.Message == "" {
		t.Errorf("queued: %+v", p)
	}
	if rec := e.get("/tenants/nope/progress"); rec.Code != http.StatusBadRequest {
		t.Errorf("not a tenant id: %d", rec.Code)
	}
	if code, _ := errorCode(t, e.get("/tenants/00000000-0000-4000-8000-00000000dead/progress")); code != "TenantNotFound" {
		t.Errorf("unknown tenant: %s", code)
	}
}
