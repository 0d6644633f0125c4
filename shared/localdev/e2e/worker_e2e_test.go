package e2e

// End-to-end tests of the worker's admission rules (issue 9): messages the worker must not sync
// complete as skipped runs with the reason, write no tenant data and are never dead-lettered;
// "sync now" refuses what the worker would skip; a run the host must have ended reads abandoned
// and the next message starts clean. Real handler under the local host, Azurite, simulator.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/store"
)

func syncBody(tenantID, runID string) string {
	b, _ := json.Marshal(domain.SyncRequest{TenantID: tenantID, RunID: runID, Reason: "scheduled", QueuedAt: time.Now().UTC().Truncate(time.Minute)})
	return b64(string(b))
}

// rowsAnywhere counts a tenant's rows in every collection table, under the id as given.
func rowsAnywhere(t *testing.T, st *store.Store, id string) int {
	t.Helper()
	n := 0
	for _, table := range append([]string{store.TableSyncState}, store.CollectionTables...) {
		c, err := st.Count(context.Background(), table, id)
		if err != nil {
			t.Fatalf("count %s/%s: %v", table, id, err)
		}
		n += c
	}
	return n
}

func TestWorkerSkipsMessagesItMustNotSync(t *testing.T) {
	s := startStack(t)
	s.discover(t)
	ctx := context.Background()
	consented, excluded := scenario.DemoContosoDental, scenario.DemoNorthwindTraders
	badRun := scenario.DemoWideWorldImporters
	unconsented := scenario.DemoWoodgroveBank
	unknown := "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	for _, id := range []string{consented, excluded, badRun} {
		if tn := s.tenant(t, id); tn.Consent.State != domain.ConsentConsented {
			t.Fatalf("%s consent %q after discovery, want consented", id, tn.Consent.State)
		}
	}
	if tn := s.tenant(t, unconsented); tn.Consent.State == domain.ConsentConsented {
		t.Fatalf("%s is consented after discovery; the test needs an unconsented tenant", unconsented)
	}
	if status, body := s.do(t, "PATCH", "/api/tenants/"+excluded, `{"excluded": true}`); status != http.StatusOK {
		t.Fatalf("exclude: %d %s", status, body)
	}
	if _, ok := s.sim.World.Tenant(unknown); ok {
		t.Fatal("the unknown tenant exists in the scenario")
	}

	upper := strings.ToUpper(consented)
	cases := []struct {
		name, messageID, tenantID, runID string
		runsUnder, code                  string
	}{
		{"upper-case tenant id", "m-upper", upper, "20261207T0100Z-scheduled", consented, "NonCanonicalTenantId"},
		{"unknown tenant", "m-unknown", unknown, "20261207T0100Z-scheduled", unknown, "UnknownTenant"},
		{"excluded tenant", "m-excluded", excluded, "20261207T0100Z-scheduled", excluded, "TenantExcluded"},
		{"unconsented tenant", "m-unconsented", unconsented, "20261207T0100Z-scheduled", unconsented, "NotConsented"},
		{"run id with control characters", "m-badrun", badRun, "run\x00id\r\n\x1b[31m", badRun, "InvalidRunId"},
	}
	var msgs []map[string]string
	for _, c := range cases {
		msgs = append(msgs, map[string]string{"messageId": c.messageID, "body": syncBody(c.tenantID, c.runID)})
	}
	payload, _ := json.Marshal(msgs)
	if status, body := s.do(t, "POST", "/admin/queues/tenant-sync/messages", string(payload)); status != http.StatusCreated {
		t.Fatalf("send: %d %s", status, body)
	}
	q := s.waitIdle(t)
	if q.Completed != int64(len(cases)) || q.DeadLettered != 0 {
		t.Errorf("queue %+v: want every message completed at its first delivery, none dead-lettered", q)
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runs := s.runs(t, c.runsUnder)
			if len(runs) != 1 {
				t.Fatalf("runs under %s: %+v, want exactly the skipped one", c.runsUnder, runs)
			}
			r := runs[0]
			if r.State != domain.SyncSkipped || r.Error == nil || r.Error.Code != c.code || r.Error.Message == "" || r.Error.Remediation == "" ||
				r.DeliveryCount != 1 || r.MessageID != c.messageID {
				t.Errorf("run %+v error %+v: want skipped %s with the reason and the fix, at the first delivery", r, r.Error, c.code)
			}
			if domain.IsRunID(c.runID) && r.RunID != c.runID {
				t.Errorf("run id %q, want the message's %q", r.RunID, c.runID)
			}
			if !domain.IsRunID(r.RunID) {
				t.Errorf("recorded run id %q is not a valid key", r.RunID)
			}
			for _, id := range []string{c.tenantID, c.runsUnder} {
				if n := rowsAnywhere(t, s.store, id); n != 0 {
					t.Errorf("%d collection or sync-state rows under %q: a skipped message must write none", n, id)
				}
			}
			if c.runsUnder == unknown {
				if _, err := s.store.GetTenant(ctx, unknown); !store.IsNotFound(err) {
					t.Errorf("the unknown tenant got a Tenants row (%v): no phantom tenants", err)
				}
				return
			}
			if tn := s.tenant(t, c.runsUnder); tn.Sync.State != domain.SyncNever || tn.Counts.Users != 0 {
				t.Errorf("tenant sync %+v counts %+v: a stray message must not change the tenant's state", tn.Sync, tn.Counts)
			}
		})
	}
	// The upper-case message wrote no second partition anywhere, runs included.
	if runs, err := s.store.ListRuns(ctx, upper); err != nil || len(runs) != 0 {
		t.Errorf("runs under the upper-case id: %+v %v", runs, err)
	}
	if code := strings.Count(s.output(), "sync message skipped"); code < len(cases) {
		t.Errorf("the log has %d 'sync message skipped' lines, want one per message", code)
	}
	if strings.Contains(s.output(), "\x1b[31m") {
		t.Error("the bad run id's control characters reached the log")
	}
}

