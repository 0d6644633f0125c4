package entra

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/metrics"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// clock is a settable simulator clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type fixture struct {
	t       *testing.T
	svc     *Service
	srv     *httptest.Server
	clock   *clock
	dir     *directory.Directory
	metrics *metrics.Recorder
	http    *http.Client // does not follow redirects
}

const testIdentityHeader = "test-identity-header"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	clk := &clock{t: now}
	w, err := scenario.New(scenario.DemoFile(now), now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, clock: clk, dir: directory.New(w, clk.Now), metrics: metrics.New()}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.svc.ServeHTTP(w, r) }))
	t.Cleanup(f.srv.Close)
	iss, err := token.New(f.srv.URL, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = New(Options{Directory: f.dir, Issuer: iss, Metrics: f.metrics, IdentityHeader: testIdentityHeader,
		ManagedIdentityObjectID: "5f0c0d8e-6b2a-4c59-9d51-3a7e2f1b0c01"})
	f.http = f.srv.Client()
	f.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return f
}

func (f *fixture) post(path string, form url.Values) (*http.Response, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.do(req)
}

func (f *fixture) get(path string) (*http.Response, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	return f.do(req)
}

func (f *fixture) do(req *http.Request) (*http.Response, map[string]any) {
	f.t.Helper()
	resp, err := f.http.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			f.t.Fatalf("%s %s: bad JSON %q: %v", req.Method, req.URL, b, err)
		}
	}
	return resp, m
}

func secretForm(tenantScope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {scenario.DemoAppID},
		"client_secret": {scenario.DemoSecretValue}, "scope": {tenantScope}}
}

var descRE = regexp.MustCompile(`^AADSTS(\d+): .+\r\nTrace ID: ([0-9a-f-]{36})\r\nCorrelation ID: ([0-9a-f-]{36})\r\nTimestamp: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)$`)

