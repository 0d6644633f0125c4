package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/operation"
)

// Tenant rows, runs, operations, the partner record, summaries and OAuth state nonces, against
// Azurite (TestMain in collection_test.go). Every test works in its own tenant ids.

func getTenant(t *testing.T, s *Store, id string) domain.Tenant {
	t.Helper()
	got, err := s.GetTenant(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Each writer (discovery, consent, the exclusion switch, the sync's result) merges only its own
// columns, so none of them undoes another's.
func TestTenantWritersKeepEachOthersColumns(t *testing.T) {
	ctx := context.Background()
	id := newTenant(t)
	end := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	disc := domain.Tenant{TenantID: strings.ToUpper(id), DisplayName: "Contoso", DefaultDomain: "contoso.onmicrosoft.com", Sources: []string{"gdap", "csp"},
		Relationship: domain.Relationship{ID: "rel-1", Status: "active", EndDateTime: end, AutoExtend: true, Roles: []string{"role-a"}, AssignedRoles: []string{"role-a"}, AccessChecked: true},
		Flags:        []domain.Problem{{Code: "relationshipExpiring", Message: "m", Remediation: "r"}},
		Consent:      domain.Consent{State: domain.ConsentNone}, Sync: domain.SyncStatus{State: domain.SyncNever}}
	if err := testStore.SaveDiscovered(ctx, disc); err != nil {
		t.Fatal(err)
	}
	consentAt := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	if err := testStore.SetConsent(ctx, id, domain.Consent{State: domain.ConsentConsented, Method: "cpv", UpdatedAt: consentAt}); err != nil {
		t.Fatal(err)
	}
	if err := testStore.SetExcluded(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	mfa := 87.5
	succeeded := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	res := TenantSyncResult{State: domain.SyncSucceeded, RunID: "run-1", SucceededAt: succeeded, DisplayName: "Contoso Ltd",
		Counts: map[string]int{"users": 10, "licensedUsers": 7, "groups": 3, "devices": 2, "mailboxes": 9, "licenses": 4}, MFARegisteredPercent: &mfa, MFASource: "report",
		Collections: map[string]CollectionStatus{"devices": {Available: false, Problem: &domain.Problem{Code: "NoIntune", Message: "no licence", Remediation: "buy one"}}}}
	if err := testStore.SetTenantSyncResult(ctx, id, res); err != nil {
		t.Fatal(err)
	}
	// Discovery runs again: its columns change, consent, exclusion and the sync's stay.
	disc.Flags = nil
	disc.Consent, disc.Sync = domain.Consent{}, domain.SyncStatus{}
	if err := testStore.SaveDiscovered(ctx, disc); err != nil {
		t.Fatal(err)
	}

	got := getTenant(t, testStore, strings.ToUpper(id))
	if got.TenantID != id {
		t.Errorf("tenant id %q, want the lower-case key %q", got.TenantID, id)
	}
	if got.DisplayName != "Contoso" || got.DefaultDomain != "contoso.onmicrosoft.com" || !reflect.DeepEqual(got.Sources, []string{"gdap", "csp"}) {
		t.Errorf("discovery columns: %+v", got)
	}
	wantRel := domain.Relationship{ID: "rel-1", Status: "active", EndDateTime: end, AutoExtend: true, Roles: []string{"role-a"}, AssignedRoles: []string{"role-a"}, AccessChecked: true}
	if !reflect.DeepEqual(got.Relationship, wantRel) {
		t.Errorf("relationship %+v, want %+v", got.Relationship, wantRel)
	}
	if len(got.Flags) != 0 {
		t.Errorf("flags cleared by discovery must read empty: %+v", got.Flags)
	}
	if !got.Excluded {
		t.Error("discovery undid the exclusion")
	}
	if got.Consent.State != domain.ConsentConsented || got.Consent.Method != "cpv" || !got.Consent.UpdatedAt.Equal(consentAt) {
		t.Errorf("consent: %+v", got.Consent)
	}
	if got.Sync.State != domain.SyncSucceeded || got.Sync.LastRunID != "run-1" || !got.Sync.LastSuccessAt.Equal(succeeded) || got.Sync.Error != nil {
		t.Errorf("sync: %+v", got.Sync)
	}
	if want := (domain.Counts{Users: 10, LicensedUsers: 7, Groups: 3, Devices: 2, Mailboxes: 9, Skus: 4}); got.Counts != want {
		t.Errorf("counts %+v, want %+v", got.Counts, want)
	}
	if got.MFARegisteredPercent == nil || *got.MFARegisteredPercent != mfa || got.MFASource != "report" {
		t.Errorf("MFA: %v %q", got.MFARegisteredPercent, got.MFASource)
	}
	if c := got.Collections["devices"]; c.Available || c.Code() != "NoIntune" || c.Remediation() != "buy one" {
		t.Errorf("collections: %+v", got.Collections)
	}

	// A failed run shows its problem and keeps the last success (the old data stays visible).
	fail := TenantSyncResult{State: domain.SyncFailed, RunID: "run-2", ErrorCode: "ConsentRevoked", ErrorMessage: "gone", Remediation: "consent again"}
	if err := testStore.SetTenantSyncResult(ctx, id, fail); err != nil {
		t.Fatal(err)
	}
	got = getTenant(t, testStore, id)
	if got.Sync.State != domain.SyncFailed || got.Sync.LastRunID != "run-2" || !got.Sync.LastSuccessAt.Equal(succeeded) {
		t.Errorf("after a failed run: %+v", got.Sync)
	}
	if want := (&domain.Problem{Code: "ConsentRevoked", Message: "gone", Remediation: "consent again"}); !reflect.DeepEqual(got.Sync.Error, want) {
		t.Errorf("sync error %+v, want %+v", got.Sync.Error, want)
	}
	if got.DisplayName != "Contoso" || got.MFASource != "report" {
		t.Errorf("a run without a name or MFA source must keep the previous: %q %q", got.DisplayName, got.MFASource)
	}
	if err := testStore.SetExcluded(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if getTenant(t, testStore, id).Excluded {
		t.Error("tenant still excluded after switching it back")
	}
}

func TestMissingTenantIsNotFound(t *testing.T) {
	_, err := testStore.GetTenant(context.Background(), newTenant(t))
	if !IsNotFound(err) {
		t.Fatalf("GetTenant of an unknown tenant: %v (IsNotFound false)", err)
	}
	if IsNotFound(errors.New("other")) {
		t.Error("IsNotFound of a plain error")
	}
}

// An emailed link's columns are kept while pending, read expired after its expiry, and cleared
// once the consent is no longer pending.
func TestConsentLinkColumns(t *testing.T) {
	ctx := context.Background()
	id := newTenant(t)
	if err := testStore.UpsertTenant(ctx, domain.Tenant{TenantID: id, DisplayName: "Fabrikam"}); err != nil {
		t.Fatal(err)
	}
	if got := getTenant(t, testStore, id); got.Consent.State != domain.ConsentNone || got.Sync.State != domain.SyncNever {
		t.Errorf("defaults of an empty row: consent %q sync %q", got.Consent.State, got.Sync.State)
	}
	sent := time.Now().UTC().Truncate(time.Second)
	pending := domain.Consent{State: domain.ConsentPending, Method: "link", UpdatedAt: sent, PendingTo: "admin@fabrikam.com", SentAt: sent, RequestedBy: "tech@msp", ExpiresAt: sent.Add(time.Hour)}
	if err := testStore.SetConsent(ctx, id, pending); err != nil {
		t.Fatal(err)
	}
	if got := getTenant(t, testStore, id).Consent; !reflect.DeepEqual(got, pending) {
		t.Errorf("pending consent %+v, want %+v", got, pending)
	}
	expired := pending
	expired.ExpiresAt = sent.Add(-time.Minute)
	if err := testStore.SetConsent(ctx, id, expired); err != nil {
		t.Fatal(err)
	}
	if got := getTenant(t, testStore, id).Consent; got.State != domain.ConsentExpired || !strings.Contains(got.Error, "admin@fabrikam.com") {
		t.Errorf("a pending link past its expiry: %+v", got)
	}
	if err := testStore.SetConsent(ctx, id, domain.Consent{State: domain.ConsentConsented, Method: "link", UpdatedAt: sent}); err != nil {
		t.Fatal(err)
	}
	got := getTenant(t, testStore, id).Consent
	if got.State != domain.ConsentConsented || got.PendingTo != "" || got.RequestedBy != "" || !got.SentAt.IsZero() || !got.ExpiresAt.IsZero() {
		t.Errorf("consented keeps the pending link's columns: %+v", got)
	}
}

// MarkQueued marks every tenant queued in batches of at most 100 (one transaction each); a tenant
// whose message could not be sent gets its previous state back.
func TestMarkQueuedAndRestore(t *testing.T) {
	ctx := context.Background()
	queuedAt := time.Now().UTC().Truncate(time.Millisecond)
	var reqs []domain.SyncRequest
	for i := 0; i < 101; i++ {
		id := newTenant(t)
		if err := testStore.UpsertTenant(ctx, domain.Tenant{TenantID: id, Sync: domain.SyncStatus{State: domain.SyncSucceeded, LastRunID: "old"}}); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, domain.SyncRequest{TenantID: id, RunID: "run-q", Reason: "scheduled", QueuedAt: queuedAt})
	}
	if err := testStore.MarkQueued(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	all, err := testStore.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]domain.Tenant{}
	for i, tn := range all {
		byID[tn.TenantID] = tn
		if i > 0 && all[i-1].TenantID >= tn.TenantID {
			t.Fatalf("ListTenants not ordered by id: %q before %q", all[i-1].TenantID, tn.TenantID)
		}
	}
	for _, r := range reqs {
		got, ok := byID[r.TenantID]
		if !ok {
			t.Fatalf("tenant %s not listed", r.TenantID)
		}
		if got.Sync.State != domain.SyncQueued || got.Sync.LastRunID != "run-q" || !got.Sync.QueuedAt.Equal(queuedAt) {
			t.Fatalf("tenant %s after MarkQueued: %+v", r.TenantID, got.Sync)
		}
	}
	if err := testStore.RestoreSyncState(ctx, strings.ToUpper(reqs[0].TenantID), domain.SyncSucceeded, "old"); err != nil {
		t.Fatal(err)
	}
	got := getTenant(t, testStore, reqs[0].TenantID)
	if got.Sync.State != domain.SyncSucceeded || got.Sync.LastRunID != "old" || !got.Sync.QueuedAt.IsZero() {
		t.Errorf("restored: %+v", got.Sync)
	}
}

// A run still marked running after the function timeout reads abandoned, on the tenant and in
// the run history.
func TestRunningPastTimeoutReadsAbandoned(t *testing.T) {
	ctx := context.Background()
	s := New(testStore.svc)
	s.RunTimeout = 10 * time.Minute
	id := newTenant(t)
	started := time.Now().UTC().Add(-time.Hour)
	if err := s.SetTenantSyncResult(ctx, id, TenantSyncResult{State: domain.SyncRunning, RunID: "run-a", StartedAt: started}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRun(ctx, domain.Run{TenantID: id, RunID: "run-a", State: domain.SyncRunning, QueuedAt: started, StartedAt: started}); err != nil {
		t.Fatal(err)
	}
	if got := getTenant(t, s, id); got.Sync.State != domain.SyncAbandoned || got.Sync.Error == nil || got.Sync.Error.Code != domain.CodeRunAbandoned {
		t.Errorf("tenant: %+v", got.Sync)
	}
	runs, err := s.ListRuns(ctx, id)
	if err != nil || len(runs) != 1 || runs[0].State != domain.SyncAbandoned {
		t.Errorf("runs: %+v %v", runs, err)
	}
	if got := getTenant(t, testStore, id); got.Sync.State != domain.SyncRunning {
		t.Errorf("without a timeout the run stays running: %+v", got.Sync)
	}
}

// Runs round-trip, come newest first, and a redelivered message replaces its run's row.
func TestRunsRoundTripNewestFirst(t *testing.T) {
	ctx := context.Background()
	id := newTenant(t)
	base := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	older := domain.Run{TenantID: id, RunID: "r1", Reason: "scheduled", State: domain.SyncSucceeded, MessageID: "m1", DeliveryCount: 1,
		QueuedAt: base, StartedAt: base.Add(time.Second), FinishedAt: base.Add(time.Minute),
		Collections: map[string]domain.RunCollection{"users": {Full: true, Count: 5, Written: 5, Transactions: 1}}}
	newer := domain.Run{TenantID: id, RunID: "r0-newer", Reason: "manual", State: domain.SyncFailed, MessageID: "m2", DeliveryCount: 1,
		QueuedAt: base.Add(time.Hour), Error: &domain.Problem{Code: "Throttled", Message: "429", Remediation: "wait"}}
	for _, r := range []domain.Run{older, newer} {
		if err := testStore.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	redelivered := newer
	redelivered.DeliveryCount, redelivered.State, redelivered.Error = 2, domain.SyncPartial, nil
	if err := testStore.PutRun(ctx, redelivered); err != nil {
		t.Fatal(err)
	}
	runs, err := testStore.ListRuns(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := []domain.Run{redelivered, older}; !reflect.DeepEqual(runs, want) {
		t.Errorf("runs\n got %+v\nwant %+v", runs, want)
	}
	if _, err := testStore.ListRuns(ctx, "x' or PartitionKey ne '"); err == nil {
		t.Error("ListRuns accepted a tenant id that is not a GUID")
	}
}

// An operation's record survives splitting over several properties; one too large keeps its
// summary only; an unknown id is operation.ErrNotFound.
func TestOperationsRoundTrip(t *testing.T) {
	ctx := context.Background()
	id := newTenant(t)
	// Several properties. ASCII: Azurite corrupts a multi-byte character that straddles two chunks
	// of a request body (Azure/Azurite#2670), which real Table Storage does not.
	big, _ := json.Marshal(map[string]string{"text": strings.Repeat("ab", 2*operationChunk)})
	op := operation.Operation{ID: id, Kind: "consent", State: "succeeded", RequestedBy: "tech@msp", TenantIDs: []string{"a"},
		CreatedAt: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC), Attempts: 1, Result: big}
	if err := testStore.PutOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	got, err := testStore.GetOperation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if canonical(t, got.Result) != canonical(t, op.Result) {
		t.Errorf("result changed in the round trip (%d bytes, want %d)", len(got.Result), len(op.Result))
	}
	got.Result, op.Result = nil, nil
	if !reflect.DeepEqual(got, op) {
		t.Errorf("operation %+v, want %+v", got, op)
	}

	huge, _ := json.Marshal(strings.Repeat("x", 31*operationChunk))
	op.ID, op.Result = newTenant(t), huge
	if err := testStore.PutOperation(ctx, op); err != nil {
		t.Fatal(err)
	}
	got, err = testStore.GetOperation(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(got.Result, &r); err != nil || r["truncated"] != true {
		t.Errorf("oversized result: %s (%v)", got.Result, err)
	}
	if got.State != "succeeded" || got.Kind != "consent" {
		t.Errorf("oversized operation lost its summary: %+v", got)
	}
	if _, err := testStore.GetOperation(ctx, newTenant(t)); !errors.Is(err, operation.ErrNotFound) {
		t.Errorf("unknown operation: %v", err)
	}
}

func TestPartnerConnectionRoundTrip(t *testing.T) {
	ctx := context.Background()
	pc := PartnerConnection{Connected: true, ConnectedBy: "admin@msp", ConnectedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		LastRefreshAt: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), ErrorCode: "RefreshFailed", ErrorMessage: "m", Remediation: "reconnect"}
	if err := testStore.PutPartner(ctx, pc); err != nil {
		t.Fatal(err)
	}
	got, err := testStore.GetPartner(ctx)
	if err != nil || got != pc {
		t.Errorf("partner %+v %v, want %+v", got, err, pc)
	}
	fresh := New(testStore.svc)
	if _, err := fresh.svc.NewClient(TablePartner).DeleteEntity(ctx, "partner", "connection", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := fresh.GetPartner(ctx); err != nil || got != (PartnerConnection{}) {
		t.Errorf("never connected: %+v %v", got, err)
	}
}

func TestSummariesRoundTrip(t *testing.T) {
	ctx := context.Background()
	a, b := newTenant(t), newTenant(t)
	for i, id := range []string{a, b} {
		if err := testStore.PutSummary(ctx, strings.ToUpper(id), map[string]int{"users": i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]string{}
	if err := testStore.ListSummaries(ctx, func(id string, data []byte) error { seen[id] = string(data); return nil }); err != nil {
		t.Fatal(err)
	}
	if seen[a] != `{"users":1}` || seen[b] != `{"users":2}` {
		t.Errorf("summaries: %q %q", seen[a], seen[b])
	}
	stop := errors.New("stop")
	if err := testStore.ListSummaries(ctx, func(string, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("the callback's error must end the listing: %v", err)
	}
	if err := testStore.PutSummary(ctx, a, strings.Repeat("x", maxSummaryBytes)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized summary: %v", err)
	}
	if err := testStore.PutSummary(ctx, a, func() {}); err == nil {
		t.Error("a summary that is not JSON-encodable was stored")
	}
}

// A state nonce redeems once; the second redemption is a replay.
func TestConsumeIsSingleUse(t *testing.T) {
	ctx := context.Background()
	nonce := newTenant(t) + "/n#1"
	exp := time.Now().Add(time.Hour)
	if err := testStore.Consume(ctx, nonce, exp); err != nil {
		t.Fatal(err)
	}
	if err := testStore.Consume(ctx, nonce, exp); !errors.Is(err, oauthstate.ErrReplayed) {
		t.Errorf("second use: %v", err)
	}
	if err := testStore.Consume(ctx, "", exp); err == nil || errors.Is(err, oauthstate.ErrReplayed) {
		t.Errorf("empty nonce: %v", err)
	}
}

// JoinUserSecurity adds each user's MFA and sign-in row; users without one are left as they are.
func TestJoinUserSecurity(t *testing.T) {
	ctx := context.Background()
	id := newTenant(t)
	users := makeUsers(3, "u")
	putAll(t, TableUsers, id, users, false, false)
	yes := true
	signIn := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	sec := testStore.Collection(TableUserSecurity, id)
	for _, us := range []domain.UserSecurity{{ID: users[0].ID, MFARegistered: &yes, MFAMethods: []string{"app"}, LastSignIn: signIn}, {ID: users[2].ID, IsAdmin: true}} {
		if err := sec.Put(ctx, us.ID, us); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sec.Finish(ctx, false); err != nil {
		t.Fatal(err)
	}
	page, _, err := testStore.Page(ctx, TableUsers, id, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	joined, err := testStore.JoinUserSecurity(ctx, id, page)
	if err != nil {
		t.Fatal(err)
	}
	if len(joined) != 3 {
		t.Fatalf("%d users joined, want 3", len(joined))
	}
	var got []domain.User
	for _, raw := range joined {
		var u domain.User
		if err := json.Unmarshal(raw, &u); err != nil {
			t.Fatal(err)
		}
		got = append(got, u)
	}
	if got[0].MFARegistered == nil || !*got[0].MFARegistered || !reflect.DeepEqual(got[0].MFAMethods, []string{"app"}) || !got[0].LastSignIn.Equal(signIn) || got[0].UserPrincipalName != users[0].UserPrincipalName {
		t.Errorf("user with a security row: %+v", got[0])
	}
	if got[1].MFARegistered != nil || got[1].IsAdmin || string(joined[1]) != string(page[1]) {
		t.Errorf("user without a security row changed: %s", joined[1])
	}
	if !got[2].IsAdmin {
		t.Errorf("admin flag not joined: %+v", got[2])
	}
	if out, err := testStore.JoinUserSecurity(ctx, id, nil); err != nil || len(out) != 0 {
		t.Errorf("empty page: %v %v", out, err)
	}
	if _, err := testStore.JoinUserSecurity(ctx, id, []json.RawMessage{json.RawMessage(`[`)}); err == nil {
		t.Error("a malformed user row joined without error")
	}
}
