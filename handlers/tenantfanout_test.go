package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv/devstore"
	"github.com/tenantsync/tenantsync/shared/localdev/testkit"
	"github.com/tenantsync/tenantsync/shared/queue"
)

type failingQueue struct{}

func (failingQueue) Send(context.Context, []queue.Message) error {
	return errors.New("service bus unavailable")
}
func (failingQueue) Close(context.Context) error { return nil }

// TenantFanout: the timer queues one scheduled sync per eligible tenant (consented, not
// excluded) and marks it queued; when the queue refuses the messages, the invocation fails and
// no tenant is left looking queued. In its own storage account: it reads every tenant.
func TestTenantFanoutFunction(t *testing.T) {
	ctx, st := context.Background(), devstore.Acquire(t)
	ids := map[string]domain.Tenant{
		"00000000-0000-4000-8000-00000000000a": {DisplayName: "Consented", Consent: domain.Consent{State: domain.ConsentConsented, Method: "cpv"}},
		"00000000-0000-4000-8000-00000000000b": {DisplayName: "Excluded", Excluded: true, Consent: domain.Consent{State: domain.ConsentConsented, Method: "cpv"}},
		"00000000-0000-4000-8000-00000000000c": {DisplayName: "Unconsented", Consent: domain.Consent{State: domain.ConsentNone}},
	}
	for id, tn := range ids {
		tn.TenantID, tn.Sync = id, domain.SyncStatus{State: domain.SyncSucceeded, LastRunID: "previous"}
		if err := st.UpsertTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 12, 7, 6, 0, 30, 0, time.UTC)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	deps := Deps{Store: st, Log: log, Now: func() time.Time { return now }}
	state := func(id string) domain.SyncStatus {
		tn, err := st.GetTenant(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return tn.Sync
	}

	deps.Queue = failingQueue{}
	if status, resp := invoke(t, New(deps), "TenantFanout", timerInvocation); status != http.StatusInternalServerError || !strings.Contains(strings.Join(resp.Logs, " "), "service bus unavailable") {
		t.Errorf("queue down: %d %q", status, resp.Logs)
	}
	if s := state("00000000-0000-4000-8000-00000000000a"); s.State != domain.SyncSucceeded || s.LastRunID != "previous" {
		t.Errorf("after a failed send the tenant reads %+v, want its previous state", s)
	}

	q := &testkit.Queue{}
	deps.Queue = q
	status, resp := invoke(t, New(deps), "TenantFanout", timerInvocation)
	if status != http.StatusOK || len(resp.Logs) != 1 || resp.Logs[0] != "queued 1 of 3 tenants over 0s" {
		t.Fatalf("fan-out: %d %q", status, resp.Logs)
	}
	if got := q.Tenants(t); len(got) != 1 || got[0] != "00000000-0000-4000-8000-00000000000a" {
		t.Fatalf("queued %v, want only the consented, included tenant", got)
	}
	var req domain.SyncRequest
	if err := json.Unmarshal(q.Messages()[0].Body, &req); err != nil || req.Reason != "scheduled" || !req.QueuedAt.Equal(now.Truncate(time.Minute)) {
		t.Errorf("queued request %+v (%v)", req, err)
	}
	if s := state("00000000-0000-4000-8000-00000000000a"); s.State != domain.SyncQueued || s.LastRunID != req.RunID {
		t.Errorf("queued tenant reads %+v", s)
	}
	for _, id := range []string{"00000000-0000-4000-8000-00000000000b", "00000000-0000-4000-8000-00000000000c"} {
		if s := state(id); s.State != domain.SyncSucceeded {
			t.Errorf("ineligible tenant %s reads %+v", id, s)
		}
	}

	if status, _ := invoke(t, New(deps), "TenantFanout", `{"Data":{},"Metadata":{}}`); status != http.StatusInternalServerError {
		t.Errorf("invocation without its timer binding: %d", status)
	}
}