// checkErrorShape asserts Entra's error body and returns the AADSTS code.
func checkErrorShape(t *testing.T, resp *http.Response, body map[string]any, wantStatus int, wantErr string, wantCode int) {
	t.Helper()
	if resp.StatusCode != wantStatus {
		t.Errorf("status %d, want %d (%v)", resp.StatusCode, wantStatus, body)
	}
	if body["error"] != wantErr {
		t.Errorf("error %v, want %s", body["error"], wantErr)
	}
	desc, _ := body["error_description"].(string)
	m := descRE.FindStringSubmatch(desc)
	if m == nil {
		t.Fatalf("error_description %q lacks Entra's shape", desc)
	}
	if m[1] != itoa(wantCode) {
		t.Errorf("description code AADSTS%s, want %d", m[1], wantCode)
	}
	codes, _ := body["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Errorf("error_codes %v, want [%d]", body["error_codes"], wantCode)
	}
	if body["trace_id"] != m[2] || body["correlation_id"] != m[3] || body["timestamp"] != m[4] {
		t.Errorf("trace_id/correlation_id/timestamp %v/%v/%v do not match the description %q", body["trace_id"], body["correlation_id"], body["timestamp"], desc)
	}
	if uri, _ := body["error_uri"].(string); !strings.HasSuffix(uri, "/error?code="+itoa(wantCode)) {
		t.Errorf("error_uri %q", uri)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestTokenErrorShapes(t *testing.T) {
	f := newFixture(t)
	graph := "https://graph.microsoft.com/.default"
	cases := []struct {
		name     string
		tenant   string
		form     url.Values
		status   int
		err      string
		code     int
		contains string
	}{
		{"unknown app", scenario.DemoContosoDental, func() url.Values { v := secretForm(graph); v.Set("client_id", uuid.NewString()); return v }(), 400, "unauthorized_client", 700016, "Contoso Dental"},
		{"wrong secret", scenario.DemoContosoDental, func() url.Values { v := secretForm(graph); v.Set("client_secret", "nope"); return v }(), 401, "invalid_client", 7000215, ""},
		{"secret id pasted", scenario.DemoContosoDental, func() url.Values { v := secretForm(graph); v.Set("client_secret", scenario.DemoSecretKeyID); return v }(), 401, "invalid_client", 7000215, "secret ID"},
		{"no credential", scenario.DemoContosoDental, func() url.Values { v := secretForm(graph); v.Del("client_secret"); return v }(), 401, "invalid_client", 7000218, ""},
		{"not consented", scenario.DemoWoodgroveBank, secretForm(graph), 400, "invalid_client", 7000229, scenario.DemoWoodgroveBank},
		{"consent fault", scenario.DemoFourthCoffee, secretForm(graph), 400, "invalid_grant", 65001, scenario.DemoAppID},
		{"deleted tenant", scenario.DemoBlueYonderAirlines, secretForm(graph), 400, "invalid_request", 90002, scenario.DemoBlueYonderAirlines},
		{"unknown tenant", "nosuchtenant.onmicrosoft.com", secretForm(graph), 400, "invalid_request", 90002, "nosuchtenant"},
		{"not .default", scenario.DemoContosoDental, secretForm("https://graph.microsoft.com/User.Read.All"), 400, "invalid_scope", 1002012, ""},
		{"bad grant", scenario.DemoContosoDental, func() url.Values { v := secretForm(graph); v.Set("grant_type", "password2"); return v }(), 400, "unsupported_grant_type", 70003, ""},
		{"organizations", "organizations", secretForm(graph), 400, "invalid_request", 50059, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/"+c.tenant+"/oauth2/v2.0/token", strings.NewReader(c.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			corr := uuid.NewString()
			req.Header.Set("client-request-id", corr)
			resp, body := f.do(req)
			checkErrorShape(t, resp, body, c.status, c.err, c.code)
			if body["correlation_id"] != corr {
				t.Errorf("correlation_id %v, want the client-request-id %s", body["correlation_id"], corr)
			}
			if c.contains != "" && !strings.Contains(body["error_description"].(string), c.contains) {
				t.Errorf("description %q lacks %q", body["error_description"], c.contains)
			}
		})
	}
}

func TestExpiredSecret(t *testing.T) {
	f := newFixture(t)
	if _, err := f.dir.UpdateApp(scenario.DemoAppID, func(a *directory.Application) error {
		a.Passwords = append(a.Passwords, directory.NewPassword("", "old", "expired-value", f.clock.Now().AddDate(-1, 0, 0), f.clock.Now().Add(-time.Hour)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	v := secretForm("https://graph.microsoft.com/.default")
	v.Set("client_secret", "expired-value")
	resp, body := f.post("/"+scenario.DemoContosoDental+"/oauth2/v2.0/token", v)
	checkErrorShape(t, resp, body, 401, "invalid_client", 7000222)
}

func TestClientCredentialsToken(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ scope, aud string }{
		{"https://graph.microsoft.com/.default openid profile offline_access", "https://graph.microsoft.com"},
		{"https://vault.azure.net/.default", "https://vault.azure.net"},
		{"https://api.partnercenter.microsoft.com/.default", "https://api.partnercenter.microsoft.com"},
	} {
		resp, body := f.post("/contosodental.onmicrosoft.com/oauth2/v2.0/token", secretForm(tc.scope))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", tc.scope, resp.StatusCode, body)
		}
		if body["token_type"] != "Bearer" || body["expires_in"] != float64(3599) || body["ext_expires_in"] != float64(3599) || body["refresh_token"] != nil {
			t.Errorf("answer %v", body)
		}
		c, err := f.svc.iss.Verify(body["access_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		sp, _ := f.dir.ServicePrincipal(scenario.DemoContosoDental, scenario.DemoAppID)
		if c.TenantID != scenario.DemoContosoDental || !c.AudienceMatches(tc.aud, "") || c.ObjectID != sp.ObjectID || c.AppID != scenario.DemoAppID || !c.IsApp() {
			t.Errorf("%s: claims %+v", tc.scope, c)
		}
		if (tc.aud == "https://graph.microsoft.com") != c.HasRole("User.Read.All") {
			t.Errorf("%s: roles %v", tc.scope, c.Roles)
		}
		if c.Issuer != f.srv.URL+"/"+scenario.DemoContosoDental+"/v2.0" {
			t.Errorf("iss %s", c.Issuer)
		}
	}
	rows := f.metrics.Rows()
	found := false
	for _, r := range rows {
		if r.Service == "entra" && r.TenantID == scenario.DemoContosoDental && r.Endpoint == "POST /token" && r.Requests == 3 {
			found = true
		}
	}
	if !found {
		t.Errorf("metrics rows %+v lack 3 token requests for Contoso Dental", rows)
	}
}

func TestDiscovery(t *testing.T) {
	f := newFixture(t)
	for _, seg := range []string{scenario.DemoContosoDental, "contosodental.com", scenario.DemoPartnerDomain} {
		resp, body := f.get("/" + seg + "/v2.0/.well-known/openid-configuration")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", seg, resp.StatusCode)
		}
		tid := scenario.DemoContosoDental
		if seg == scenario.DemoPartnerDomain {
			tid = scenario.DemoPartnerTenantID
		}
		if body["issuer"] != f.srv.URL+"/"+tid+"/v2.0" || body["token_endpoint"] != f.srv.URL+"/"+tid+"/oauth2/v2.0/token" ||
			body["authorization_endpoint"] == nil || body["device_authorization_endpoint"] == nil || body["end_session_endpoint"] == nil ||
			body["jwks_uri"] != f.srv.URL+"/"+tid+"/discovery/v2.0/keys" {
			t.Errorf("%s: %v", seg, body)
		}
	}
	_, body := f.get("/organizations/v2.0/.well-known/openid-configuration")
	if body["issuer"] != f.srv.URL+"/{tenantid}/v2.0" || body["token_endpoint"] != f.srv.URL+"/organizations/oauth2/v2.0/token" {
		t.Errorf("organizations: %v", body)
	}
	for _, seg := range []string{"nosuch.onmicrosoft.com", scenario.DemoBlueYonderAirlines} {
		resp, body := f.get("/" + seg + "/v2.0/.well-known/openid-configuration")
		checkErrorShape(t, resp, body, 400, "invalid_tenant", 90002)
	}
	resp, body := f.get("/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape(f.srv.URL+"/common/oauth2/v2.0/authorize"))
	if resp.StatusCode != 200 || body["tenant_discovery_endpoint"] == nil || body["metadata"] == nil {
		t.Errorf("instance discovery: %d %v", resp.StatusCode, body)
	}
	resp, body = f.get("/" + scenario.DemoContosoDental + "/discovery/v2.0/keys")
	if keys, _ := body["keys"].([]any); resp.StatusCode != 200 || len(keys) != 1 {
		t.Errorf("keys: %d %v", resp.StatusCode, body)
	}
}

func TestVerifyPKCE(t *testing.T) {
	// RFC 7636 appendix B.
	const verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !verifyPKCE("S256", challenge, verifier) {
		t.Error("S256 vector rejected")
	}
	if verifyPKCE("S256", challenge, verifier+"x") || verifyPKCE("S256", challenge, challenge) {
		t.Error("S256 accepted a wrong verifier")
	}
	if !verifyPKCE("plain", "abc", "abc") || verifyPKCE("plain", "abc", "abd") || verifyPKCE("S512", challenge, verifier) {
		t.Error("plain / unknown method")
	}
}

// authorize runs the non-interactive authorize and returns the redirect's query.
func (f *fixture) authorize(tenant string, q url.Values) url.Values {
	f.t.Helper()
	resp, _ := f.get("/" + tenant + "/oauth2/v2.0/authorize?" + q.Encode())
	if resp.StatusCode != http.StatusFound {
		f.t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		f.t.Fatal(err)
	}
	return loc.Query()
}

func pkcePair() (string, string) {
	v := randomString(64)
	sum := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestAuthCodePKCE(t *testing.T) {
	f := newFixture(t)
	verifier, challenge := pkcePair()
	q := url.Values{"client_id": {scenario.DemoAppID}, "response_type": {"code"}, "redirect_uri": {scenario.DemoConnectURI},
		"scope": {"https://graph.microsoft.com/.default offline_access openid profile"}, "state": {"st1"}, "nonce": {"n1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "sim_user": {scenario.DemoServiceAccountUPN}}
	cb := f.authorize("organizations", q)
	if cb.Get("state") != "st1" || cb.Get("code") == "" {
		t.Fatalf("callback %v", cb)
	}
	redeem := url.Values{"grant_type": {"authorization_code"}, "client_id": {scenario.DemoAppID}, "client_secret": {scenario.DemoSecretValue},
		"code": {cb.Get("code")}, "redirect_uri": {scenario.DemoConnectURI}, "code_verifier": {verifier + "x"},
		"scope": {"https://graph.microsoft.com/.default offline_access openid profile"}, "client_info": {"1"}}
	resp, body := f.post("/organizations/oauth2/v2.0/token", redeem)
	checkErrorShape(t, resp, body, 400, "invalid_grant", 501481)

	redeem.Set("code_verifier", verifier)
	resp, body = f.post("/organizations/oauth2/v2.0/token", redeem)
	if resp.StatusCode != 200 {
		t.Fatalf("redeem: %d %v", resp.StatusCode, body)
	}
	c, err := f.svc.iss.Verify(body["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if c.TenantID != scenario.DemoPartnerTenantID || c.ObjectID != scenario.DemoServiceAccountID || !c.HasMFA() || !c.HasScope("DelegatedAdminRelationship.Read.All") || c.UPN != scenario.DemoServiceAccountUPN {
		t.Errorf("claims %+v", c)
	}
	idc, err := f.svc.iss.Verify(body["id_token"].(string))
	if err != nil || idc.Nonce != "n1" || !idc.AudienceMatches(scenario.DemoAppID, "") {
		t.Errorf("id_token %+v %v", idc, err)
	}
	ci, _ := base64.RawURLEncoding.DecodeString(body["client_info"].(string))
	if string(ci) != `{"uid":"`+scenario.DemoServiceAccountID+`","utid":"`+scenario.DemoPartnerTenantID+`"}` {
		t.Errorf("client_info %s", ci)
	}
	if body["refresh_token"] == nil {
		t.Error("no refresh token despite offline_access")
	}
	resp, body = f.post("/organizations/oauth2/v2.0/token", redeem)
	checkErrorShape(t, resp, body, 400, "invalid_grant", 54005)

	// Redirect URI not registered: a page, not a redirect.
	q.Set("redirect_uri", "https://evil.example/cb")
	resp, _ = f.get("/organizations/oauth2/v2.0/authorize?" + q.Encode())
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("unregistered redirect: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Conditional Access blocks the user: back to the client with the AADSTS code.
	q.Set("redirect_uri", scenario.DemoConnectURI)
	q.Set("sim_user", scenario.DemoBlockedUPN)
	cb = f.authorize("organizations", q)
	if cb.Get("error") != "access_denied" || !strings.HasPrefix(cb.Get("error_description"), "AADSTS53003:") || cb.Get("state") != "st1" {
		t.Errorf("blocked user callback %v", cb)
	}
	// A partner user in a customer tenant without GDAP (Coho Winery): AADSTS50020.
	q.Set("sim_user", scenario.DemoAdminUPN)
	cb = f.authorize(scenario.DemoCohoWinery, q)
	if !strings.HasPrefix(cb.Get("error_description"), "AADSTS50020:") {
		t.Errorf("no-GDAP callback %v", cb)
	}
}

func TestRefreshTokens(t *testing.T) {
	f := newFixture(t)
	cb := f.authorize(scenario.DemoPartnerTenantID, url.Values{"client_id": {scenario.DemoAppID}, "response_type": {"code"},
		"redirect_uri": {scenario.DemoConnectURI}, "scope": {"https://graph.microsoft.com/.default offline_access"},
		"sim_user": {scenario.DemoNoMFAUPN}})
	resp, body := f.post("/"+scenario.DemoPartnerTenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"},
		"client_id": {scenario.DemoAppID}, "client_secret": {scenario.DemoSecretValue}, "code": {cb.Get("code")},
		"redirect_uri": {scenario.DemoConnectURI}})
	if resp.StatusCode != 200 {
		t.Fatalf("redeem %v", body)
	}
	if c, _ := f.svc.iss.Verify(body["access_token"].(string)); c == nil || c.HasMFA() || body["id_token"] != nil {
		t.Errorf("no-MFA user: claims %+v, id_token %v", c, body["id_token"])
	}
	rt := body["refresh_token"].(string)
	refresh := func(tenant, rt, scope string) (*http.Response, map[string]any) {
		return f.post("/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {scenario.DemoAppID},
			"client_secret": {scenario.DemoSecretValue}, "refresh_token": {rt}, "scope": {scope}})
	}
	// Redeem for Partner Center, then for a GDAP customer tenant (Contoso Dental).
	resp, body = refresh(scenario.DemoPartnerTenantID, rt, "https://api.partnercenter.microsoft.com/user_impersonation offline_access")
	if resp.StatusCode != 200 || body["refresh_token"] == rt || body["refresh_token"] == nil {
		t.Fatalf("refresh: %d %v", resp.StatusCode, body)
	}
	rt2 := body["refresh_token"].(string)
	if c, _ := f.svc.iss.Verify(body["access_token"].(string)); c == nil || !c.AudienceMatches(scenario.PartnerAudience, "") || c.Scope != "user_impersonation" {
		t.Errorf("partner center claims %+v", c)
	}
	resp, body = refresh(scenario.DemoContosoDental, rt2, "https://graph.microsoft.com/.default")
	if c, _ := f.svc.iss.Verify(body["access_token"].(string)); resp.StatusCode != 200 || c == nil || c.TenantID != scenario.DemoContosoDental {
		t.Errorf("GDAP refresh: %d %v", resp.StatusCode, body)
	}
	// Not consented there: AADSTS90099; no GDAP: AADSTS50020.
	resp, body = refresh(scenario.DemoAdventureWorks, rt2, "https://graph.microsoft.com/.default")
	checkErrorShape(t, resp, body, 400, "invalid_grant", 90099)
	resp, body = refresh(scenario.DemoCohoWinery, rt2, "https://graph.microsoft.com/.default")
	checkErrorShape(t, resp, body, 400, "invalid_grant", 50020)

	// 90 days unused: AADSTS700082 (the other token, used just now, survives 89 days).
	f.svc.AgeRefreshTokens(89 * 24 * time.Hour)
	resp, _ = refresh(scenario.DemoPartnerTenantID, rt2, "https://graph.microsoft.com/.default")
	if resp.StatusCode != 200 {
		t.Errorf("89 days: %d", resp.StatusCode)
	}
	f.svc.AgeRefreshTokens(2 * 24 * time.Hour)
	resp, body = refresh(scenario.DemoPartnerTenantID, rt, "https://graph.microsoft.com/.default")
	checkErrorShape(t, resp, body, 400, "invalid_grant", 700082)

	resp, body = refresh(scenario.DemoPartnerTenantID, rt2, "https://graph.microsoft.com/.default")
	if resp.StatusCode != 200 {
		t.Fatalf("rt2 after use: %v", body)
	}
	rt3 := body["refresh_token"].(string)
	if err := f.svc.RevokeUserSessions(scenario.DemoNoMFAUPN); err != nil {
		t.Fatal(err)
	}
	resp, body = refresh(scenario.DemoPartnerTenantID, rt3, "https://graph.microsoft.com/.default")
	checkErrorShape(t, resp, body, 400, "invalid_grant", 50173)
}

func TestDeviceCode(t *testing.T) {
	f := newFixture(t)
	start := func() map[string]any {
		resp, body := f.post("/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {scenario.DemoAppID},
			"scope": {"https://graph.microsoft.com/.default openid offline_access profile"}})
		if resp.StatusCode != 200 {
			t.Fatalf("devicecode: %d %v", resp.StatusCode, body)
		}
		for _, k := range []string{"device_code", "user_code", "verification_uri", "expires_in", "interval", "message"} {
			if body[k] == nil {
				t.Errorf("devicecode answer lacks %s: %v", k, body)
			}
		}
		return body
	}
	poll := func(dc map[string]any) (*http.Response, map[string]any) {
		return f.post("/organizations/oauth2/v2.0/token", url.Values{"grant_type": {deviceCodeGrant}, "client_id": {scenario.DemoAppID},
			"device_code": {dc["device_code"].(string)}, "client_info": {"1"}})
	}
	dc := start()
	resp, body := poll(dc)
	checkErrorShape(t, resp, body, 400, "authorization_pending", 70016)
	if err := f.svc.ApproveDeviceCode(dc["user_code"].(string), scenario.DemoAdminUPN, true); err != nil {
		t.Fatal(err)
	}
	resp, body = poll(dc)
	if resp.StatusCode != 200 || body["refresh_token"] == nil || body["id_token"] == nil {
		t.Fatalf("approved: %d %v", resp.StatusCode, body)
	}
	if err := f.svc.ApproveDeviceCode(dc["user_code"].(string), scenario.DemoAdminUPN, true); err == nil {
		t.Error("a used code was approved again")
	}

	dc = start()
	if err := f.svc.DeclineDeviceCode(dc["user_code"].(string)); err != nil {
		t.Fatal(err)
	}
	resp, body = poll(dc)
	checkErrorShape(t, resp, body, 400, "authorization_declined", 70020)

	dc = start()
	if err := f.svc.ApproveDeviceCode(dc["user_code"].(string), scenario.DemoBlockedUPN, true); err != nil {
		t.Fatal(err)
	}
	resp, body = poll(dc)
	checkErrorShape(t, resp, body, 400, "invalid_grant", 53003)

	dc = start()
	f.clock.Add(16 * time.Minute)
	resp, body = poll(dc)
	checkErrorShape(t, resp, body, 400, "expired_token", 70019)
}

func TestAdminConsent(t *testing.T) {
	f := newFixture(t)
	consent := func(tenant string, extra url.Values) url.Values {
		q := url.Values{"client_id": {scenario.DemoAppID}, "scope": {"https://graph.microsoft.com/.default"},
			"redirect_uri": {scenario.DemoConsentURI}, "state": {"s-1"}}
		for k, v := range extra {
			q[k] = v
		}
		resp, _ := f.get("/" + tenant + "/v2.0/adminconsent?" + q.Encode())
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("adminconsent %s: %d", tenant, resp.StatusCode)
		}
		u, _ := url.Parse(resp.Header.Get("Location"))
		if !strings.HasPrefix(u.String(), scenario.DemoConsentURI) {
			t.Errorf("redirected to %s", u)
		}
		return u.Query()
	}
	cb := consent("adventureworks.onmicrosoft.com", url.Values{"sim_action": {"deny"}})
	if cb.Get("error") != "access_denied" || !strings.HasPrefix(cb.Get("error_description"), "AADSTS65004: User declined to consent to access the app.") || cb.Get("state") != "s-1" {
		t.Errorf("deny: %v", cb)
	}
	if _, ok := f.dir.ServicePrincipal(scenario.DemoAdventureWorks, scenario.DemoAppID); ok {
		t.Error("deny created a service principal")
	}
	cb = consent("organizations", url.Values{"sim_action": {"approve"}, "sim_tenant": {"adventureworks.onmicrosoft.com"}})
	if cb.Get("admin_consent") != "True" || cb.Get("tenant") != scenario.DemoAdventureWorks || cb.Get("state") != "s-1" ||
		!strings.Contains(cb.Get("scope"), "https://graph.microsoft.com/User.Read.All") {
		t.Errorf("approve: %v", cb)
	}
	if sp, ok := f.dir.ServicePrincipal(scenario.DemoAdventureWorks, scenario.DemoAppID); !ok || sp.Via != "adminconsent" {
		t.Errorf("service principal %+v %v", sp, ok)
	}
	cb = consent("common", url.Values{"sim_action": {"approve"}})
	if cb.Get("error") == "" {
		t.Errorf("common accepted: %v", cb)
	}
	// The interactive page renders.
	resp, _ := f.get("/organizations/v2.0/adminconsent?client_id=" + scenario.DemoAppID + "&redirect_uri=" + url.QueryEscape(scenario.DemoConsentURI))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("consent page: %d", resp.StatusCode)
	}
}

func TestManagedIdentityEndpoint(t *testing.T) {
	f := newFixture(t)
	mi := httptest.NewServer(f.svc.ManagedIdentity())
	t.Cleanup(mi.Close)
	call := func(hdr, query string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, mi.URL+"/msi/token?"+query, nil)
		if hdr != "" {
			req.Header.Set("X-IDENTITY-HEADER", hdr)
		}
		return f.do(req)
	}
	q := "api-version=2019-08-01&resource=" + url.QueryEscape(TokenExchangeAudience)
	if resp, _ := call("", q); resp.StatusCode != 400 {
		t.Errorf("no header: %d", resp.StatusCode)
	}
	if resp, _ := call("wrong", q); resp.StatusCode != 401 {
		t.Errorf("wrong header: %d", resp.StatusCode)
	}
	resp, body := call(testIdentityHeader, q)
	if resp.StatusCode != 200 || body["token_type"] != "Bearer" || body["resource"] != TokenExchangeAudience {
		t.Fatalf("token: %d %v", resp.StatusCode, body)
	}
	exp, ok := body["expires_on"].(string)
	if !ok || !regexp.MustCompile(`^\d{10}$`).MatchString(exp) {
		t.Errorf("expires_on %#v is not unix seconds as a string", body["expires_on"])
	}
	c, err := f.svc.iss.Verify(body["access_token"].(string))
	if err != nil || c.Subject != f.svc.opts.ManagedIdentityObjectID || c.ObjectID != c.Subject || c.TenantID != scenario.DemoPartnerTenantID || !c.IsApp() {
		t.Errorf("claims %+v %v", c, err)
	}
}

// TestTokensAudienceIsAString: Entra writes a single audience as a string and MSAL Go decodes
// the id_token's aud into a string (a JSON array breaks AcquireTokenByAuthCode).
func TestTokensAudienceIsAString(t *testing.T) {
	f := newFixture(t)
	_, body := f.post("/"+scenario.DemoContosoDental+"/oauth2/v2.0/token", secretForm("https://graph.microsoft.com/.default"))
	parts := strings.Split(body["access_token"].(string), ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["aud"].(string); !ok {
		t.Errorf("aud is %#v, want a string", claims["aud"])
	}
}

// TestInteractivePages drives the HTML forms a person would use: sign-in, device login,
// admin consent for organizations, and form_post answers.
func TestInteractivePages(t *testing.T) {
	f := newFixture(t)
	authz := "/" + scenario.DemoPartnerTenantID + "/oauth2/v2.0/authorize?" + url.Values{"client_id": {scenario.DemoAppID},
		"response_type": {"code"}, "redirect_uri": {scenario.DemoConnectURI}, "scope": {"openid offline_access"}, "state": {"s"}}.Encode()
	resp, _ := f.get(authz)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("sign-in page: %d", resp.StatusCode)
	}
	resp, _ = f.post(authz, url.Values{"login": {scenario.DemoAdminUPN}, "action": {"signin"}})
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if resp.StatusCode != http.StatusFound || code == "" || loc.Query().Get("state") != "s" {
		t.Fatalf("sign-in post: %d %s", resp.StatusCode, loc)
	}
	f.svc.mu.Lock()
	mfa := f.svc.codes[code].MFA
	f.svc.mu.Unlock()
	if mfa {
		t.Error("MFA box unticked, yet the sign-in recorded MFA")
	}
	resp, _ = f.post(authz, url.Values{"login": {scenario.DemoAdminUPN}, "action": {"cancel"}})
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc == nil || loc.Query().Get("error") != "access_denied" {
		t.Errorf("cancel: %v", resp.Header.Get("Location"))
	}

	// form_post answers with an auto-submitting form.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+authz+"&response_mode=form_post&sim_user="+url.QueryEscape(scenario.DemoAdminUPN), nil)
	resp, err := f.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `name="code"`) || !strings.Contains(string(b), `action="`+scenario.DemoConnectURI+`"`) {
		t.Errorf("form_post: %d %s", resp.StatusCode, b)
	}

	// Device login page.
	_, dc := f.post("/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {scenario.DemoAppID}, "scope": {"openid offline_access"}})
	if resp, _ := f.get("/devicelogin"); resp.StatusCode != 200 {
		t.Errorf("device login page: %d", resp.StatusCode)
	}
	resp, _ = f.post("/devicelogin", url.Values{"otc": {strings.ToLower(dc["user_code"].(string))}, "login": {scenario.DemoServiceAccountUPN}, "mfa": {"true"}, "action": {"approve"}})
	if resp.StatusCode != 200 {
		t.Errorf("device login post: %d", resp.StatusCode)
	}
	resp, body := f.post("/organizations/oauth2/v2.0/token", url.Values{"grant_type": {deviceCodeGrant}, "client_id": {scenario.DemoAppID}, "device_code": {dc["device_code"].(string)}})
	if c, _ := f.svc.iss.Verify(fmt.Sprint(body["access_token"])); resp.StatusCode != 200 || c == nil || !c.HasMFA() {
		t.Errorf("device token after the page: %d %v", resp.StatusCode, body)
	}

	// Admin consent for organizations: the admin names the tenant.
	consent := "/organizations/v2.0/adminconsent?" + url.Values{"client_id": {scenario.DemoAppID}, "redirect_uri": {scenario.DemoConsentURI}, "state": {"c"}}.Encode()
	resp, _ = f.post(consent, url.Values{"consent_tenant": {"woodgrovebank.onmicrosoft.com"}, "action": {"approve"}})
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("tenant") != scenario.DemoWoodgroveBank || loc.Query().Get("admin_consent") != "True" {
		t.Errorf("consent post: %d %s", resp.StatusCode, loc)
	}
}

// TestCustomerUserSignIn: a customer tenant's own user signs in where the app is consented, and
// gets consent_required (AADSTS65001) where it is not.
func TestCustomerUserSignIn(t *testing.T) {
	f := newFixture(t)
	userOf := func(tenantID string) string {
		tn, ok := f.dir.World().Tenant(tenantID)
		if !ok {
			t.Fatal(tenantID)
		}
		u, ok := tn.User(0)
		if !ok {
			t.Fatal("no user 0")
		}
		return u.UserPrincipalName
	}
	q := url.Values{"client_id": {scenario.DemoAppID}, "response_type": {"code"}, "redirect_uri": {scenario.DemoConnectURI},
		"scope": {"https://graph.microsoft.com/User.Read openid"}, "state": {"x"}}
	q.Set("sim_user", userOf(scenario.DemoContosoDental))
	cb := f.authorize("organizations", q)
	resp, body := f.post("/organizations/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {scenario.DemoAppID},
		"client_secret": {scenario.DemoSecretValue}, "code": {cb.Get("code")}, "redirect_uri": {scenario.DemoConnectURI}})
	if resp.StatusCode != 200 {
		t.Fatalf("customer user: %d %v", resp.StatusCode, body)
	}
	if c, _ := f.svc.iss.Verify(body["access_token"].(string)); c == nil || c.TenantID != scenario.DemoContosoDental || c.Scope != "User.Read" || body["refresh_token"] != nil {
		t.Errorf("customer user token %v", body)
	}
	q.Set("sim_user", userOf(scenario.DemoWoodgroveBank))
	if cb := f.authorize("organizations", q); cb.Get("error") != "consent_required" || !strings.HasPrefix(cb.Get("error_description"), "AADSTS65001:") {
		t.Errorf("unconsented tenant's user: %v", cb)
	}
}
