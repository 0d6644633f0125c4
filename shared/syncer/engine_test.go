package syncer_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/store"
	"github.com/tenantsync/tenantsync/shared/syncer"
)

// One Azurite for the package's engine tests (started on first use); each test has its own
// simulator world and tenant ids, so tests do not see each other's rows.
var (
	azOnce  sync.Once
	azStore *store.Store
	azErr   error
	azStop  func()
	azConn  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if azStop != nil {
		azStop()
	}
	os.Exit(code)
}

func testStore(t *testing.T) *store.Store {
	t.Helper()
	azOnce.Do(func() {
		az, err := devenv.StartAzurite(context.Background(), "", nil)
		if err != nil {
			azErr = err
			return
		}
		azStop, azConn = az.Stop, az.ConnectionString()
		if azStore, azErr = store.Open(config.Tables{ConnectionString: az.ConnectionString()}, nil); azErr == nil {
			azErr = azStore.Ensure(context.Background())
		}
	})
	if azErr != nil {
		t.Fatalf("engine tests need Azurite: %v", azErr)
	}
	return azStore
}

// tenantID is a fresh lower-case tenant GUID.
func tenantID() string { return uuid.NewString() }

// world is a scenario of small healthy tenants built from the demo's first one, each given its
// own faults.
func world(t *testing.T, faults map[string]*scenario.Faults) *sim.Server {
	t.Helper()
	specs := map[string]func(*scenario.TenantSpec){}
	for id, fl := range faults {
		specs[id] = func(s *scenario.TenantSpec) { s.Faults = fl }
	}
	return worldOf(t, specs)
}

// worldOf is world with each tenant's spec changed by its function (nil: healthy).
func worldOf(t *testing.T, specs map[string]func(*scenario.TenantSpec)) *sim.Server {
	t.Helper()
	now := time.Now()
	f := scenario.DemoFile(now)
	f.Name = "engine-test"
	base := f.Tenants[0]
	f.Tenants = nil
	for id, mod := range specs {
		spec := base
		spec.ID, spec.DisplayName, spec.Domain, spec.CustomDomain = id, "Case "+id[:8], "case"+id[:8]+".onmicrosoft.com", ""
		spec.Users, spec.Groups, spec.Devices = 4, 1, 1
		if mod != nil {
			mod(&spec)
		}
		f.Tenants = append(f.Tenants, spec)
	}
	return sim.StartTest(t, f, now)
}

func engine(t *testing.T, s *sim.Server, st *store.Store, creds identity.Credentials) *syncer.Engine {
	t.Helper()
	ep := s.Endpoints()
	if creds == nil {
		app := s.World.App()
		creds = &identity.AppCredentials{Mode: config.AuthSecret, ClientID: app.AppID, Secret: app.Secrets[0].Value, Endpoints: ep.Endpoints}
	}
	return &syncer.Engine{Store: st, Credentials: creds, Endpoints: ep.Endpoints}
}

