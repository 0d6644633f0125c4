package sim_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/applications"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// Graph contract tests: the simulator's Graph face through the unmodified msgraph-sdk-go,
// msgraph-sdk-go-core and kiota, with tokens from the simulated Entra ID. Two simulators serve
// every case (starting one costs about a second): a contract world (big, throttled, expiring and
// onboarding tenants; the app also holds the onboarding permissions) and the demo scenario (one
// tenant per failure mode).

// TestGraphSDKContract runs the cases needing the contract world, in an order that keeps the
// world's Step (delta) from mattering to the others.
func TestGraphSDKContract(t *testing.T) {
	s := gcWorld(t)
	t.Run("PageIteratorThrottled", func(t *testing.T) { gcPageIteratorThrottled(t, s) })
	t.Run("Batch", func(t *testing.T) { gcBatch(t, s) })
	t.Run("GDAP", func(t *testing.T) { gcGDAP(t, s) })
	t.Run("AppRegistration", func(t *testing.T) { gcAppRegistration(t, s) })
	t.Run("DeltaRoundTrip", func(t *testing.T) { gcDeltaRoundTrip(t, s) })
}

// TestGraphDemoFailureModes runs the demo scenario's failure modes through the SDK.
func TestGraphDemoFailureModes(t *testing.T) {
	s := startSim(t)
	t.Run("TypedErrors", func(t *testing.T) { gcTypedErrors(t, s) })
	t.Run("MailboxReport", func(t *testing.T) { gcMailboxReport(t, s) })
	t.Run("SendMail", func(t *testing.T) { gcSendMail(t, s) })
}

// Tenants of the contract world (gcWorld); the demo scenario covers the named failure modes.
const (
	gcBigA    = "0b1a5e7c-6d2f-4c1e-9a3b-5d7e8f901a01" // 2,500 users, every 2nd Graph request 429 (Retry-After 0.5)
	gcBigB    = "0b1a5e7c-6d2f-4c1e-9a3b-5d7e8f901a02" // the same, for kiota's own RetryHandler
	gcDelta   = "0b1a5e7c-6d2f-4c1e-9a3b-5d7e8f901a03" // 300 users, healthy
	gcExpired = "0b1a5e7c-6d2f-4c1e-9a3b-5d7e8f901a04" // every delta token expired
	gcConsent = "0b1a5e7c-6d2f-4c1e-9a3b-5d7e8f901a05" // consent target of the app-registration round trip
)

// gcRoles: the sync permissions plus what onboarding (GDAP discovery, app registration, consent)
// and the concealment fix need.
var gcRoles = append(append([]string(nil), scenario.SyncGraphPermissions...),
	"DelegatedAdminRelationship.Read.All", "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All")

