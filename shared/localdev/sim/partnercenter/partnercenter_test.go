package partnercenter

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/metrics"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

type fixture struct {
	srv     *httptest.Server
	svc     *Service
	dir     *directory.Directory
	world   *scenario.World
	issuer  *token.Issuer
	metrics *metrics.Recorder
	clock   *clock
}

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

func newFixture(t *testing.T, rateLimit int) *fixture {
	t.Helper()
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	w, err := scenario.Load("demo", now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{world: w, metrics: metrics.New(), clock: &clock{t: now}}
	f.dir = directory.New(w, func() time.Time { return now })
	if f.issuer, err = token.New("https://127.0.0.1:1", func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.svc.ServeHTTP(w, r) }))
	t.Cleanup(f.srv.Close)
	f.svc = New(Options{Directory: f.dir, Issuer: f.issuer, Metrics: f.metrics, BaseURL: f.srv.URL, RateLimit: rateLimit, Clock: f.clock.now})
	return f
}

type tokenOpt func(*token.Claims)

func appOnly(c *token.Claims)    { c.IDType, c.Scope, c.AMR, c.UPN = "app", "", nil, "" }
func noMFA(c *token.Claims)      { c.AMR = []string{"pwd"} }
func noScope(c *token.Claims)    { c.Scope = "openid" }
func tenant(tid string) tokenOpt { return func(c *token.Claims) { c.TenantID = tid } }
func audience(a string) tokenOpt { return func(c *token.Claims) { c.Audience = []string{a} } }