// "Sync now" applies the worker's rules: an excluded tenant is refused with the reason instead of
// queueing a message the worker would skip.
func TestSyncNowRefusesAnExcludedTenant(t *testing.T) {
	s := startStack(t)
	s.discover(t)
	id := scenario.DemoContosoDental
	if status, body := s.do(t, "PATCH", "/api/tenants/"+id, `{"excluded": true}`); status != http.StatusOK {
		t.Fatalf("exclude: %d %s", status, body)
	}
	status, body := s.do(t, "POST", "/api/tenants/"+id+"/sync", "")
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if status != http.StatusConflict || json.Unmarshal(body, &e) != nil || e.Error.Code != "TenantExcluded" || !strings.Contains(e.Error.Message, `"excluded": false`) {
		t.Fatalf("sync now for an excluded tenant: %d %s, want 409 TenantExcluded with the fix", status, body)
	}
	if q := s.waitIdle(t); q.Sent != 0 {
		t.Errorf("queue %+v: nothing should have been queued", q)
	}
	if status, body := s.do(t, "PATCH", "/api/tenants/"+id, `{"excluded": false}`); status != http.StatusOK {
		t.Fatalf("include: %d %s", status, body)
	}
	runID := s.syncNow(t, id)
	if q := s.waitIdle(t); q.Completed != 1 || q.DeadLettered != 0 {
		t.Errorf("queue %+v after sync now", q)
	}
	if r, n := findRun(s.runs(t, id), runID); n != 1 || r.State != domain.SyncSucceeded {
		t.Errorf("run %+v (%d), want the manual run succeeded", r, n)
	}
}

// A run left running by a worker the host stopped (functionTimeout, crash) reads abandoned with
// the fix once functionTimeout (host.json: 10 minutes) has passed since it started, on the tenant
// and in its runs; the next message starts clean.
func TestRunPastFunctionTimeoutReadsAbandoned(t *testing.T) {
	s := startStack(t)
	s.discover(t)
	ctx := context.Background()
	id := scenario.DemoContosoDental
	started := time.Now().UTC().Add(-11 * time.Minute).Truncate(time.Second)
	stuck := domain.Run{TenantID: id, RunID: "20261207T0000Z-scheduled", Reason: "scheduled", State: domain.SyncRunning, MessageID: "m", DeliveryCount: 1,
		QueuedAt: started, StartedAt: started}
	if err := s.store.PutRun(ctx, stuck); err != nil {
		t.Fatal(err)
	}
	if err := s.store.SetTenantSyncResult(ctx, id, store.TenantSyncResult{State: domain.SyncRunning, RunID: stuck.RunID, StartedAt: started}); err != nil {
		t.Fatal(err)
	}
	fresh := domain.Run{TenantID: scenario.DemoLitware, RunID: "20261207T0001Z-scheduled", State: domain.SyncRunning, StartedAt: time.Now().UTC().Add(-time.Minute)}
	if err := s.store.PutRun(ctx, fresh); err != nil {
		t.Fatal(err)
	}

	tn := s.tenant(t, id)
	if tn.Sync.State != domain.SyncAbandoned || tn.Sync.Error == nil || tn.Sync.Error.Code != "RunAbandoned" || tn.Sync.Error.Remediation == "" ||
		!strings.Contains(tn.Sync.Error.Message, "10m0s") || tn.Sync.LastRunID != stuck.RunID {
		t.Fatalf("tenant sync %+v error %+v: want abandoned with the fix, naming functionTimeout", tn.Sync, tn.Sync.Error)
	}
	var list struct {
		Value []domain.Tenant `json:"value"`
	}
	s.getJSON(t, "/api/tenants", &list)
	for _, x := range list.Value {
		if x.TenantID == id && x.Sync.State != domain.SyncAbandoned {
			t.Errorf("GET /api/tenants shows %q, want abandoned", x.Sync.State)
		}
	}
	if r, _ := findRun(s.runs(t, id), stuck.RunID); r.State != domain.SyncAbandoned || r.Error == nil || r.Error.Code != "RunAbandoned" {
		t.Errorf("run %+v, want abandoned", r)
	}
	if r, _ := findRun(s.runs(t, scenario.DemoLitware), fresh.RunID); r.State != domain.SyncRunning {
		t.Errorf("a run started a minute ago reads %q, want running", r.State)
	}

	// The next message starts clean.
	runID := s.syncNow(t, id)
	if q := s.waitIdle(t); q.Completed != 1 || q.DeadLettered != 0 {
		t.Errorf("queue %+v", q)
	}
	tn = s.tenant(t, id)
	if tn.Sync.State != domain.SyncSucceeded || tn.Sync.Error != nil || tn.Sync.LastRunID != runID || tn.Counts.Users == 0 {
		t.Errorf("tenant after the next run %+v counts %+v, want succeeded without the old error", tn.Sync, tn.Counts)
	}
}