func gcWorld(t *testing.T) *sim.Server {
	t.Helper()
	now := time.Now()
	demo := scenario.DemoFile(now)
	app := *demo.App
	app.Roles = gcRoles
	sku := scenario.SkuSpec{SkuID: scenario.SkuSPE_E3, SkuPartNumber: "SPE_E3", Prepaid: 3000, AssignEvery: 1}
	gdap := []scenario.RelationshipSpec{{Status: "active", Roles: []string{scenario.RoleGlobalReader, scenario.RoleUserAdmin}, EndInDays: 400, AutoExtend: true}}
	tenant := func(id, name string, users int) scenario.TenantSpec {
		return scenario.TenantSpec{ID: id, DisplayName: name, Domain: strings.ToLower(strings.ReplaceAll(name, " ", "")) + ".onmicrosoft.com",
			Users: users, Groups: 6, Devices: 10, Skus: []scenario.SkuSpec{sku}, GDAP: gdap, CSP: true, Consented: true, Premium: true, Intune: true}
	}
	f := scenario.File{Name: "graph-contract", Seed: 7, Partner: demo.Partner, App: &app,
		Tenants: []scenario.TenantSpec{
			tenant(gcBigA, "Big A", 2500), tenant(gcBigB, "Big B", 2500), tenant(gcDelta, "Delta Co", 300),
			tenant(gcExpired, "Expired Co", 20), tenant(gcConsent, "Consent Co", 30),
		}}
	f.Tenants[0].Faults = &scenario.Faults{ThrottleEvery: 2, RetryAfter: "0.5"}
	f.Tenants[1].Faults = &scenario.Faults{ThrottleEvery: 2, RetryAfter: "0.5"}
	f.Tenants[3].Faults = &scenario.Faults{ExpireDeltaTokens: true}
	f.Tenants[4].GDAP = nil
	w, err := scenario.New(f, now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Start(sim.Options{World: w, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func gcCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// gcODataError asserts err is an ODataError with status and code.
func gcODataError(t *testing.T, err error, status int, code string) *odataerrors.ODataError {
	t.Helper()
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		t.Fatalf("want ODataError %d %s, got %T %v", status, code, err, err)
	}
	got := ""
	if m := oe.GetErrorEscaped(); m != nil && m.GetCode() != nil {
		got = *m.GetCode()
	}
	if oe.GetStatusCode() != status || got != code {
		msg := ""
		if m := oe.GetErrorEscaped(); m != nil && m.GetMessage() != nil {
			msg = *m.GetMessage()
		}
		t.Fatalf("ODataError %d %s (%s), want %d %s", oe.GetStatusCode(), got, msg, status, code)
	}
	if in := oe.GetErrorEscaped().GetInnerError(); in == nil || in.GetRequestId() == nil || *in.GetRequestId() == "" || in.GetDate() == nil {
		t.Errorf("innerError without request-id/date: %+v", in)
	}
	return oe
}

func gcLiveUserIDs(s *sim.Server, tenantID string) []string {
	t, _ := s.World.Tenant(tenantID)
	var ids []string
	for i := 0; i < t.UserSlots(); i++ {
		if u, ok := t.User(i); ok {
			ids = append(ids, u.ID)
		}
	}
	return ids
}

// gcWire records every HTTP exchange below the retry middleware: what actually went over the wire.
type gcWire struct {
	mu  sync.Mutex
	log []gcHop
}

type gcHop struct {
	start, end time.Time
	status     int
}

func (w *gcWire) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := p.Next(req, i)
	h := gcHop{start: start, end: time.Now()}
	if resp != nil {
		h.status = resp.StatusCode
	}
	w.mu.Lock()
	w.log = append(w.log, h)
	w.mu.Unlock()
	return resp, err
}

// retryGaps are the pauses between each 429 and the request after it.
func (w *gcWire) retryGaps() (gaps []time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, h := range w.log[:max(len(w.log)-1, 0)] {
		if h.status == http.StatusTooManyRequests {
			gaps = append(gaps, w.log[i+1].start.Sub(h.end))
		}
	}
	return gaps
}

// gcSeen records, under the redirect handler, each request's URL and whether it carried a token.
type gcSeen struct {
	mu   sync.Mutex
	reqs []string // "host path auth=true|false"
}

func (w *gcSeen) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.reqs = append(w.reqs, req.URL.Host+" "+req.URL.Path+" auth="+strconv.FormatBool(req.Header.Get("Authorization") != ""))
	w.mu.Unlock()
	return p.Next(req, i)
}

// gcClient is graphclient.New's pipeline with the wire recorder under the retry handler and seen
// (if any) under the redirect handler; kiotaRetry keeps kiota's own RetryHandler instead of the
// project's.
func gcClient(t *testing.T, s *sim.Server, tenantID string, kiotaRetry bool, wire *gcWire, seen *gcSeen) (*msgraphsdk.GraphServiceClient, *msgraphsdk.GraphRequestAdapter) {
	t.Helper()
	ep := s.Endpoints().Endpoints
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(secretCredential(t, s, tenantID), []string{cloud.GraphScope}, []string{ep.GraphHost()})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := ep.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tc
	var mws []khttp.Middleware
	for _, m := range msgraphgocore.GetDefaultMiddlewaresWithOptions(&msgraphgocore.GraphClientOptions{GraphServiceVersion: "v1.0"}) {
		if _, ok := m.(*khttp.RetryHandler); ok {
			if !kiotaRetry {
				m = &graphclient.RetryHandler{}
			}
			mws = append(mws, m, wire)
			continue
		}
		mws = append(mws, m)
		if _, ok := m.(*khttp.RedirectHandler); ok && seen != nil {
			mws = append(mws, seen)
		}
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil,
		&http.Client{Transport: khttp.NewCustomTransportWithParentTransport(base, mws...)})
	if err != nil {
		t.Fatal(err)
	}
	adapter.SetBaseUrl(ep.GraphURL)
	return msgraphsdk.NewGraphServiceClient(adapter), adapter
}

// gcPageIteratorThrottled pages a 2,500-user tenant at $top=999 with $select while every
// second Graph request is throttled with Retry-After: 0.5, once with the project's retry
// middleware and once with kiota's own, and records what each does with the fractional value.
func gcPageIteratorThrottled(t *testing.T, s *sim.Server) {
	for _, tc := range []struct {
		name   string
		tenant string
		kiota  bool
	}{{"project RetryHandler", gcBigA, false}, {"kiota RetryHandler", gcBigB, true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := gcCtx(t)
			wire := &gcWire{}
			client, adapter := gcClient(t, s, tc.tenant, tc.kiota, wire, nil)
			top := int32(999)
			page, err := client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
				QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: &top, Select: []string{"id", "displayName", "userPrincipalName"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			it, err := msgraphgocore.NewPageIterator[models.Userable](page, adapter, models.CreateUserCollectionResponseFromDiscriminatorValue)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			if err := it.Iterate(ctx, func(u models.Userable) bool {
				ids = append(ids, *u.GetId())
				if u.GetMail() != nil || u.GetDisplayName() == nil {
					t.Errorf("$select not honoured: %v", u.GetMail())
				}
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if want := gcLiveUserIDs(s, tc.tenant); !slices.Equal(ids, want) {
				t.Fatalf("%d users, want the scenario's %d in order", len(ids), len(want))
			}
			gaps := wire.retryGaps()
			if c := s.Metrics.Total("graph", tc.tenant); c.Throttled == 0 || len(gaps) == 0 || int(c.Throttled) != len(gaps) {
				t.Fatalf("no 429 survived mid-iteration: metrics %+v, gaps %v", c, gaps)
			}
			for _, g := range gaps {
				// kiota computes time.Duration(0.5) * time.Second = 0: it retries at once. The
				// project's handler waits the half second Graph asked for.
				if tc.kiota && g >= 400*time.Millisecond {
					t.Errorf("kiota waited %v after Retry-After 0.5 (expected the truncation to 0)", g)
				}
				if !tc.kiota && g < 500*time.Millisecond {
					t.Errorf("project RetryHandler waited only %v after Retry-After 0.5", g)
				}
			}
			t.Logf("%s: %d users, %d pages on the wire, waits after 429: %v", tc.name, len(ids), len(wire.log), gaps)
		})
	}
}

// TestGraphDeltaRoundTrip: full users delta through the SDK, World.Step, the deltaLink gives
// exactly the added, changed and removed users; an expired token is the resync ODataError.
func gcDeltaRoundTrip(t *testing.T, s *sim.Server) {
	ctx := gcCtx(t)
	client, adapter := graphFor(t, s, gcDelta)
	collect := func(resp users.DeltaGetResponseable) (items []models.Userable, deltaLink string) {
		t.Helper()
		it, err := msgraphgocore.NewPageIterator[models.Userable](resp, adapter, users.CreateDeltaGetResponseFromDiscriminatorValue)
		if err != nil {
			t.Fatal(err)
		}
		if err := it.Iterate(ctx, func(u models.Userable) bool { items = append(items, u); return true }); err != nil {
			t.Fatal(err)
		}
		if dl := it.GetOdataDeltaLink(); dl != nil {
			deltaLink = *dl
		}
		return items, deltaLink
	}
	first, err := client.Users().Delta().GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: []string{"displayName", "jobTitle", "department", "assignedLicenses"}},
		Headers:         gcPrefer(100),
	})
	if err != nil {
		t.Fatal(err)
	}
	full, deltaLink := collect(first)
	var ids []string
	for _, u := range full {
		ids = append(ids, *u.GetId())
	}
	if want := gcLiveUserIDs(s, gcDelta); !slices.Equal(ids, want) || deltaLink == "" {
		t.Fatalf("full delta: %d users (deltaLink %q), want %d", len(ids), deltaLink, len(want))
	}

	s.World.Step()
	ten, _ := s.World.Tenant(gcDelta)
	changes := ten.UserChanges(0)
	resp, err := client.Users().Delta().WithUrl(deltaLink).GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, next := collect(resp)
	if len(got) != len(changes) || next == "" {
		t.Fatalf("incremental: %d users, want %d changes", len(got), len(changes))
	}
	var added, changed, removed int
	for k, u := range got {
		su, live := ten.User(changes[k].Index)
		if *u.GetId() != su.ID {
			t.Fatalf("change %d: id %s, want %s", k, *u.GetId(), su.ID)
		}
		rm, isRemoved := u.GetAdditionalData()["@removed"]
		switch {
		case changes[k].Removed:
			removed++
			if !isRemoved || live {
				t.Errorf("removed user %s: @removed %v", su.ID, rm)
			} else if reason := rm.(map[string]any)["reason"]; reason == nil || *(reason.(*string)) != "deleted" {
				t.Errorf("@removed %v", rm)
			}
		default:
			if isRemoved || *u.GetDisplayName() != su.DisplayName || gcStr(u.GetJobTitle()) != su.JobTitle || gcStr(u.GetDepartment()) != su.Department ||
				len(u.GetAssignedLicenses()) != len(su.AssignedSkuIDs) {
				t.Errorf("changed user %s: %s/%s/%s, want %s/%s/%s", su.ID, *u.GetDisplayName(), gcStr(u.GetJobTitle()), gcStr(u.GetDepartment()),
					su.DisplayName, su.JobTitle, su.Department)
			}
			if slices.Contains(ids, su.ID) {
				changed++
			} else {
				added++
			}
		}
	}
	if added == 0 || changed == 0 || removed == 0 {
		t.Errorf("step should add, change and remove users: %d/%d/%d", added, changed, removed)
	}

	// A tenant whose delta tokens expire: the deltaLink answers 400 syncStateNotFound.
	ec, eadapter := graphFor(t, s, gcExpired)
	first, err = ec.Users().Delta().GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	it, _ := msgraphgocore.NewPageIterator[models.Userable](first, eadapter, users.CreateDeltaGetResponseFromDiscriminatorValue)
	if err := it.Iterate(ctx, func(models.Userable) bool { return true }); err != nil {
		t.Fatal(err)
	}
	_, err = ec.Users().Delta().WithUrl(*it.GetOdataDeltaLink()).GetAsDeltaGetResponse(ctx, nil)
	oe := gcODataError(t, err, 400, "syncStateNotFound")
	if msg := *oe.GetErrorEscaped().GetMessage(); !strings.Contains(msg, "synchronized again") {
		t.Errorf("message %q", msg)
	}
}

func gcStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func gcPrefer(n int) *abstractions.RequestHeaders {
	h := abstractions.NewRequestHeaders()
	h.Add("Prefer", "odata.maxpagesize="+strconv.Itoa(n))
	return h
}

func gcUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	u, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// gcClaims are app-only Graph claims for tenantID, minted directly (for a tenant Entra would
// refuse to issue for).
func gcClaims(tenantID string) token.Claims {
	return token.Claims{TenantID: tenantID, AppID: scenario.DemoAppID, AZP: scenario.DemoAppID, IDType: "app",
		Roles: []string{"Organization.Read.All"}, RegisteredClaims: jwt.RegisteredClaims{Audience: jwt.ClaimStrings{scenario.GraphAudience}}}
}

// gcBatch sends /organization, /subscribedSkus and /admin/reportSettings in one $batch
// through msgraph-sdk-go-core.
func gcBatch(t *testing.T, s *sim.Server) {
	ctx := gcCtx(t)
	client, adapter := graphFor(t, s, gcDelta)
	batch := msgraphgocore.NewBatchRequest(adapter)
	step := func(ri *abstractions.RequestInformation, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		item, err := batch.AddBatchRequestStep(*ri)
		if err != nil {
			t.Fatal(err)
		}
		return *item.GetId()
	}
	orgID := step(client.Organization().ToGetRequestInformation(ctx, nil))
	skuID := step(client.SubscribedSkus().ToGetRequestInformation(ctx, nil))
	settingsID := step(client.Admin().ReportSettings().ToGetRequestInformation(ctx, nil))
	before := s.Metrics.Total("graph", gcDelta).Requests
	resp, err := batch.Send(ctx, adapter)
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.GetStatusCodes(); len(st) != 3 || st[orgID] != 200 || st[skuID] != 200 || st[settingsID] != 200 {
		t.Fatalf("statuses %v", st)
	}
	org, err := msgraphgocore.GetBatchResponseById[models.OrganizationCollectionResponseable](resp, orgID, models.CreateOrganizationCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	if v := org.GetValue(); len(v) != 1 || *v[0].GetDisplayName() != "Delta Co" || len(v[0].GetVerifiedDomains()) == 0 {
		t.Errorf("organization %v", v)
	}
	skus, err := msgraphgocore.GetBatchResponseById[models.SubscribedSkuCollectionResponseable](resp, skuID, models.CreateSubscribedSkuCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	ten, _ := s.World.Tenant(gcDelta)
	if v := skus.GetValue(); len(v) != 1 || int(*v[0].GetConsumedUnits()) != ten.Consumed(scenario.SkuSPE_E3) || *v[0].GetPrepaidUnits().GetEnabled() != 3000 {
		t.Errorf("subscribedSkus %v", v)
	}
	settings, err := msgraphgocore.GetBatchResponseById[models.AdminReportSettingsable](resp, settingsID, models.CreateAdminReportSettingsFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	if settings.GetDisplayConcealedNames() == nil || *settings.GetDisplayConcealedNames() {
		t.Errorf("reportSettings %v", settings.GetDisplayConcealedNames())
	}
	if n := s.Metrics.Total("graph", gcDelta).Requests - before; n != 4 {
		t.Errorf("metrics: the batch and its 3 items, got %d requests", n)
	}
}

// gcStaticCred hands out a fixed (bad) token.
type gcStaticCred string

func (c gcStaticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestGraphTypedErrors: each failure mode of the demo scenario surfaces as the typed ODataError
// the product classifies, while a healthy tenant answers the same calls.
func gcTypedErrors(t *testing.T, s *sim.Server) {
	ctx := gcCtx(t)
	healthy, _ := graphFor(t, s, scenario.DemoContosoDental)
	signIn := &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id", "signInActivity"}}}

	t.Run("Authorization_RequestDenied", func(t *testing.T) {
		// The demo app holds no Application.ReadWrite.All (the sync never needs it), so it cannot
		// register applications.
		app := models.NewApplication()
		name := "not allowed"
		app.SetDisplayName(&name)
		_, err := healthy.Applications().Post(ctx, app, nil)
		gcODataError(t, err, 403, "Authorization_RequestDenied")
	})
	t.Run("InvalidAuthenticationToken", func(t *testing.T) {
		c, _, err := graphclient.New(gcStaticCred("not-a-token"), s.Endpoints().Endpoints)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Organization().Get(ctx, nil)
		gcODataError(t, err, 401, "InvalidAuthenticationToken")
	})
	t.Run("Authentication_RequestFromNonPremiumTenantOrB2CTenant", func(t *testing.T) {
		fab, _ := graphFor(t, s, scenario.DemoFabrikamLegal)
		_, err := fab.Users().Get(ctx, signIn)
		oe := gcODataError(t, err, 403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant")
		if *oe.GetErrorEscaped().GetMessage() != "Neither tenant is B2C or tenant doesn't have premium license" {
			t.Errorf("message %q", *oe.GetErrorEscaped().GetMessage())
		}
		page, err := healthy.Users().Get(ctx, signIn)
		if err != nil || len(page.GetValue()) == 0 || page.GetValue()[0].GetSignInActivity() == nil {
			t.Fatalf("premium tenant: %v", err)
		}
	})
	t.Run("Intune403", func(t *testing.T) {
		nw, _ := graphFor(t, s, scenario.DemoNorthwindTraders)
		_, err := nw.DeviceManagement().ManagedDevices().Get(ctx, nil)
		oe := gcODataError(t, err, 403, "UnknownError")
		if !strings.Contains(*oe.GetErrorEscaped().GetMessage(), `"ErrorCode":"Forbidden"`) {
			t.Errorf("message %q", *oe.GetErrorEscaped().GetMessage())
		}
		devs, err := healthy.DeviceManagement().ManagedDevices().Get(ctx, nil)
		ten, _ := s.World.Tenant(scenario.DemoContosoDental)
		if err != nil || len(devs.GetValue()) != ten.DeviceCount() {
			t.Fatalf("Intune tenant: %v", err)
		}
		for i, d := range devs.GetValue() {
			if dev := ten.Device(i); gcStr(d.GetUserPrincipalName()) != dev.UserPrincipalName || gcStr(d.GetUserId()) != dev.UserID {
				t.Errorf("device %d user link %s/%s, want %s/%s", i, gcStr(d.GetUserPrincipalName()), gcStr(d.GetUserId()), dev.UserPrincipalName, dev.UserID)
			}
		}
	})
	t.Run("DeletedTenantToken", func(t *testing.T) {
		tok, err := s.Issuer.Sign(gcClaims(scenario.DemoBlueYonderAirlines), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := graphclient.New(gcStaticCred(tok), s.Endpoints().Endpoints)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Organization().Get(ctx, nil)
		gcODataError(t, err, 401, "InvalidAuthenticationToken")
	})
}

// TestGraphMailboxReport: the SDK follows the report's 302 to the pre-authenticated CSV; names
// are concealed for Tailspin Toys and real elsewhere; a raw client without a token gets the same.
func gcMailboxReport(t *testing.T, s *sim.Server) {
	ctx := gcCtx(t)
	period := "D7"
	hex32 := regexp.MustCompile(`^[0-9A-F]{32}$`)
	for _, tc := range []struct {
		tenant    string
		concealed bool
	}{{scenario.DemoTailspinToys, true}, {scenario.DemoContosoDental, false}} {
		seen := &gcSeen{}
		c, _ := gcClient(t, s, tc.tenant, false, &gcWire{}, seen)
		body, err := c.Reports().GetMailboxUsageDetailWithPeriod(&period).Get(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		// kiota's RedirectHandler followed the 302 to the download host and dropped the token
		// there, as it does on the way from graph.microsoft.com to reports.office.com.
		if len(seen.reqs) != 2 || !strings.HasSuffix(seen.reqs[0], "auth=true") || !strings.Contains(seen.reqs[1], "/_reports/") ||
			!strings.HasSuffix(seen.reqs[1], "auth=false") || strings.Fields(seen.reqs[0])[0] == strings.Fields(seen.reqs[1])[0] {
			t.Errorf("redirect hops %v", seen.reqs)
		}
		if !bytes.HasPrefix(body, []byte("\ufeff")) {
			t.Fatalf("no UTF-8 BOM: %q", body[:min(len(body), 16)])
		}
		rows, err := csv.NewReader(bytes.NewReader(body[3:])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if rows[0][0] != "Report Refresh Date" || rows[0][1] != "User Principal Name" || rows[0][2] != "Display Name" || rows[0][len(rows[0])-1] != "Report Period" {
			t.Fatalf("header %v", rows[0])
		}
		ten, _ := s.World.Tenant(tc.tenant)
		var mailboxes []string
		for i := 0; i < ten.UserSlots(); i++ {
			if u, ok := ten.User(i); ok && u.HasMailbox {
				mailboxes = append(mailboxes, u.ReportUPN) // the UPN, or "(Unknown)" where the scenario says so
			}
		}
		if len(rows)-1 != len(mailboxes) || len(mailboxes) == 0 {
			t.Fatalf("%s: %d rows, %d mailboxes", ten.DisplayName, len(rows)-1, len(mailboxes))
		}
		for k, row := range rows[1:] {
			if tc.concealed != (hex32.MatchString(row[1]) && hex32.MatchString(row[2])) {
				t.Fatalf("%s row %v (concealed %v)", ten.DisplayName, row, tc.concealed)
			}
			if !tc.concealed && row[1] != mailboxes[k] {
				t.Errorf("row %d UPN %s, want %s", k, row[1], mailboxes[k])
			}
		}
	}

	// The 302 itself, and the download without any Authorization header.
	cred := secretCredential(t, s, scenario.DemoTailspinToys)
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cloud.GraphScope}})
	if err != nil {
		t.Fatal(err)
	}
	hc := httpClient(t, s)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoints().GraphURL+"/reports/getMailboxUsageDetail(period='D7')", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc == "" {
		t.Fatalf("report: %d %q", resp.StatusCode, loc)
	}
	dl, err := httpClient(t, s).Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(dl.Body)
	dl.Body.Close()
	if dl.StatusCode != 200 || !bytes.HasPrefix(b, []byte("\ufeffReport Refresh Date,")) {
		t.Fatalf("download %d %q", dl.StatusCode, b[:min(len(b), 40)])
	}
	if forged, err := httpClient(t, s).Get(loc + "x"); err != nil || forged.StatusCode != http.StatusForbidden {
		t.Fatalf("forged URL: %v %v", err, forged)
	}
}

// gcSendMail sends a mail as the partner's service account with an app holding the Mail.Send
// application permission: the endpoint's contract with msgraph-sdk-go. tenantsync's own app does
// not hold it (it sends with the service account's delegated token), so it is granted here.
func gcSendMail(t *testing.T, s *sim.Server) {
	ctx := gcCtx(t)
	if err := s.Directory.GrantRoles(s.World.Partner().TenantID, scenario.DemoAppID, "Mail.Send"); err != nil {
		t.Fatal(err)
	}
	c, _ := graphFor(t, s, s.World.Partner().TenantID)
	msg := models.NewMessage()
	subject := "Approve tenantsync for Adventure Works"
	msg.SetSubject(&subject)
	body := models.NewItemBody()
	html := models.HTML_BODYTYPE
	content := `<p>Hello,</p><p><a href="https://login.example/adminconsent?client_id=x">Grant access</a></p>`
	body.SetContentType(&html)
	body.SetContent(&content)
	msg.SetBody(body)
	to := models.NewRecipient()
	addr := models.NewEmailAddress()
	admin := "admin@adventureworks.example"
	addr.SetAddress(&admin)
	to.SetEmailAddress(addr)
	msg.SetToRecipients([]models.Recipientable{to})
	req := users.NewItemSendMailPostRequestBody()
	req.SetMessage(msg)
	save := false
	req.SetSaveToSentItems(&save)
	if err := c.Users().ByUserId(scenario.DemoServiceAccountUPN).SendMail().Post(ctx, req, nil); err != nil {
		t.Fatal(err)
	}
	out := s.Graph.Outbox()
	if len(out) != 1 || out[0].From != scenario.DemoServiceAccountUPN || !slices.Equal(out[0].To, []string{admin}) || out[0].Subject != subject ||
		out[0].HTML != content || !strings.Contains(out[0].Text, "Grant access (https://login.example/adminconsent?client_id=x)") {
		t.Fatalf("outbox %+v", out)
	}
	// A recipient that is not an address is Exchange's ErrorInvalidRecipients.
	bad := "not an address"
	addr.SetAddress(&bad)
	err := c.Users().ByUserId(scenario.DemoServiceAccountUPN).SendMail().Post(ctx, req, nil)
	gcODataError(t, err, 400, "ErrorInvalidRecipients")
	if len(s.Graph.Outbox()) != 1 {
		t.Error("rejected mail in the outbox")
	}
}

// gcGDAP lists the partner's delegated admin relationships with an app token in the
// partner tenant.
func gcGDAP(t *testing.T, s *sim.Server) {
	ctx := gcCtx(t)
	c, adapter := graphFor(t, s, s.World.Partner().TenantID)
	resp, err := c.TenantRelationships().DelegatedAdminRelationships().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	it, err := msgraphgocore.NewPageIterator[models.DelegatedAdminRelationshipable](resp, adapter, models.CreateDelegatedAdminRelationshipCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]models.DelegatedAdminRelationshipable{}
	if err := it.Iterate(ctx, func(r models.DelegatedAdminRelationshipable) bool {
		got[*r.GetCustomer().GetTenantId()] = r
		return true
	}); err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := 0; i < s.World.TenantCount(); i++ {
		ten := s.World.TenantAt(i)
		for _, rel := range ten.GDAP {
			want++
			r := got[strings.ToLower(ten.ID)]
			if r == nil || *r.GetId() != rel.ID || r.GetStatus().String() != rel.Status || len(r.GetAccessDetails().GetUnifiedRoles()) != len(rel.Roles) ||
				*r.GetAccessDetails().GetUnifiedRoles()[0].GetRoleDefinitionId() != rel.Roles[0] || !r.GetEndDateTime().Equal(rel.EndDateTime) {
				t.Errorf("relationship of %s: %v", ten.DisplayName, r)
			}
		}
	}
	if len(got) != want || want == 0 {
		t.Fatalf("%d relationships, want %d", len(got), want)
	}
	customers, err := c.TenantRelationships().DelegatedAdminCustomers().Get(ctx, nil)
	if err != nil || len(customers.GetValue()) != want {
		t.Fatalf("customers: %v", err)
	}
	// A customer tenant has no relationships of its own to list.
	cc, _ := graphFor(t, s, gcConsent)
	none, err := cc.TenantRelationships().DelegatedAdminRelationships().Get(ctx, nil)
	if err != nil || len(none.GetValue()) != 0 {
		t.Fatalf("customer-tenant view: %v", err)
	}
}

// TestGraphAppRegistration: create the app, add a secret, instantiate it in a customer tenant,
// grant a Graph app role on Graph's service principal, and use the new secret.
func gcAppRegistration(t *testing.T, s *sim.Server) {
	ctx := gcCtx(t)
	partner, _ := graphFor(t, s, s.World.Partner().TenantID)

	app := models.NewApplication()
	name := "tenantsync (contract)"
	audience := "AzureADMultipleOrgs"
	app.SetDisplayName(&name)
	app.SetSignInAudience(&audience)
	rra := models.NewRequiredResourceAccess()
	graphAppID := scenario.GraphAppID
	rra.SetResourceAppId(&graphAppID)
	ra := models.NewResourceAccess()
	roleType := "Role"
	userRead := gcUUID(t, directory.GraphPermissions["User.Read.All"])
	ra.SetId(&userRead)
	ra.SetTypeEscaped(&roleType)
	rra.SetResourceAccess([]models.ResourceAccessable{ra})
	app.SetRequiredResourceAccess([]models.RequiredResourceAccessable{rra})
	created, err := partner.Applications().Post(ctx, app, nil)
	if err != nil {
		t.Fatal(err)
	}
	appID := *created.GetAppId()

	pw := applications.NewItemAddPasswordPostRequestBody()
	cred := models.NewPasswordCredential()
	credName := "contract"
	cred.SetDisplayName(&credName)
	pw.SetPasswordCredential(cred)
	secret, err := partner.Applications().ByApplicationId(*created.GetId()).AddPassword().Post(ctx, pw, nil)
	if err != nil || secret.GetSecretText() == nil {
		t.Fatalf("addPassword: %v", err)
	}
	filter := "appId eq '" + appID + "'"
	found, err := partner.Applications().Get(ctx, &applications.ApplicationsRequestBuilderGetRequestConfiguration{
		QueryParameters: &applications.ApplicationsRequestBuilderGetQueryParameters{Filter: &filter}})
	if err != nil || len(found.GetValue()) != 1 || found.GetValue()[0].GetPasswordCredentials()[0].GetSecretText() != nil {
		t.Fatalf("list by appId: %v", err)
	}

	// Consent in the customer tenant (with the onboarding app's token there).
	customer, _ := graphFor(t, s, gcConsent)
	sp := models.NewServicePrincipal()
	sp.SetAppId(&appID)
	newSP, err := customer.ServicePrincipals().Post(ctx, sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	gf := "appId eq '" + scenario.GraphAppID + "'"
	graphSPs, err := customer.ServicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &gf}})
	if err != nil || len(graphSPs.GetValue()) != 1 {
		t.Fatalf("Graph service principal: %v", err)
	}
	graphSP := graphSPs.GetValue()[0]
	var orgRead *string
	for _, r := range graphSP.GetAppRoles() {
		if *r.GetValue() == "Organization.Read.All" {
			id := r.GetId().String()
			orgRead = &id
		}
	}
	if orgRead == nil {
		t.Fatal("Graph service principal lacks Organization.Read.All")
	}
	assignment := models.NewAppRoleAssignment()
	principal, resource, role := gcUUID(t, *newSP.GetId()), gcUUID(t, *graphSP.GetId()), gcUUID(t, *orgRead)
	assignment.SetPrincipalId(&principal)
	assignment.SetResourceId(&resource)
	assignment.SetAppRoleId(&role)
	if _, err := customer.ServicePrincipals().ByServicePrincipalId(*graphSP.GetId()).AppRoleAssignedTo().Post(ctx, assignment, nil); err != nil {
		t.Fatal(err)
	}
	assigned, err := customer.ServicePrincipals().ByServicePrincipalId(*newSP.GetId()).AppRoleAssignments().Get(ctx, nil)
	if err != nil || len(assigned.GetValue()) != 2 {
		t.Fatalf("appRoleAssignments: %v", err)
	}

	// The new app signs in to the customer tenant with its new secret and holds exactly its roles.
	newCred, err := azidentity.NewClientSecretCredential(gcConsent, appID, *secret.GetSecretText(), &azidentity.ClientSecretCredentialOptions{
		ClientOptions: clientOptions(t, s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	nc, _, err := graphclient.New(newCred, s.Endpoints().Endpoints)
	if err != nil {
		t.Fatal(err)
	}
	if org, err := nc.Organization().Get(ctx, nil); err != nil || *org.GetValue()[0].GetDisplayName() != "Consent Co" {
		t.Fatalf("organization with the granted role: %v", err)
	}
	if _, err := nc.Users().Get(ctx, nil); err != nil {
		t.Fatalf("users with the required role: %v", err)
	}
	_, err = nc.DeviceManagement().ManagedDevices().Get(ctx, nil)
	gcODataError(t, err, 403, "UnknownError")
	_, err = nc.Groups().Get(ctx, nil)
	gcODataError(t, err, 403, "Authorization_RequestDenied")
}
