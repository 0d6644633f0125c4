package syncer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
	"github.com/tenantsync/tenantsync/shared/syncer"
)

// The engine's state rules, through its entry point (Handle) with the real msgraph-sdk-go against
// the simulator over TLS and the store against Azurite: what ends a run succeeded, partial or
// failed, which problem the run and the tenant show when several collections fail, when a delta
// link is used and when a full round replaces it, and what a refused message leaves behind.

const scheduledRun = "20261207T0100Z-scheduled"

// noWaitRetry retries once without waiting, so transient faults end the run at once.
func noWaitRetry() *graphclient.RetryHandler {
	return &graphclient.RetryHandler{MaxRetries: 1, Sleep: func(context.Context, time.Duration) error { return nil }}
}

// handle seeds the tenant waiting for runID and delivers its message.
func handle(t *testing.T, e *syncer.Engine, st *store.Store, id, runID string) (*syncer.Result, error) {
	t.Helper()
	seed(t, st, id, runID, nil)
	return e.Handle(context.Background(), body(id, runID), syncer.Delivery{MessageID: id + ":" + runID, DeliveryCount: 1})
}

func tenant(t *testing.T, st *store.Store, id string) domain.Tenant {
	t.Helper()
	tn, err := st.GetTenant(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// rolesWithout is every customer permission but the named ones.
func rolesWithout(drop ...string) []string {
	var out []string
	for _, p := range appperms.Customer() {
		if !slices.Contains(drop, p.Value) {
			out = append(out, p.Value)
		}
	}
	return out
}

// A run is succeeded when every collection synced, partial when some collection is one the
// tenant cannot provide (no Intune, no Entra ID P1/P2, concealed report names, permissions no
// longer granted), failed when a collection or the tenant itself failed. Partial runs count as a
// success (lastSuccessAt) and complete the message; unavailable collections say why and how to fix
// it on the tenant, and the rest of the tenant is stored.
func TestRunStates(t *testing.T) {
	st := testStore(t)
	type want struct {
		state       string
		code        string            // the run's and the tenant's error code ("" none)
		unavailable map[string]string // collection -> code
		failed      map[string]string // collection -> code
		mfaSource   string            // "" not checked
	}
	cases := map[string]struct {
		spec func(*scenario.TenantSpec)
		want want
	}{
		"healthy": {nil, want{state: domain.SyncSucceeded, mfaSource: domain.MFASourceReport}},
		"no Intune": {func(s *scenario.TenantSpec) { s.Intune = false },
			want{state: domain.SyncPartial, unavailable: map[string]string{syncer.CollDevices: remedy.CodeIntuneNotLicensed}}},
		"concealed reports": {func(s *scenario.TenantSpec) { s.ConcealReports = true },
			want{state: domain.SyncPartial, unavailable: map[string]string{syncer.CollMailboxes: remedy.CodeReportsConcealed}}},
		"no P1/P2, security defaults": {func(s *scenario.TenantSpec) { s.Premium, s.SecurityDefaults = false, true },
			want{state: domain.SyncPartial, unavailable: map[string]string{syncer.CollUserSecurity: remedy.CodePremiumRequired}, mfaSource: domain.MFASourceSecurityDefaults}},
		"no P1/P2, per-user MFA": {func(s *scenario.TenantSpec) { s.Premium = false },
			want{state: domain.SyncPartial, unavailable: map[string]string{syncer.CollUserSecurity: remedy.CodePremiumRequired}, mfaSource: domain.MFASourcePerUser}},
		// Consent granted before the fallback's permissions existed: the policy is unreadable, so
		// registration comes from the methods alone, and the drift check names what is missing.
		"no P1/P2, no Policy.Read.All": {func(s *scenario.TenantSpec) { s.Premium, s.GrantedRoles = false, rolesWithout("Policy.Read.All") },
			want{state: domain.SyncPartial, unavailable: map[string]string{syncer.CollUserSecurity: remedy.CodePremiumRequired, "permissions": syncer.CodeReconsentNeeded}, mfaSource: domain.MFASourceMethods}},
		"no P1/P2, no authentication methods": {func(s *scenario.TenantSpec) {
			s.Premium, s.GrantedRoles = false, rolesWithout("UserAuthenticationMethod.Read.All")
		}, want{state: domain.SyncPartial, unavailable: map[string]string{syncer.CollUserSecurity: remedy.CodeMFAStateUnavailable, "permissions": syncer.CodeReconsentNeeded}}},
		// Consent drift: Graph refuses devices (403) for want of a role; the collection is
		// unavailable with the re-consent problem, not failed.
		"device role no longer granted": {func(s *scenario.TenantSpec) { s.GrantedRoles = rolesWithout("DeviceManagementManagedDevices.Read.All") },
			want{state: domain.SyncPartial, unavailable: map[string]string{syncer.CollDevices: syncer.CodeReconsentNeeded, "permissions": syncer.CodeReconsentNeeded}}},
		"users refused": {func(s *scenario.TenantSpec) {
			s.Faults = &scenario.Faults{Fail: []scenario.EndpointFault{{Path: "/users/delta()", Status: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."}}}
		}, want{state: domain.SyncFailed, code: "Authorization_RequestDenied", failed: map[string]string{syncer.CollUsers: "Authorization_RequestDenied"}}},
		"tenant token refused": {func(s *scenario.TenantSpec) { s.Faults = &scenario.Faults{TokenError: "7000229"} },
			want{state: domain.SyncFailed, code: "AADSTS7000229"}},
	}
	specs := map[string]func(*scenario.TenantSpec){}
	ids := map[string]string{}
	for name, c := range cases {
		id := tenantID()
		ids[name], specs[id] = id, c.spec
	}
	srv := worldOf(t, specs)
	e := engine(t, srv, st, nil)
	for name, c := range cases {
		id, w := ids[name], c.want
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := handle(t, e, st, id, scheduledRun)
			if err != nil || res == nil {
				t.Fatalf("Handle: %+v %v, want the message completed", res, err)
			}
			run, tn := onlyRun(t, st, id), tenant(t, st, id)
			if run.State != w.state || tn.Sync.State != w.state || res.Run.State != w.state || tn.Sync.LastRunID != scheduledRun {
				t.Fatalf("run %s, tenant %s, result %s; want %s", run.State, tn.Sync.State, res.Run.State, w.state)
			}
			if run.FinishedAt.IsZero() || !tn.Sync.StartedAt.IsZero() {
				t.Errorf("run finished %v, tenant startedAt %v: a finished run has an end and no start on the tenant", run.FinishedAt, tn.Sync.StartedAt)
			}
			gotCode := func(e *domain.Problem) string {
				if e == nil {
					return ""
				}
				if e.Remediation == "" {
					t.Errorf("error %+v without a remediation", e)
				}
				return e.Code
			}
			if gotCode(run.Error) != w.code || gotCode(tn.Sync.Error) != w.code || (res.Problem == nil) != (w.code == "") {
				t.Errorf("run error %+v, tenant error %+v, result problem %+v; want code %q", run.Error, tn.Sync.Error, res.Problem, w.code)
			}
			if succeeded := w.state != domain.SyncFailed; tn.Sync.LastSuccessAt.IsZero() == succeeded {
				t.Errorf("lastSuccessAt %v for a %s run", tn.Sync.LastSuccessAt, w.state)
			}
			if w.code == "AADSTS7000229" {
				if len(run.Collections) != 0 {
					t.Errorf("collections %+v recorded for a tenant that could not be read", run.Collections)
				}
				return
			}
			for _, coll := range []string{syncer.CollUsers, syncer.CollUserSecurity, syncer.CollLicenses, syncer.CollGroups, syncer.CollDevices, syncer.CollMailboxes} {
				rc, cs := run.Collections[coll], tn.Collections[coll]
				wantUnavail, wantErr := w.unavailable[coll], w.failed[coll]
				if rc.Unavailable != wantUnavail || rc.Error != wantErr {
					t.Errorf("run collection %s %+v, want unavailable %q error %q", coll, rc, wantUnavail, wantErr)
				}
				if cs.Available != (wantUnavail == "" && wantErr == "") || cs.Code() != wantUnavail+wantErr {
					t.Errorf("tenant collection %s %+v, want code %q", coll, cs, wantUnavail+wantErr)
				}
				if !cs.Available && (cs.Reason() == "" || cs.Remediation() == "") {
					t.Errorf("tenant collection %s %+v says neither why nor what to do", coll, cs)
				}
			}
			if p, ok := w.unavailable["permissions"]; ok {
				if cs := tn.Collections["permissions"]; cs.Available || cs.Code() != p || !strings.Contains(cs.Reason(), "missing") {
					t.Errorf("permissions %+v, want %s naming the missing permission", cs, p)
				}
			} else if _, ok := tn.Collections["permissions"]; ok {
				t.Errorf("a permissions entry %+v although every role is granted", tn.Collections["permissions"])
			}
			if w.state == domain.SyncFailed {
				return
			}
			if tn.Counts.Users != 4 || tn.Counts.Groups != 1 || tn.DisplayName == "" {
				t.Errorf("tenant %q counts %+v, want the tenant's 4 users and 1 group", tn.DisplayName, tn.Counts)
			}
			if n, err := st.Count(context.Background(), store.TableUsers, id); err != nil || n != 4 {
				t.Errorf("%d user rows (%v), want 4", n, err)
			}
			if w.mfaSource != "" && (tn.MFASource != w.mfaSource || tn.MFARegisteredPercent == nil) {
				t.Errorf("mfaSource %q percent %v, want %q with a percentage", tn.MFASource, tn.MFARegisteredPercent, w.mfaSource)
			}
		})
	}
}

// When several collections fail, the run and the tenant show a permanent problem over a transient
// one whatever order the collections end in, and the message completes (retrying cannot fix
// what only the MSP can); only transient failures redeliver it. The failing collection is named.
func TestPermanentProblemWins(t *testing.T) {
	st := testStore(t)
	denied := scenario.EndpointFault{Path: "/deviceManagement/managedDevices", Status: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."}
	down := scenario.EndpointFault{Path: "/groups/delta()", Status: 503, Code: "serviceNotAvailable", Message: "The service is temporarily unavailable.", RetryAfter: "0"}
	down2 := scenario.EndpointFault{Path: "/users/delta()", Status: 503, Code: "serviceNotAvailable", Message: "The service is temporarily unavailable.", RetryAfter: "0"}
	cases := map[string]struct {
		fail      []scenario.EndpointFault
		code      string
		prefix    []string // the message starts with one of these collections
		redeliver bool
	}{
		"permanent and transient": {[]scenario.EndpointFault{down, denied, down2}, "Authorization_RequestDenied", []string{syncer.CollDevices}, false},
		"transient only":          {[]scenario.EndpointFault{down, down2}, "serviceNotAvailable", []string{syncer.CollGroups, syncer.CollUsers}, true},
	}
	specs, ids := map[string]func(*scenario.TenantSpec){}, map[string]string{}
	for name, c := range cases {
		id := tenantID()
		ids[name] = id
		specs[id] = func(s *scenario.TenantSpec) { s.Faults = &scenario.Faults{Fail: c.fail} }
	}
	srv := worldOf(t, specs)
	e := engine(t, srv, st, nil)
	e.Retry = noWaitRetry()
	for name, c := range cases {
		id := ids[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := handle(t, e, st, id, scheduledRun)
			if res == nil || (err != nil) != c.redeliver {
				t.Fatalf("Handle: %+v %v, want redelivery %v", res, err, c.redeliver)
			}
			run, tn := onlyRun(t, st, id), tenant(t, st, id)
			if run.State != domain.SyncFailed || run.Error == nil || run.Error.Code != c.code || tn.Sync.State != domain.SyncFailed || tn.Sync.Error == nil || tn.Sync.Error.Code != c.code {
				t.Fatalf("run %s %+v tenant %s %+v, want failed with %s", run.State, run.Error, tn.Sync.State, tn.Sync.Error, c.code)
			}
			if !slices.ContainsFunc(c.prefix, func(p string) bool { return strings.HasPrefix(run.Error.Message, p+": ") }) {
				t.Errorf("message %q should name the failing collection (one of %v)", run.Error.Message, c.prefix)
			}
			if res.Problem == nil || res.Problem.Retryable != c.redeliver {
				t.Errorf("problem %+v, want retryable %v", res.Problem, c.redeliver)
			}
			for _, f := range c.fail {
				coll := map[string]string{"/deviceManagement/managedDevices": syncer.CollDevices, "/groups/delta()": syncer.CollGroups, "/users/delta()": syncer.CollUsers}[f.Path]
				if rc := run.Collections[coll]; rc.Error != f.Code || tn.Collections[coll].Available {
					t.Errorf("collection %s %+v (tenant %+v), want failed with %s", coll, rc, tn.Collections[coll], f.Code)
				}
			}
			if rc := run.Collections[syncer.CollLicenses]; rc.Error != "" || !tn.Collections[syncer.CollLicenses].Available {
				t.Errorf("licences %+v: a collection that did not fail is stored", rc)
			}
			if !tn.Sync.LastSuccessAt.IsZero() {
				t.Errorf("lastSuccessAt %v after a failed run", tn.Sync.LastSuccessAt)
			}
		})
	}
}

// The first run reads users and groups in full; the next one from the stored delta link; a link
// older than 7 days or one Graph rejects is replaced by a full round, and the run still succeeds
// with every row. Directory delta links live 7 days, after which Graph answers syncStateNotFound
// ("Duration of change tracking tokens for identity and education resources", Microsoft 365
// Developer Blog, 2020-07-03); a 410 asks for a full resync at any time
// (https://learn.microsoft.com/graph/delta-query-overview, "Synchronization reset").
func TestDeltaLinkFallback(t *testing.T) {
	st := testStore(t)
	fresh, stale, rejected := tenantID(), tenantID(), tenantID()
	srv := worldOf(t, map[string]func(*scenario.TenantSpec){
		fresh: nil, stale: nil,
		rejected: func(s *scenario.TenantSpec) { s.Faults = &scenario.Faults{ExpireDeltaTokens: true} },
	})
	cases := map[string]struct {
		id        string
		later     time.Duration // between the two runs
		wantDelta bool          // the second run used the delta link
	}{
		"fresh link":    {fresh, time.Hour, true},
		"stale link":    {stale, 7*24*time.Hour + time.Minute, false},
		"rejected link": {rejected, time.Hour, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			var offset atomic.Int64 // the engine's clock: start plus offset
			now := func() time.Time { return start.Add(time.Duration(offset.Load())) }
			e := engine(t, srv, st, nil)
			e.Now = now
			res, err := handle(t, e, st, c.id, "20261207T0100Z-scheduled")
			if err != nil || res.Run.State != domain.SyncSucceeded {
				t.Fatalf("first run: %+v %v", res, err)
			}
			for _, coll := range []string{syncer.CollUsers, syncer.CollGroups} {
				if !res.Run.Collections[coll].Full {
					t.Errorf("first run read %s by delta without a link", coll)
				}
			}
			offset.Store(int64(c.later))
			res, err = handle(t, e, st, c.id, "20261207T0200Z-scheduled")
			if err != nil || res.Run.State != domain.SyncSucceeded {
				t.Fatalf("second run: %+v %v, want succeeded", res, err)
			}
			for _, coll := range []string{syncer.CollUsers, syncer.CollGroups} {
				rc := res.Run.Collections[coll]
				if rc.Full == c.wantDelta {
					t.Errorf("second run %s full=%v, want delta %v", coll, rc.Full, c.wantDelta)
				}
			}
			if rc := res.Run.Collections[syncer.CollUsers]; rc.Count != 4 || rc.Error != "" {
				t.Errorf("users %+v, want all 4 users", rc)
			}
			if n, err := st.Count(context.Background(), store.TableUsers, c.id); err != nil || n != 4 {
				t.Errorf("%d user rows (%v), want 4", n, err)
			}
			s, err := st.GetSyncState(context.Background(), c.id, syncer.CollUsers)
			if err != nil || s.DeltaLink == "" || s.DeltaAt.Sub(now()).Abs() > time.Millisecond {
				t.Errorf("sync state %+v (%v), want a new delta link saved at the second run", s, err)
			}
		})
	}
}

// Every message the worker's rules refuse completes as a skipped run with the reason in the
// canonical tenant's partition, reads nothing from Graph, and changes the tenant row only when
// the tenant waits for exactly that run. A body that is not a sync request is an error (poison).
func TestRefusedMessagesAreSkipped(t *testing.T) {
	st := testStore(t)
	excluded := func(tn *domain.Tenant) { tn.Excluded = true }
	cases := map[string]struct {
		seed        func(*domain.Tenant) // the tenant as stored (nil: healthy, waiting for scheduledRun)
		unknown     bool                 // no tenant row at all
		upper       bool                 // the body names the tenant in upper case
		runID       string               // the body's run id ("": scheduledRun)
		code        string
		tenantState string // the tenant row afterwards
	}{
		"unknown tenant":  {unknown: true, code: "UnknownTenant"},
		"excluded":        {seed: excluded, code: "TenantExcluded", tenantState: domain.SyncSkipped},
		"not consented":   {seed: func(tn *domain.Tenant) { tn.Consent.State = domain.ConsentNone }, code: "NotConsented", tenantState: domain.SyncSkipped},
		"consent pending": {seed: func(tn *domain.Tenant) { tn.Consent.State = domain.ConsentPending }, code: "NotConsented", tenantState: domain.SyncSkipped},
		"waits for another run": {seed: func(tn *domain.Tenant) { excluded(tn); tn.Sync.LastRunID = "20261207T0300Z-scheduled" },
			code: "TenantExcluded", tenantState: domain.SyncQueued},
		"already finished": {seed: func(tn *domain.Tenant) { excluded(tn); tn.Sync.State = domain.SyncSucceeded },
			code: "TenantExcluded", tenantState: domain.SyncSucceeded},
		"upper-case id":      {upper: true, code: "NonCanonicalTenantId", tenantState: domain.SyncSkipped},
		"run id not a key":   {runID: "bad/run#id?", code: "InvalidRunId", tenantState: domain.SyncQueued},
		"run id with spaces": {runID: "2026 12 07", code: "InvalidRunId", tenantState: domain.SyncQueued},
	}
	specs, ids := map[string]func(*scenario.TenantSpec){}, map[string]string{}
	for name := range cases {
		id := tenantID()
		ids[name], specs[id] = id, nil
	}
	srv := worldOf(t, specs)
	e := engine(t, srv, st, nil)
	for name, c := range cases {
		id := ids[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if !c.unknown {
				seed(t, st, id, scheduledRun, c.seed)
			}
			sent, runID := id, c.runID
			if c.upper {
				sent = strings.ToUpper(id)
			}
			if runID == "" {
				runID = scheduledRun
			}
			res, err := e.Handle(context.Background(), body(sent, runID), syncer.Delivery{MessageID: "m\x00" + name, DeliveryCount: 2})
			if err != nil || res == nil || res.Run.State != domain.SyncSkipped || res.Problem == nil || res.Problem.Code != c.code {
				t.Fatalf("Handle: %+v %v, want skipped %s and the message completed", res, err, c.code)
			}
			if res.Run.TenantID != id || !domain.IsRunID(res.Run.RunID) || strings.ContainsRune(res.Run.MessageID, 0) {
				t.Errorf("run %q/%q message %q: want the canonical tenant, a storable run id and a printable message id", res.Run.TenantID, res.Run.RunID, res.Run.MessageID)
			}
			run := onlyRun(t, st, id)
			if run.RunID != res.Run.RunID || run.State != domain.SyncSkipped || run.Error == nil || run.Error.Code != c.code || run.Error.Remediation == "" || run.DeliveryCount != 2 {
				t.Errorf("stored run %+v (error %+v), want the skipped run with %s and its fix", run, run.Error, c.code)
			}
			tn, err := st.GetTenant(context.Background(), id)
			switch {
			case c.unknown:
				if !store.IsNotFound(err) {
					t.Errorf("tenant row %+v (%v) created for an unknown tenant", tn, err)
				}
			case err != nil || tn.Sync.State != c.tenantState:
				t.Errorf("tenant sync %+v (%v), want %s", tn.Sync, err, c.tenantState)
			case c.tenantState == domain.SyncSkipped && (tn.Sync.Error == nil || tn.Sync.Error.Code != c.code):
				t.Errorf("tenant error %+v, want %s", tn.Sync.Error, c.code)
			}
			if m := srv.Metrics.Total("graph", id); m.Requests != 0 {
				t.Errorf("Graph called %d times for a refused message", m.Requests)
			}
		})
	}
	t.Run("poison", func(t *testing.T) {
		for _, b := range []string{`not json`, `{"runId":"` + scheduledRun + `"}`} {
			res, err := e.Handle(context.Background(), []byte(b), syncer.Delivery{MessageID: "p", DeliveryCount: 1})
			if err == nil || res != nil {
				t.Errorf("Handle(%s): %+v %v, want an error (dead-lettered after the delivery limit)", b, res, err)
			}
		}
	})
}

// recordingRoles is a RoleAssigner that records what it was asked to assign and answers err.
type recordingRoles struct {
	mu     sync.Mutex
	asked  [][]string
	answer error
}

func (r *recordingRoles) Assign(_ context.Context, _ string, missing []appperms.Permission) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for _, p := range missing {
		names = append(names, p.Value)
	}
	r.asked = append(r.asked, names)
	return r.answer
}

