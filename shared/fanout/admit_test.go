package fanout

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/queue"
)

const (
	okID       = "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01"
	excludedID = "1c7a7d4f-7b2f-4d54-8b64-7e2b4a1f2b02"
	pendingID  = "3e9c9f61-9d41-4f76-8d86-904d6c314d04"
	brokenID   = "4f0d0a72-0e52-4087-9e97-a15e7d425e05"
)

// tenants is a Tenants table for pure-logic tests: rows by lower-case id, Table Storage's 404 for
// others, a storage failure for brokenID.
type tenants map[string]domain.Tenant

func (m tenants) GetTenant(_ context.Context, id string) (domain.Tenant, error) {
	if id == brokenID {
		return domain.Tenant{}, errors.New("storage unavailable")
	}
	if t, ok := m[id]; ok {
		return t, nil
	}
	return domain.Tenant{}, &azcore.ResponseError{StatusCode: 404, ErrorCode: "ResourceNotFound"}
}

var table = tenants{
	okID:       {TenantID: okID, Consent: domain.Consent{State: domain.ConsentConsented}},
	excludedID: {TenantID: excludedID, Consent: domain.Consent{State: domain.ConsentConsented}, Excluded: true},
	pendingID:  {TenantID: pendingID, Consent: domain.Consent{State: domain.ConsentPending}},
}

func TestAdmit(t *testing.T) {
	run := "20261207T0100Z-scheduled"
	for _, c := range []struct {
		name      string
		req       domain.SyncRequest
		code      string
		wantKnown bool
	}{
		{"consented", domain.SyncRequest{TenantID: okID, RunID: run}, "", true},
		{"upper-case id", domain.SyncRequest{TenantID: strings.ToUpper(okID), RunID: run}, CodeNonCanonicalTenantID, true},
		{"unknown", domain.SyncRequest{TenantID: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", RunID: run}, CodeUnknownTenant, false},
		{"excluded", domain.SyncRequest{TenantID: excludedID, RunID: run}, CodeTenantExcluded, true},
		{"unconsented", domain.SyncRequest{TenantID: pendingID, RunID: run}, CodeNotConsented, true},
		{"run id with control characters", domain.SyncRequest{TenantID: okID, RunID: "a\x00b"}, CodeInvalidRunID, true},
		{"run id with a slash", domain.SyncRequest{TenantID: okID, RunID: "a/b"}, CodeInvalidRunID, true},
		{"empty run id", domain.SyncRequest{TenantID: okID}, CodeInvalidRunID, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tn, p, err := Admit(context.Background(), table, c.req)
			if err != nil {
				t.Fatal(err)
			}
			if (tn != nil) != c.wantKnown {
				t.Errorf("tenant %+v, want known %v", tn, c.wantKnown)
			}
			switch {
			case c.code == "" && p != nil:
				t.Errorf("refused %+v", p)
			case c.code != "" && (p == nil || p.Code != c.code || p.Message == "" || p.Remediation == ""):
				t.Errorf("refusal %+v, want %s with a message and a fix", p, c.code)
			}
		})
	}
	if _, _, err := Admit(context.Background(), table, domain.SyncRequest{TenantID: brokenID, RunID: run}); err == nil {
		t.Error("a storage failure must be an error (the message is retried), not a refusal")
	}
}

type sender struct {
	sent []queue.Message
	// marked is what the marker held when Send was called; err fails the send.
	mk     *marker
	marked int
	err    error
}

func (s *sender) Send(_ context.Context, m []queue.Message) error {
	if s.mk != nil {
		s.marked = len(s.mk.reqs)
	}
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, m...)
	return nil
}
func (s *sender) Close(context.Context) error { return nil }

type marker struct {
	reqs     []domain.SyncRequest
	restored []string
}

func (m *marker) MarkQueued(_ context.Context, r []domain.SyncRequest) error {
	m.reqs = append(m.reqs, r...)
	return nil
}

func (m *marker) RestoreSyncState(_ context.Context, tenantID, state, lastRunID string) error {
	m.restored = append(m.restored, tenantID+" "+state+" "+lastRunID)
	return nil
}

func TestOnDemandAndSendApplyTheWorkersRules(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	for id, code := range map[string]string{excludedID: CodeTenantExcluded, pendingID: CodeNotConsented} {
		_, _, err := OnDemand(table[id], ReasonManual, now)
		var p domain.Problem
		if !errors.As(err, &p) || p.Code != code {
			t.Errorf("%s: %v, want the refusal %s", id, err, code)
		}
	}
	m, req, err := OnDemand(table[okID], ReasonConsent, now)
	if err != nil || req.Reason != ReasonConsent || !strings.HasPrefix(req.RunID, "20261207T010203Z-consent-") || m.ID != okID+":"+req.RunID || CheckRequest(req) != nil {
		t.Fatalf("consent request %+v message %q: %v", req, m.ID, err)
	}
	q, mk := &sender{}, &marker{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := Send(context.Background(), q, mk, log, []queue.Message{m}, []domain.SyncRequest{req}, []domain.Tenant{table[okID]}); err != nil || len(q.sent) != 1 || len(mk.reqs) != 1 {
		t.Fatalf("send: %v, sent %d marked %d", err, len(q.sent), len(mk.reqs))
	}
	bad := req
	bad.TenantID = strings.ToUpper(bad.TenantID)
	if err := Send(context.Background(), q, mk, log, []queue.Message{m}, []domain.SyncRequest{bad}, nil); err == nil || len(q.sent) != 1 {
		t.Errorf("a request the worker would refuse was sent (%v)", err)
	}
}

// Tenants are marked queued before the message is sent (a worker starting at once must not have
// its "running" overwritten), and a failed send puts each tenant's previous sync state back.
func TestSendMarksFirstAndRestoresOnFailure(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	prev := table[okID]
	prev.Sync.State, prev.Sync.LastRunID = domain.SyncSucceeded, "earlier-run"
	m, req, err := OnDemand(prev, ReasonManual, now)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mk := &marker{}
	q := &sender{mk: mk}
	if err := Send(context.Background(), q, mk, log, []queue.Message{m}, []domain.SyncRequest{req}, []domain.Tenant{prev}); err != nil {
		t.Fatal(err)
	}
	if q.marked != 1 {
		t.Errorf("the tenant was marked queued after the send (marked %d when sending)", q.marked)
	}
	failing := &sender{err: errors.New("queue down")}
	if err := Send(context.Background(), failing, mk, log, []queue.Message{m}, []domain.SyncRequest{req}, []domain.Tenant{prev}); err == nil {
		t.Fatal("a failed send was not reported")
	}
	if len(mk.restored) != 1 || mk.restored[0] != req.TenantID+" "+domain.SyncSucceeded+" earlier-run" {
		t.Errorf("restored %q, want the previous state back", mk.restored)
	}
}
