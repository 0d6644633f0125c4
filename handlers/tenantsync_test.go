package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/syncer"
)

// TenantSync: the worker hands the message to the engine and answers the host. A message the
// worker refuses (here: an excluded tenant) completes as a skipped run without touching Graph; a
// message that is not a sync request fails the invocation, so Service Bus redelivers it and
// dead-letters it after MaxDeliveryCount.
func TestTenantSyncFunction(t *testing.T) {
	e := newInputsEnv(t)
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	mux := New(Deps{Store: e.store, Log: log, Now: time.Now, Engine: &syncer.Engine{Store: e.store, Log: log, Now: time.Now}})
	if err := e.store.SetExcluded(e.ctx, e.tenant, true); err != nil {
		t.Fatal(err)
	}
	req := domain.SyncRequest{TenantID: e.tenant, RunID: "20261207T0600Z-scheduled", Reason: "scheduled", QueuedAt: time.Now().UTC()}
	if err := e.store.MarkQueued(e.ctx, []domain.SyncRequest{req}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(req)
	status, resp := invoke(t, mux, "TenantSync", serviceBusInvocation(body, "msg-1", 1))
	if want := "tenant " + e.tenant + " run " + req.RunID + ": skipped"; status != http.StatusOK || len(resp.Logs) != 1 || resp.Logs[0] != want {
		t.Fatalf("excluded tenant: %d %q, want 200 %q", status, resp.Logs, want)
	}
	runs, err := e.store.ListRuns(e.ctx, e.tenant)
	if err != nil || len(runs) != 1 || runs[0].State != domain.SyncSkipped || runs[0].MessageID != "msg-1" || runs[0].DeliveryCount != 1 {
		t.Fatalf("recorded runs %+v %v", runs, err)
	}
	if tn, err := e.store.GetTenant(e.ctx, e.tenant); err != nil || tn.Sync.State != domain.SyncSkipped {
		t.Errorf("the tenant waiting for this run must not stay queued: %+v %v", tn.Sync, err)
	}

	for name, payload := range map[string]string{
		"not a sync request": serviceBusInvocation([]byte(`{"tenantId":"nope"}`), "msg-2", 1),
		"no message":         `{"Data":{},"Metadata":{"MessageId":"\"m\"","DeliveryCount":"1"}}`,
	} {
		status, resp := invoke(t, mux, "TenantSync", payload)
		if status != http.StatusInternalServerError || len(resp.Logs) == 0 {
			t.Errorf("%s: %d %q, want 500 so the message is redelivered", name, status, resp.Logs)
		}
	}
	if runs, _ := e.store.ListRuns(e.ctx, e.tenant); len(runs) != 1 {
		t.Errorf("a failed invocation recorded a run: %+v", runs)
	}
	// The skip is logged with the tenant and run (structured), through the invocation's logger.
	var skipped bool
	for _, line := range strings.Split(e.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "sync message skipped" {
			skipped = rec["tenantId"] == e.tenant && rec["runId"] == req.RunID && rec["function"] == "TenantSync"
		}
	}
	if !skipped {
		t.Errorf("no skip logged with tenant, run and function:\n%s", e.logs)
	}
}
