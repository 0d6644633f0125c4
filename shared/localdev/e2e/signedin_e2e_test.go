package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// signInSession signs upn in through the local App Service Authentication (the simulator's Entra,
// non-interactively) and returns the session cookie.
func (s *consentStack) signInSession(upn string) *http.Cookie {
	s.t.Helper()
	status, hdr, body := s.call("GET", "/.auth/login/aad?post_login_redirect_uri=/", "", true)
	if status != http.StatusFound {
		s.t.Fatalf("/.auth/login/aad: %d %s", status, body)
	}
	back := s.entra(hdr.Get("Location") + "&sim_user=" + url.QueryEscape(upn))
	resp, err := s.browser.Get(back.String())
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "AppServiceAuthSession" {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	s.t.Fatalf("no session after signing in %s: %d", upn, resp.StatusCode)
	return nil
}

// The admin API through the local Functions host with App Service Authentication on: automation
// with the function key under /api/; a signed-in admin without a key under /console/api/ (the
// host refuses a keyless request on an authLevel function route whoever is signed in); an
// unsigned browser, a forged principal and a user outside the admin group refused; cross-site
// state changes refused; links in answers follow the caller's route.
func TestSignedInAdminAPIThroughTheHost(t *testing.T) {
	s := startConsentStack(t)
	admin := s.signInSession(scenario.DemoAdminUPN)
	tech := s.signInSession(scenario.DemoNoMFAUPN)
	do := func(method, path string, key bool, session *http.Cookie, hdr ...string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, nil)
		if key {
			req.Header.Set("x-functions-key", s.key)
		}
		if session != nil {
			req.AddCookie(session)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := (&http.Client{Timeout: time.Minute, CheckRedirect: s.browser.CheckRedirect}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	code := func(body string) string {
		var e struct{ Error struct{ Code string } }
		_ = json.Unmarshal([]byte(body), &e)
		return e.Error.Code
	}
	forged, _ := json.Marshal(map[string]any{"auth_typ": "aad", "claims": []map[string]string{{"typ": "oid", "val": scenario.DemoAdminID}, {"typ": "groups", "val": scenario.DemoAdminGroupID}}})

	for _, c := range []struct {
		name       string
		method     string
		path       string
		key        bool
		session    *http.Cookie
		hdr        []string
		wantStatus int
		wantCode   string
	}{
		{"automation with the key", "GET", "/api/tenants", true, nil, nil, http.StatusOK, ""},
		{"automation without the key", "GET", "/api/tenants", false, nil, nil, http.StatusUnauthorized, ""},
		{"signed-in admin without a key on the keyed route", "GET", "/api/tenants", false, admin, nil, http.StatusUnauthorized, ""},
		{"signed-in admin without a key", "GET", "/console/api/tenants", false, admin, nil, http.StatusOK, ""},
		{"signed-in admin, one tenant (not discovered yet)", "GET", "/console/api/tenants/" + scenario.DemoContosoDental, false, admin, nil, http.StatusNotFound, "TenantNotFound"},
		{"unsigned browser", "GET", "/console/api/tenants", false, nil, nil, http.StatusUnauthorized, "SignInRequired"},
		{"unsigned browser with a key is still not signed in", "GET", "/console/api/tenants", true, nil, nil, http.StatusUnauthorized, "SignInRequired"},
		{"forged principal header", "GET", "/console/api/tenants", false, nil, []string{"X-MS-CLIENT-PRINCIPAL", base64.StdEncoding.EncodeToString(forged)}, http.StatusUnauthorized, "SignInRequired"},
		{"signed in outside the admin group", "GET", "/console/api/tenants", false, tech, nil, http.StatusForbidden, "Forbidden"},
		{"outside the admin group with a key", "GET", "/api/tenants", true, tech, nil, http.StatusForbidden, "Forbidden"},
		{"cross-site state change", "POST", "/console/api/discovery", false, admin, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, "CrossSiteRequest"},
		{"cross-origin state change", "POST", "/console/api/discovery", false, admin, []string{"Origin", "https://evil.example"}, http.StatusForbidden, "CrossSiteRequest"},
	} {
		status, _, body := do(c.method, c.path, c.key, c.session, c.hdr...)
		if status != c.wantStatus || code(body) != c.wantCode {
			t.Errorf("%s: %s %s answered %d %s; want %d %q", c.name, c.method, c.path, status, body, c.wantStatus, c.wantCode)
		}
	}

	// A signed-in admin starts discovery from the site: 202, recorded as asked by that admin, and
	// the status link stays on the signed-in route (the keyed one would refuse the browser).
	status, hdr, body := do("POST", "/console/api/discovery", false, admin, "Sec-Fetch-Site", "same-origin")
	var op struct {
		ID, StatusURL, RequestedBy string
	}
	_ = json.Unmarshal([]byte(body), &op)
	if status != http.StatusAccepted || !strings.HasPrefix(op.StatusURL, "/console/api/operations/") || hdr.Get("Location") != op.StatusURL {
		t.Fatalf("signed-in discovery: %d %s (Location %q)", status, body, hdr.Get("Location"))
	}
	if status, _, body = do("GET", op.StatusURL, false, admin); status != http.StatusOK || !strings.Contains(body, scenario.DemoAdminUPN) {
		t.Errorf("operation status for the signed-in admin: %d %s", status, body)
	}
	if status, _, body = do("GET", strings.TrimPrefix(op.StatusURL, "/console"), true, nil); status != http.StatusOK {
		t.Errorf("operation status for automation: %d %s", status, body)
	}
	s.waitIdle()
}

// A partner user in more than 200 groups signs in with the groups overage claim instead of a
// group list: membership of the admin group is asked of the simulator's Graph
// (checkMemberGroups), so a member reaches the console and the signed-in API, and a non-member
// is refused as outside the group.
func TestGroupOverageSignInThroughTheHost(t *testing.T) {
	f := scenario.DemoFile(time.Now())
	many := func(id, upn string, admin bool) scenario.PartnerUserSpec {
		u := scenario.PartnerUserSpec{ID: id, UPN: upn, DisplayName: "Many Groups", MFA: true}
		for i := range 210 {
			u.Groups = append(u.Groups, fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		}
		if admin {
			u.Groups = append(u.Groups, scenario.DemoAdminGroupID)
		}
		return u
	}
	const memberUPN, otherUPN = "manygroups@" + scenario.DemoPartnerDomain, "manyothers@" + scenario.DemoPartnerDomain
	f.Partner.Users = append(f.Partner.Users, many("7b0d6c2e-1a3f-4e5d-9c8b-0a1b2c3d4e5f", memberUPN, true),
		many("8c1e7d3f-2b4a-4f6e-8d9c-1b2c3d4e5f60", otherUPN, false))
	w, err := scenario.New(f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := startConsentStackOn(t, w)
	for upn, want := range map[string]int{memberUPN: http.StatusOK, otherUPN: http.StatusForbidden} {
		session := s.signInSession(upn)
		for _, path := range []string{"/console/api/tenants", "/"} {
			req, _ := http.NewRequest("GET", s.url+path, nil)
			req.AddCookie(session)
			resp, err := (&http.Client{Timeout: time.Minute, CheckRedirect: s.browser.CheckRedirect}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want || (want == http.StatusForbidden && !strings.Contains(string(b), "admin group")) {
				t.Errorf("%s GET %s: %d %.300s; want %d", upn, path, resp.StatusCode, b, want)
			}
		}
	}
	calls := int64(0)
	for _, r := range s.sim.Metrics.Rows() {
		if r.Service == "graph" && r.Endpoint == "POST /users/{id}/checkMemberGroups" {
			calls += r.Requests
		}
	}
	if calls != 2 { // one per user: the second request of each is answered from the cache
		t.Errorf("%d checkMemberGroups calls, want 2", calls)
	}
}
