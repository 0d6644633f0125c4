package handlers

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/partner"
)

// Connect: GET /api/connect sends the caller to the partner tenant's sign-in (authorization code
// with PKCE, our callback as redirect_uri, a signed state naming who asked), never cached; a
// principal outside the admin group is refused; a forged principal without App Service
// Authentication counts as automation; an unconfigured partner connection is a 500 that names no
// setting (the log does). Against the simulator's Entra ID (partnerEnv) on the shared Azurite.
func TestConnect(t *testing.T) {
	e := newPartnerEnvOn(t, sharedTables(t))
	var answers []string
	keep := func(r *httptest.ResponseRecorder) *httptest.ResponseRecorder {
		answers = append(answers, r.Header().Get("Location")+"\n"+r.Body.String())
		return r
	}
	// /api/connect: a 302 to the partner tenant's authorize endpoint; the state names who asked.
	r := keep(e.serve("GET", "/api/connect", nil, ""))
	loc := r.Header().Get("Location")
	if r.Code != http.StatusFound || !strings.HasPrefix(loc, strings.TrimRight(e.ep.AuthorityHost, "/")+"/"+e.ep.PartnerTenantID+"/oauth2/v2.0/authorize?") {
		t.Fatalf("GET /api/connect: %d to %q", r.Code, loc)
	}
	if _, c := stateOf(t, loc); c.By != domain.AutomationCaller {
		t.Errorf("state by %q, want %q (no principal)", c.By, domain.AutomationCaller)
	}
	r = keep(e.serve("GET", "/api/connect", http.Header{"X-Ms-Client-Principal": {principal("alice@contosomsp.onmicrosoft.com", adminGroup)}}, ""))
	if _, c := stateOf(t, r.Header().Get("Location")); r.Code != http.StatusFound || c.By != "alice@contosomsp.onmicrosoft.com" {
		t.Errorf("admin principal: %d, by %q", r.Code, c.By)
	}
	if r := e.serve("GET", "/api/connect", http.Header{"X-Ms-Client-Principal": {principal("bob", "other-group")}}, ""); r.Code != http.StatusForbidden {
		t.Errorf("non-admin principal: %d, want 403", r.Code)
	}
	// Without App Service Authentication (WEBSITE_AUTH_ENABLED off) the header is anybody's: a
	// forged principal is ignored and the state names automation, not the forged name.
	on := e.mux
	e.mux = New(Deps{Store: e.store, Partner: e.svc, Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: time.Now, AdminGroupID: adminGroup})
	for _, forged := range []string{principal("mallory", adminGroup), principal("mallory", "other-group")} {
		r := keep(e.serve("GET", "/api/connect", http.Header{"X-Ms-Client-Principal": {forged}, "X-Ms-Client-Principal-Name": {"mallory"}}, ""))
		if _, c := stateOf(t, r.Header().Get("Location")); r.Code != http.StatusFound || c.By != domain.AutomationCaller {
			t.Errorf("forged principal, App Service Authentication off: %d, by %q, want %q", r.Code, c.By, domain.AutomationCaller)
		}
	}
	e.mux = on

	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("redirect_uri") != "http://localhost:7071/api/connect/callback" || q.Get("response_type") != "code" || q.Get("code_challenge") == "" ||
		q.Get("prompt") != "login" || r.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("authorize request %v, Cache-Control %q", q, r.Header().Get("Cache-Control"))
	}
	e.noTokens(t, answers)

	// Not configured (no state signing key): 500 without the setting's name; the log has it.
	e.mux = New(Deps{Store: e.store, Partner: partner.New(partner.Options{Store: e.store, Log: slog.New(slog.NewJSONHandler(e.logs, nil))}),
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: time.Now})
	r = e.serve("GET", "/api/connect", nil, "")
	if code, _ := errorCode(t, r); r.Code != http.StatusInternalServerError || code != "InternalError" || r.Header().Get("Location") != "" ||
		strings.Contains(r.Body.String(), "STATE_SIGNING_KEY") {
		t.Errorf("unconfigured: %d %s", r.Code, r.Body)
	}
	if !strings.Contains(e.logs.String(), "STATE_SIGNING_KEY") {
		t.Error("the log does not say what is missing")
	}
}