// seed writes a consented tenant waiting for runID, as the fan-out leaves it.
func seed(t *testing.T, st *store.Store, id, runID string, mod func(*domain.Tenant)) {
	t.Helper()
	tn := domain.Tenant{TenantID: id, DisplayName: "Case", Consent: domain.Consent{State: domain.ConsentConsented}, Sync: domain.SyncStatus{State: domain.SyncQueued, LastRunID: runID}}
	if mod != nil {
		mod(&tn)
	}
	if err := st.UpsertTenant(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
}

func body(id, runID string) []byte {
	return fmt.Appendf(nil, `{"tenantId":%q,"runId":%q,"reason":"scheduled","queuedAt":"2026-12-07T01:00:00Z"}`, id, runID)
}

func onlyRun(t *testing.T, st *store.Store, id string) domain.Run {
	t.Helper()
	runs, err := st.ListRuns(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("runs %+v, want exactly one", runs)
	}
	return runs[0]
}

func ptr(s string) *string { return &s }

// A failed $batch item (/organization, /subscribedSkus, /admin/reportSettings), whatever its
// status and whether Graph's error body carries code and message, is classified like any other
// Graph error: the run ends with the status's code and the message (or one naming the status),
// the tenant shows it, transient answers redeliver the message and permanent ones complete it.
// Runs the real msgraph-sdk-go against the simulator's $batch and the store against Azurite.
func TestBatchItemErrorsAreClassified(t *testing.T) {
	st := testStore(t)
	type status struct {
		status        int
		code, message string
		// want: the run's code with and without Graph's code in the body, and whether each is
		// transient (message redelivered).
		wantCode, wantBareCode   string
		retryable, bareRetryable bool
	}
	statuses := []status{
		{403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", "Authorization_RequestDenied", "Forbidden", false, false},
		{404, "Request_ResourceNotFound", "Resource 'x' does not exist or one of its queried reference-property objects are not present.", "Request_ResourceNotFound", "HTTP404", true, false},
		{429, "TooManyRequests", "Too many requests. Please retry after 0.01 seconds.", "TooManyRequests", "TooManyRequests", true, true},
		{500, "generalException", "General exception while processing.", "generalException", "ServiceUnavailable", true, true},
		{503, "serviceNotAvailable", "The service is temporarily unavailable. Please retry after a delay.", "serviceNotAvailable", "ServiceUnavailable", true, true},
	}
	type variant struct {
		name      string
		code, msg bool
		noBody    bool
	}
	variants := []variant{{"code and message", true, true, false}, {"code only", true, false, false}, {"message only", false, true, false},
		{"neither", false, false, false}, {"no body", false, false, true}}
	paths := []string{"/organization", "/subscribedSkus", "/admin/reportSettings"}

	type tc struct {
		path string
		s    status
		v    variant
	}
	cases := map[string]tc{}
	faults := map[string]*scenario.Faults{}
	for _, p := range paths {
		for _, s := range statuses {
			for _, v := range variants {
				id := tenantID()
				ef := scenario.EndpointFault{Path: p, Status: s.status, NoBody: v.noBody, RetryAfter: "0.01"}
				if v.code {
					ef.Code = s.code
				}
				if v.msg {
					ef.Message = s.message
				}
				cases[id] = tc{p, s, v}
				faults[id] = &scenario.Faults{Fail: []scenario.EndpointFault{ef}}
			}
		}
	}
	srv := world(t, faults)
	e := engine(t, srv, st, nil)
	for id, c := range cases {
		t.Run(fmt.Sprintf("%s/%d/%s", c.path, c.s.status, c.v.name), func(t *testing.T) {
			t.Parallel()
			runID := "20261207T0100Z-scheduled"
			seed(t, st, id, runID, nil)
			res, err := e.Handle(context.Background(), body(id, runID), syncer.Delivery{MessageID: id + ":x", DeliveryCount: 1})
			if res == nil {
				t.Fatalf("no result (err %v)", err)
			}
			if m := srv.Metrics.Total("graph", id); m.Errors+m.Throttled == 0 {
				t.Fatalf("the simulator served no error for %s: %+v", c.path, m)
			}
			run := onlyRun(t, st, id)
			tn, gerr := st.GetTenant(context.Background(), id)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if c.path == "/admin/reportSettings" {
				// Not needed to sync: mailboxes decide concealment from the report itself.
				if err != nil || run.State == domain.SyncFailed || run.State == domain.SyncRunning || tn.Sync.State != run.State {
					t.Fatalf("run %+v tenant %+v err %v: want the tenant synced without the report settings", run, tn.Sync, err)
				}
				return
			}
			wantCode, retryable := c.s.wantCode, c.s.retryable
			if !c.v.code {
				wantCode, retryable = c.s.wantBareCode, c.s.bareRetryable
			}
			if run.State != domain.SyncFailed || run.Error == nil || run.Error.Code != wantCode || run.Error.Remediation == "" {
				t.Fatalf("run %+v error %+v, want failed with %s and a remediation", run, run.Error, wantCode)
			}
			if c.v.msg && !strings.Contains(run.Error.Message, c.s.message) {
				t.Errorf("message %q lacks Graph's %q", run.Error.Message, c.s.message)
			}
			if !c.v.msg && !strings.Contains(run.Error.Message, fmt.Sprintf("HTTP %d", c.s.status)) {
				t.Errorf("message %q should name the status that came without a message", run.Error.Message)
			}
			if (err != nil) != retryable {
				t.Errorf("Handle error %v, want redelivery %v", err, retryable)
			}
			if tn.Sync.State != domain.SyncFailed || tn.Sync.Error == nil || tn.Sync.Error.Code != wantCode || tn.Sync.LastRunID != runID {
				t.Errorf("tenant sync %+v, want failed with %s", tn.Sync, wantCode)
			}
			if c.path == "/subscribedSkus" {
				// The rest of the tenant still synced.
				if u, err := st.Count(context.Background(), store.TableUsers, id); err != nil || u == 0 {
					t.Errorf("users stored %d (%v): a licence failure must not stop the other collections", u, err)
				}
			}
		})
	}
}

// panicky is a credential that works once (the overview batch) and panics on every later token
// request, which each collection makes on its own goroutine, or at once when first is false.
type panicky struct {
	inner azcore.TokenCredential
	first bool
	calls atomic.Int32
}

func (p *panicky) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if p.first && p.calls.Add(1) == 1 {
		return p.inner.GetToken(ctx, o)
	}
	var m map[string]*string
	return azcore.AccessToken{Token: *m["token"]}, nil
}

type panickyCreds struct {
	inner identity.Credentials
	first bool
}

func (c panickyCreds) For(id string) (azcore.TokenCredential, error) {
	cred, err := c.inner.For(id)
	return &panicky{inner: cred, first: c.first}, err
}

// A panic while a tenant syncs, on the worker's goroutine or on a collection's, ends the run
// failed with InternalError on the run and the tenant (never running), without the stack, and
// completes the message; the process lives on.
func TestPanicEndsTheRunFailed(t *testing.T) {
	st := testStore(t)
	for _, first := range []bool{false, true} {
		name := map[bool]string{false: "worker goroutine", true: "collection goroutines"}[first]
		t.Run(name, func(t *testing.T) {
			id := tenantID()
			srv := world(t, map[string]*scenario.Faults{id: nil})
			app := srv.World.App()
			real := &identity.AppCredentials{Mode: config.AuthSecret, ClientID: app.AppID, Secret: app.Secrets[0].Value, Endpoints: srv.Endpoints().Endpoints}
			e := engine(t, srv, st, panickyCreds{inner: real, first: first})
			runID := "20261207T0100Z-scheduled"
			seed(t, st, id, runID, nil)
			res, err := e.Handle(context.Background(), body(id, runID), syncer.Delivery{MessageID: "m", DeliveryCount: 1})
			if err != nil || res == nil {
				t.Fatalf("Handle: %v %v, want the message completed", res, err)
			}
			run := onlyRun(t, st, id)
			if run.State != domain.SyncFailed || run.Error == nil || run.Error.Code != "InternalError" || run.FinishedAt.IsZero() {
				t.Fatalf("run %+v error %+v, want failed InternalError", run, run.Error)
			}
			if strings.Contains(run.Error.Message, "goroutine") || strings.Contains(run.Error.Message, ".go:") {
				t.Errorf("the stack reached the run row: %q", run.Error.Message)
			}
			tn, err := st.GetTenant(context.Background(), id)
			if err != nil || tn.Sync.State != domain.SyncFailed || tn.Sync.Error == nil || tn.Sync.Error.Code != "InternalError" {
				t.Errorf("tenant sync %+v (%v), want failed InternalError", tn.Sync, err)
			}
		})
	}
}

// A tenant waiting for a run (queued by "sync now") that is excluded before the worker gets the
// message shows that run skipped with the reason, not queued forever; no data is read or written.
func TestSkippedRunShowsOnTheWaitingTenant(t *testing.T) {
	st := testStore(t)
	id := tenantID()
	srv := world(t, map[string]*scenario.Faults{id: nil})
	e := engine(t, srv, st, nil)
	runID := "20261207T010203Z-manual-0a1b2c3d"
	seed(t, st, id, runID, func(tn *domain.Tenant) { tn.Excluded = true })
	res, err := e.Handle(context.Background(), body(id, runID), syncer.Delivery{MessageID: id + ":" + runID, DeliveryCount: 1})
	if err != nil || res == nil || res.Run.State != domain.SyncSkipped {
		t.Fatalf("Handle: %+v %v, want a skipped run and the message completed", res, err)
	}
	tn, err := st.GetTenant(context.Background(), id)
	if err != nil || tn.Sync.State != domain.SyncSkipped || tn.Sync.LastRunID != runID || tn.Sync.Error == nil || tn.Sync.Error.Code != "TenantExcluded" {
		t.Errorf("tenant sync %+v (%v), want skipped TenantExcluded", tn.Sync, err)
	}
	if m := srv.Metrics.Total("graph", id); m.Requests != 0 {
		t.Errorf("Graph was called %d times for a skipped message", m.Requests)
	}
	if n, err := st.Count(context.Background(), store.TableUsers, id); err != nil || n != 0 {
		t.Errorf("%d user rows (%v), want none", n, err)
	}
}