// Consent drift is repaired through GDAP when the roles can be assigned; when the assignment fails,
// or the new token still lacks the roles, the run syncs what it may and ends partial with the
// re-consent problem naming the missing permission.
func TestDriftRepairAttempt(t *testing.T) {
	st := testStore(t)
	for name, answer := range map[string]error{"assignment fails": errors.New("403 Authorization_RequestDenied"), "assigned but not in force": nil} {
		t.Run(name, func(t *testing.T) {
			id := tenantID()
			srv := worldOf(t, map[string]func(*scenario.TenantSpec){id: func(s *scenario.TenantSpec) { s.GrantedRoles = rolesWithout("Reports.Read.All") }})
			e := engine(t, srv, st, nil)
			roles := &recordingRoles{answer: answer}
			e.Roles = roles
			res, err := handle(t, e, st, id, scheduledRun)
			if err != nil || res.Run.State != domain.SyncPartial {
				t.Fatalf("Handle: %+v %v, want partial", res, err)
			}
			if len(roles.asked) != 1 || !slices.Equal(roles.asked[0], []string{"Reports.Read.All"}) {
				t.Errorf("asked to assign %v, want [Reports.Read.All] once", roles.asked)
			}
			cs := tenant(t, st, id).Collections["permissions"]
			if cs.Code() != syncer.CodeReconsentNeeded || !strings.Contains(cs.Reason(), "Reports.Read.All") || !strings.Contains(cs.Remediation(), id) {
				t.Errorf("permissions %+v, want ReconsentNeeded naming Reports.Read.All with the tenant's consent link", cs)
			}
			if rc := res.Run.Collections[syncer.CollMailboxes]; rc.Unavailable != syncer.CodeReconsentNeeded || rc.Error != "" {
				t.Errorf("mailboxes %+v: the report Graph refused is unavailable for the missing permission", rc)
			}
		})
	}
}