// token is a delegated App+User token of the partner's MFA service account unless opts say otherwise.
func (f *fixture) token(t *testing.T, opts ...tokenOpt) string {
	t.Helper()
	c := token.Claims{
		TenantID: scenario.DemoPartnerTenantID, ObjectID: scenario.DemoServiceAccountID, AppID: scenario.DemoAppID, AZP: scenario.DemoAppID,
		Scope: "user_impersonation", AMR: []string{"pwd", "mfa"}, UPN: scenario.DemoServiceAccountUPN,
	}
	c.Audience = []string{scenario.PartnerAudience}
	for _, o := range opts {
		o(&c)
	}
	raw, err := f.issuer.Sign(c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (r response) pcErr(t *testing.T) (code float64, desc string) {
	t.Helper()
	if r.body["source"] != "PartnerFD" {
		t.Fatalf("not a Partner Center error body: %v", r.body)
	}
	if d, ok := r.body["data"].([]any); !ok || len(d) != 0 {
		t.Fatalf("data: %v", r.body["data"])
	}
	code, _ = r.body["code"].(float64)
	desc, _ = r.body["description"].(string)
	return code, desc
}

func (f *fixture) do(t *testing.T, method, path, tok, body string, hdr ...string) response {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return response{res.StatusCode, res.Header, m}
}

func consentBody(app string) string {
	return `{"applicationId":"` + app + `","applicationGrants":[{"enterpriseApplicationId":"00000003-0000-0000-c000-000000000000","scope":"Directory.Read.All,User.Read.All"}]}`
}

func cspCustomers(w *scenario.World) map[string]bool {
	want := map[string]bool{}
	for i := 0; i < w.TenantCount(); i++ {
		if t := w.TenantAt(i); t.CSP && !t.Deleted {
			want[strings.ToLower(t.ID)] = true
		}
	}
	return want
}

func TestCustomersPaging(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.token(t)
	want := cspCustomers(f.world)
	if len(want) < 5 {
		t.Fatalf("demo has %d CSP customers; the test needs several pages", len(want))
	}
	got := map[string]bool{}
	cont := ""
	pages := 0
	for {
		var hdr []string
		if cont != "" {
			hdr = []string{"MS-ContinuationToken", cont}
		}
		r := f.do(t, "GET", "/v1/customers?size=4", tok, "", append(hdr, "MS-RequestId", "req-1", "MS-CorrelationId", "corr-1")...)
		if r.status != 200 {
			t.Fatalf("%d %v", r.status, r.body)
		}
		if r.header.Get("MS-RequestId") != "req-1" || r.header.Get("MS-CorrelationId") != "corr-1" {
			t.Fatalf("ids not echoed: %v", r.header)
		}
		pages++
		items := r.body["items"].([]any)
		if int(r.body["totalCount"].(float64)) != len(items) || len(items) > 4 {
			t.Fatalf("page: %v", r.body)
		}
		for _, it := range items {
			c := it.(map[string]any)
			cp := c["companyProfile"].(map[string]any)
			if c["relationshipToPartner"] != "reseller" || c["attributes"].(map[string]any)["objectType"] != "Customer" || cp["tenantId"] != c["id"] || cp["domain"] == "" || cp["companyName"] == "" {
				t.Fatalf("item %v", c)
			}
			if got[c["id"].(string)] {
				t.Fatalf("duplicate %v", c["id"])
			}
			got[c["id"].(string)] = true
		}
		next, _ := r.body["links"].(map[string]any)["next"].(map[string]any)
		if next == nil {
			break
		}
		hs := next["headers"].([]any)
		h := hs[0].(map[string]any)
		if next["method"] != "GET" || h["key"] != "MS-ContinuationToken" || !strings.HasPrefix(next["uri"].(string), "/v1/customers?size=4") {
			t.Fatalf("next link %v", next)
		}
		cont = h["value"].(string)
	}
	if len(got) != len(want) || pages != (len(want)+3)/4 {
		t.Fatalf("got %d customers in %d pages, want %d", len(got), pages, len(want))
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("missing %s", id)
		}
	}
	if got[strings.ToLower(scenario.DemoBlueYonderAirlines)] || got[strings.ToLower(scenario.DemoAlpineSkiHouse)] {
		t.Fatal("deleted or non-CSP tenant listed")
	}
}

func TestContinuationTokenOpaqueAndTamperProof(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.token(t)
	r := f.do(t, "GET", "/v1/customers?size=2", tok, "")
	next := r.body["links"].(map[string]any)["next"].(map[string]any)
	cont := next["headers"].([]any)[0].(map[string]any)["value"].(string)

	// The token in the query works as well as in the header, and gives the same page.
	viaHeader := f.do(t, "GET", "/v1/customers?size=2", tok, "", "MS-ContinuationToken", cont)
	viaQuery := f.do(t, "GET", "/v1/customers?size=2&seekOperation=Next&continuationToken="+url.QueryEscape(cont), tok, "")
	if viaHeader.status != 200 || viaQuery.status != 200 {
		t.Fatalf("%d %d", viaHeader.status, viaQuery.status)
	}
	a, _ := json.Marshal(viaHeader.body["items"])
	b, _ := json.Marshal(viaQuery.body["items"])
	if string(a) != string(b) {
		t.Fatalf("header and query pages differ:\n%s\n%s", a, b)
	}
	first, _ := json.Marshal(r.body["items"])
	if string(a) == string(first) {
		t.Fatal("second page repeats the first")
	}

	payload, sig, _ := strings.Cut(cont, ".")
	if strings.Contains(payload, "\"n\"") {
		t.Fatal("token is not opaque")
	}
	// Re-sign nothing: edit the payload to start elsewhere, keep the signature.
	forged := strings.Replace(payload, payload[:2], "ey", 1) + "x." + sig
	for _, bad := range []string{forged, "garbage", payload + "." + strings.Repeat("A", len(sig)), cont + "x"} {
		r := f.do(t, "GET", "/v1/customers?size=2", tok, "", "MS-ContinuationToken", bad)
		code, desc := r.pcErr(t)
		if r.status != 400 || code != codeInvalidInput || !strings.Contains(desc, "continuation token") {
			t.Fatalf("%q: %d %v", bad, r.status, r.body)
		}
	}
	// A token minted for another partner does not work for this one.
	other := f.svc.encodeContinuation(continuation{Partner: "00000000-0000-0000-0000-000000000001", Next: 2})
	if r := f.do(t, "GET", "/v1/customers?size=2", tok, "", "MS-ContinuationToken", other); r.status != 400 {
		t.Fatalf("foreign token: %d", r.status)
	}
}

func TestCustomersSizeBounds(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.token(t)
	for _, size := range []string{"0", "-1", "abc"} {
		r := f.do(t, "GET", "/v1/customers?size="+size, tok, "")
		if code, _ := r.pcErr(t); r.status != 400 || code != codeInvalidInput {
			t.Fatalf("size=%s: %d %v", size, r.status, r.body)
		}
	}
	r := f.do(t, "GET", "/v1/customers?size=20000", tok, "")
	if r.status != 200 || r.body["links"].(map[string]any)["self"].(map[string]any)["uri"] != "/v1/customers?size=500" {
		t.Fatalf("%d %v", r.status, r.body["links"])
	}
	if len(r.body["items"].([]any)) != len(cspCustomers(f.world)) {
		t.Fatal("a clamped page misses customers")
	}
}

func TestCustomerAndSubscribedSkus(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.token(t)
	r := f.do(t, "GET", "/v1/customers/"+scenario.DemoWoodgroveBank, tok, "")
	if r.status != 200 || r.body["companyProfile"].(map[string]any)["companyName"] != "Woodgrove Bank" {
		t.Fatalf("%d %v", r.status, r.body)
	}
	r = f.do(t, "GET", "/v1/customers/"+scenario.DemoWoodgroveBank+"/subscribedskus", f.token(t, appOnly), "")
	if r.status != 200 {
		t.Fatalf("%d %v", r.status, r.body)
	}
	items := r.body["items"].([]any)
	tn, _ := f.world.Tenant(scenario.DemoWoodgroveBank)
	if len(items) != len(tn.Skus) || int(r.body["totalCount"].(float64)) != len(items) {
		t.Fatalf("%v", r.body)
	}
	it := items[0].(map[string]any)
	ps := it["productSku"].(map[string]any)
	used := tn.Consumed(tn.Skus[0].SkuID)
	if ps["skuPartNumber"] != "SPE_E3" || ps["name"] != "Microsoft 365 E3" || ps["id"] != scenario.SkuSPE_E3 ||
		int(it["consumedUnits"].(float64)) != used || int(it["availableUnits"].(float64)) != tn.Skus[0].Prepaid-used ||
		int(it["totalUnits"].(float64)) != tn.Skus[0].Prepaid || it["capabilityStatus"] != "Enabled" ||
		it["attributes"].(map[string]any)["objectType"] != "SubscribedSku" {
		t.Fatalf("sku %v (consumed %d)", it, used)
	}

	for _, tc := range []struct {
		id     string
		status int
		code   float64
	}{
		{"9d1a1f1a-0000-4000-8000-000000000000", 404, codeNotFound},
		{scenario.DemoBlueYonderAirlines, 404, codeNotFound},
		{scenario.DemoAlpineSkiHouse, 404, codeNotFound}, // GDAP only, not a CSP customer
		{"not-a-guid", 400, codeInvalidCustomer},
	} {
		r := f.do(t, "GET", "/v1/customers/"+tc.id+"/subscribedskus", tok, "")
		if code, _ := r.pcErr(t); r.status != tc.status || code != tc.code {
			t.Fatalf("%s: %d %v", tc.id, r.status, r.body)
		}
	}
}

func TestAuthRules(t *testing.T) {
	f := newFixture(t, 0)
	consents := "/v1/customers/" + scenario.DemoWoodgroveBank + "/applicationconsents"
	cases := []struct {
		name, method, path, tok string
		status                  int
		code                    float64
		text                    string
	}{
		{"missing token", "GET", "/v1/customers", "", 401, codeTokenMissing, "Partner Token missing"},
		{"garbage token", "GET", "/v1/customers", "x.y.z", 401, codeAccessDenied, "malformed"},
		{"graph audience", "GET", "/v1/customers", f.token(t, audience(scenario.GraphAudience)), 401, codeAccessDenied, "https://graph.microsoft.com"},
		{"customer tenant token", "GET", "/v1/customers", f.token(t, tenant(scenario.DemoWoodgroveBank)), 401, codeAccessDenied, "not a Partner Center partner tenant"},
		{"no MFA", "GET", "/v1/customers", f.token(t, noMFA), 401, codeMFARequired, "MFA is required"},
		{"no MFA on consent", "POST", consents, f.token(t, noMFA), 401, codeMFARequired, "multifactor authentication"},
		{"no user_impersonation", "GET", "/v1/customers", f.token(t, noScope), 403, codeForbidden, "user_impersonation"},
		{"app-only consent", "POST", consents, f.token(t, appOnly), 403, codeForbidden, "App+User authentication only"},
	}
	for _, tc := range cases {
		r := f.do(t, tc.method, tc.path, tc.tok, consentBody(scenario.DemoAppID))
		code, desc := r.pcErr(t)
		if r.status != tc.status || code != tc.code || !strings.Contains(desc, tc.text) {
			t.Errorf("%s: %d %v (want %d %v %q)", tc.name, r.status, r.body, tc.status, tc.code, tc.text)
		}
	}
	// Partner Center's app id is an accepted audience, and app-only works where it is allowed.
	if r := f.do(t, "GET", "/v1/customers", f.token(t, audience(scenario.PartnerCenterAppID)), ""); r.status != 200 {
		t.Fatalf("app-id audience: %d %v", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v1/customers", f.token(t, appOnly), ""); r.status != 200 {
		t.Fatalf("app-only list: %d %v", r.status, r.body)
	}
	if _, ok := f.dir.ServicePrincipal(scenario.DemoWoodgroveBank, scenario.DemoAppID); ok {
		t.Fatal("a refused request granted consent")
	}
}

func TestConsentLifecycle(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.token(t)
	path := "/v1/customers/" + scenario.DemoWoodgroveBank + "/applicationconsents"
	if _, ok := f.dir.ServicePrincipal(scenario.DemoWoodgroveBank, scenario.DemoAppID); ok {
		t.Fatal("Woodgrove Bank starts consented")
	}
	r := f.do(t, "POST", path, tok, consentBody(scenario.DemoAppID))
	if r.status != 201 || r.body["applicationId"] != scenario.DemoAppID || len(r.body["applicationGrants"].([]any)) != 1 {
		t.Fatalf("%d %v", r.status, r.body)
	}
	sp, ok := f.dir.ServicePrincipal(scenario.DemoWoodgroveBank, scenario.DemoAppID)
	if !ok || sp.Via != "cpv" {
		t.Fatalf("service principal %+v %v", sp, ok)
	}
	r = f.do(t, "POST", path, tok, consentBody(scenario.DemoAppID))
	if code, desc := r.pcErr(t); r.status != 409 || code != codeConflict || desc != "Permission entry already exists." {
		t.Fatalf("repeat: %d %v", r.status, r.body)
	}
	if r := f.do(t, "DELETE", path+"/"+scenario.DemoAppID, tok, ""); r.status != 204 {
		t.Fatalf("delete: %d %v", r.status, r.body)
	}
	if _, ok := f.dir.ServicePrincipal(scenario.DemoWoodgroveBank, scenario.DemoAppID); ok {
		t.Fatal("delete left the service principal")
	}
	r = f.do(t, "DELETE", path+"/"+scenario.DemoAppID, tok, "")
	if code, _ := r.pcErr(t); r.status != 404 || code != codeNotFound {
		t.Fatalf("second delete: %d %v", r.status, r.body)
	}
	if r := f.do(t, "POST", path, tok, consentBody(scenario.DemoAppID)); r.status != 201 {
		t.Fatalf("consent after delete: %d %v", r.status, r.body)
	}
}

func TestConsentNeedsGDAPRoles(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.token(t)
	for _, tc := range []struct {
		name, id string
		want     []string
	}{
		{"Global Reader only", scenario.DemoAdventureWorks, []string{"Application Administrator", "Cloud Application Administrator", "only Global Reader", "Adventure Works"}},
		{"terminated relationship", scenario.DemoAlpineSkiHouse, []string{"no active GDAP relationship", "terminated"}},
		{"CSP without GDAP", scenario.DemoCohoWinery, []string{"no GDAP relationship"}},
	} {
		_, before := f.dir.ServicePrincipal(tc.id, scenario.DemoAppID)
		r := f.do(t, "POST", "/v1/customers/"+tc.id+"/applicationconsents", tok, consentBody(scenario.DemoAppID))
		code, desc := r.pcErr(t)
		if r.status != 403 || code != codeRoleInsufficient {
			t.Fatalf("%s: %d %v", tc.name, r.status, r.body)
		}
		for _, w := range tc.want {
			if !strings.Contains(desc, w) {
				t.Errorf("%s: description lacks %q: %s", tc.name, w, desc)
			}
		}
		if _, after := f.dir.ServicePrincipal(tc.id, scenario.DemoAppID); after != before {
			t.Fatalf("%s: consent state changed", tc.name)
		}
	}
	// Cloud Application Administrator (the standard template) is enough: Contoso Dental is already
	// consented, so the answer is the repeat error rather than 403.
	r := f.do(t, "POST", "/v1/customers/"+scenario.DemoContosoDental+"/applicationconsents", tok, consentBody(scenario.DemoAppID))
	if r.status != 409 {
		t.Fatalf("Contoso Dental: %d %v", r.status, r.body)
	}
}

func TestConsentBodyValidation(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.token(t)
	path := "/v1/customers/" + scenario.DemoWoodgroveBank + "/applicationconsents"
	for _, tc := range []struct {
		name, body string
		status     int
		code       float64
	}{
		{"empty", "", 400, codeInvalidInput},
		{"not json", "{", 400, codeInvalidInput},
		{"no applicationId", `{"applicationGrants":[{"enterpriseApplicationId":"00000003-0000-0000-c000-000000000000","scope":"User.Read.All"}]}`, 400, codeInvalidInput},
		{"applicationId not a guid", consentBody("tenantsync"), 400, codeInvalidInput},
		{"no grants", `{"applicationId":"` + scenario.DemoAppID + `","applicationGrants":[]}`, 400, codeInvalidInput},
		{"empty scope", `{"applicationId":"` + scenario.DemoAppID + `","applicationGrants":[{"enterpriseApplicationId":"00000003-0000-0000-c000-000000000000","scope":" "}]}`, 400, codeInvalidInput},
		{"unknown app", consentBody("11111111-2222-3333-4444-555555555555"), 404, codeNotFound},
	} {
		r := f.do(t, "POST", path, tok, tc.body)
		if code, _ := r.pcErr(t); r.status != tc.status || code != tc.code {
			t.Errorf("%s: %d %v", tc.name, r.status, r.body)
		}
	}
	if _, ok := f.dir.ServicePrincipal(scenario.DemoWoodgroveBank, scenario.DemoAppID); ok {
		t.Fatal("an invalid request granted consent")
	}
}

func TestConsentRateLimit(t *testing.T) {
	f := newFixture(t, 3)
	tok := f.token(t)
	path := "/v1/customers/" + scenario.DemoAdventureWorks + "/applicationconsents" // 403s are cheap to repeat
	for i := 0; i < 3; i++ {
		if r := f.do(t, "POST", path, tok, consentBody(scenario.DemoAppID)); r.status != 403 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := f.do(t, "POST", path, tok, consentBody(scenario.DemoAppID))
	if code, _ := r.pcErr(t); r.status != 429 || code != codeThrottled || r.header.Get("Retry-After") != "1" {
		t.Fatalf("4th request: %d %v %v", r.status, r.body, r.header)
	}
	f.clock.add(time.Second)
	if r := f.do(t, "POST", path, tok, consentBody(scenario.DemoAppID)); r.status != 403 {
		t.Fatalf("next second: %d", r.status)
	}
	if got := f.metrics.Total("partnercenter", strings.ToLower(scenario.DemoAdventureWorks)); got.Requests != 5 || got.Throttled != 1 || got.Errors != 4 {
		t.Fatalf("metrics %+v", got)
	}
}

func TestRoutingAndMetrics(t *testing.T) {
	f := newFixture(t, 0)
	tok := f.token(t)
	if r := f.do(t, "PUT", "/v1/customers", tok, ""); r.status != 405 {
		t.Fatalf("PUT: %d", r.status)
	}
	if r := f.do(t, "GET", "/v1/invoices", tok, ""); r.status != 404 {
		t.Fatalf("unknown: %d", r.status)
	} else if code, _ := r.pcErr(t); code != codeNotFound {
		t.Fatal(r.body)
	}
	f.do(t, "GET", "/v1/customers?size=3", tok, "")
	f.do(t, "GET", "/v1/customers/"+scenario.DemoWoodgroveBank+"/subscribedskus", tok, "")
	seen := map[string]metrics.Row{}
	for _, row := range f.metrics.Rows() {
		seen[row.TenantID+" "+row.Endpoint] = row
	}
	for _, k := range []string{
		strings.ToLower(scenario.DemoPartnerTenantID) + " GET /v1/customers",
		strings.ToLower(scenario.DemoWoodgroveBank) + " GET /v1/customers/{id}/subscribedskus",
		" PUT /v1/customers",
		" GET other",
	} {
		if _, ok := seen[k]; !ok {
			t.Errorf("no metric %q in %v", k, seen)
		}
	}
}
