package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/metrics"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// Unit-test world: the service is called in-process (no TLS, no SDK); tokens are minted with the
// issuer directly.
const (
	testBase   = "https://graph.test"
	partnerID  = "11111111-1111-4111-8111-111111111111"
	tenantA    = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa" // 250 users, premium, Intune, GDAP
	tenantB    = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb" // no premium, no Intune, concealed reports, security defaults
	tenantC    = "cccccccc-cccc-4ccc-8ccc-cccccccccccc" // delta tokens expired, every 4th request 503
	tenantD    = "dddddddd-dddd-4ddd-8ddd-dddddddddddd" // deleted
	tenantE    = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee" // every 3rd request 429, Retry-After 0.5
	testAppID  = "7d1f3b52-4c1e-4a6b-9f3e-2b8c6d0a9e11"
	svcUserID  = "aad471f2-5456-426b-aa86-654346a235de"
	svcUserUPN = "svc@msp.onmicrosoft.com"
)

// clock is the simulated time, moved by tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t      *testing.T
	clock  *clock
	world  *scenario.World
	dir    *directory.Directory
	issuer *token.Issuer
	rec    *metrics.Recorder
	svc    *Service
}

var syncRoles = []string{
	"User.Read.All", "Group.Read.All", "Directory.Read.All", "Organization.Read.All", "Domain.Read.All",
	"DeviceManagementManagedDevices.Read.All", "Reports.Read.All", "ReportSettings.Read.All", "AuditLog.Read.All", "Mail.Send",
}

func testFile() scenario.File {
	sku := scenario.SkuSpec{SkuID: scenario.SkuSPE_E3, SkuPartNumber: "SPE_E3", Prepaid: 300, AssignEvery: 1}
	return scenario.File{
		Name: "graph-unit", Seed: 42,
		Partner: scenario.PartnerSpec{TenantID: partnerID, DisplayName: "Test MSP", Domain: "msp.onmicrosoft.com",
			Users: []scenario.PartnerUserSpec{{ID: svcUserID, UPN: svcUserUPN, DisplayName: "Service Account", MFA: true}}},
		App: &scenario.AppSpec{AppID: testAppID, DisplayName: "tenantsync", Roles: syncRoles,
			Secrets: []scenario.SecretSpec{{KeyID: "7a3e6851-3b38-4d8a-bbea-ffca8e746339", Value: "s3cret", EndDateTime: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		Tenants: []scenario.TenantSpec{
			{ID: tenantA, DisplayName: "Alpha", Domain: "alpha.onmicrosoft.com", CustomDomain: "alpha.com", Users: 250, Groups: 5, Devices: 12,
				Skus: []scenario.SkuSpec{sku}, Consented: true, Premium: true, Intune: true, CSP: true,
				GDAP: []scenario.RelationshipSpec{{Status: "active", Roles: []string{scenario.RoleGlobalReader}, EndInDays: 300, AutoExtend: true}}},
			{ID: tenantB, DisplayName: "Bravo", Domain: "bravo.onmicrosoft.com", Users: 20, Groups: 2, Devices: 3,
				Skus: []scenario.SkuSpec{sku}, Consented: true, ConcealReports: true, SecurityDefaults: true,
				GDAP: []scenario.RelationshipSpec{{Status: "approvalPending", Roles: []string{scenario.RoleGlobalReader}, EndInDays: 730}}},
			{ID: tenantC, DisplayName: "Charlie", Domain: "charlie.onmicrosoft.com", Users: 10, Groups: 1, Consented: true, Premium: true,
				Faults: &scenario.Faults{ExpireDeltaTokens: true, UnavailableEvery: 4, RetryAfter: "1"}},
			{ID: tenantD, DisplayName: "Delta Deleted", Domain: "deleted.onmicrosoft.com", Users: 5, Consented: true, Deleted: true},
			{ID: tenantE, DisplayName: "Echo", Domain: "echo.onmicrosoft.com", Users: 5, Consented: true,
				Faults: &scenario.Faults{ThrottleEvery: 3, RetryAfter: "0.5"}},
		},
	}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)}
	w, err := scenario.New(testFile(), clk.now())
	if err != nil {
		t.Fatal(err)
	}
	iss, err := token.New("https://login.test", clk.now)
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.New(w, clk.now)
	rec := metrics.New()
	svc := New(Options{Directory: dir, Issuer: iss, Metrics: rec, BaseURL: testBase + "/"})
	return &fixture{t: t, clock: clk, world: w, dir: dir, issuer: iss, rec: rec, svc: svc}
}

// appToken mints an app-only Graph token for tenant with roles.
func (f *fixture) appToken(tenant string, roles ...string) string {
	f.t.Helper()
	tok, err := f.issuer.Sign(token.Claims{TenantID: tenant, AppID: testAppID, AZP: testAppID, Roles: roles, IDType: "app",
		RegisteredClaims: jwt.RegisteredClaims{Audience: jwt.ClaimStrings{scenario.GraphAudience}, Subject: "sp"}}, time.Hour)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// userToken mints a delegated token for the partner's service account.
func (f *fixture) userToken(tenant, scopes string, wids ...string) string {
	f.t.Helper()
	tok, err := f.issuer.Sign(token.Claims{TenantID: tenant, ObjectID: svcUserID, AppID: testAppID, Scope: scopes, UPN: svcUserUPN,
		AMR: []string{"pwd", "mfa"}, Wids: wids, RegisteredClaims: jwt.RegisteredClaims{Audience: jwt.ClaimStrings{scenario.GraphAppID}}}, time.Hour)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body not JSON: %v\n%s", r.status, err, r.body)
	}
	return m
}

// errCode returns error.code of a Graph error body.
func (r resp) errCode(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r resp) errMessage(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// do sends a request; url is a path under the host ("/v1.0/users") or an absolute link.
func (f *fixture) do(method, url, tok string, body any, hdr ...string) resp {
	f.t.Helper()
	url = strings.TrimPrefix(url, testBase)
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequest(method, url, rd)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.svc.ServeHTTP(w, r)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

func (f *fixture) get(url, tok string, hdr ...string) resp {
	return f.do(http.MethodGet, url, tok, nil, hdr...)
}

// values returns value[] of a collection answer and its links.
func values(t *testing.T, r resp) (items []map[string]any, next, delta string) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	for _, v := range m["value"].([]any) {
		items = append(items, v.(map[string]any))
	}
	next, _ = m["@odata.nextLink"].(string)
	delta, _ = m["@odata.deltaLink"].(string)
	return items, next, delta
}

// liveUsers lists the ids of tenant's live users from the scenario directly.
func (f *fixture) liveUsers(tenant string) []string {
	t, _ := f.world.Tenant(tenant)
	var ids []string
	for i := 0; i < t.UserSlots(); i++ {
		if u, ok := t.User(i); ok {
			ids = append(ids, u.ID)
		}
	}
	return ids
}

// tokenClaims are app-only claims for another audience.
func tokenClaims(tenant, aud string) token.Claims {
	return token.Claims{TenantID: tenant, AppID: testAppID, Roles: []string{"User.Read.All"}, IDType: "app",
		RegisteredClaims: jwt.RegisteredClaims{Audience: jwt.ClaimStrings{aud}}}
}
