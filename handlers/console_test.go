package handlers

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/console"
)

const consoleTestGroup = "0c7a1f5e-3b2d-4c6e-8f9a-7d1e2c3b4a50"

func consolePrincipal(groups ...string) string {
	claims := []map[string]string{{"typ": "oid", "val": "a1"}, {"typ": "preferred_username", "val": "someone@msp"}}
	for _, g := range groups {
		claims = append(claims, map[string]string{"typ": "groups", "val": g})
	}
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": "preferred_username", "claims": claims})
	return base64.StdEncoding.EncodeToString(b)
}

// The console's gate answers before any storage is touched: sign-in redirects, refusals, CSRF,
// and the security headers on every answer.
func TestConsoleGate(t *testing.T) {
	d := Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
		ConsoleSettings: ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: consoleTestGroup}, CSRFKey: []byte("k-k-k-k-k-k-k-k-k-k-k-k-k-k-k-k-")}}
	mux := New(d)
	do := func(method, path, principal string, form url.Values) *httptest.ResponseRecorder {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		r := httptest.NewRequest(method, path, body)
		if form != nil {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if principal != "" {
			r.Header.Set("X-MS-CLIENT-PRINCIPAL", principal)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if csp := w.Header().Get("Content-Security-Policy"); csp != console.ContentSecurityPolicy {
			t.Errorf("%s %s: CSP %q", method, path, csp)
		}
		return w
	}
	id := "8ed1aad4-3aba-443c-ab88-c01a25f66cd3"
	if w := do("GET", "/tenants/"+id+"?tab=runs", "", nil); w.Code != http.StatusFound || w.Header().Get("Location") != "/.auth/login/aad?post_login_redirect_uri=%2Ftenants%2F"+id+"%3Ftab%3Druns" {
		t.Errorf("not signed in: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := do("POST", "/tenants/"+id+"/actions/sync", "", url.Values{}); w.Code != http.StatusUnauthorized {
		t.Errorf("POST not signed in: %d", w.Code)
	}
	if w := do("GET", "/", consolePrincipal("another-group"), nil); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "admin group") {
		t.Errorf("outsider: %d %s", w.Code, w.Body)
	}
	admin := consolePrincipal(consoleTestGroup)
	for _, form := range []url.Values{{}, {"csrf": {"1.AAAA"}}, {"csrf": {console.CSRF{Key: []byte("other")}.Token("a1")}}} {
		if w := do("POST", "/tenants/"+id+"/actions/exclude", admin, form); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "reload the page") {
			t.Errorf("POST with csrf %q: %d %s", form.Get("csrf"), w.Code, w.Body)
		}
	}
	off := New(Deps{Log: d.Log, Now: time.Now, ConsoleSettings: ConsoleSettings{Auth: console.AuthSettings{AdminGroupID: consoleTestGroup}}})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-MS-CLIENT-PRINCIPAL", admin)
	w := httptest.NewRecorder()
	off.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "WEBSITE_AUTH_ENABLED") {
		t.Errorf("principal with App Service Authentication off: %d %s", w.Code, w.Body)
	}
	if w := do("GET", "/static/console.js", "", nil); w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("script: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	if w := do("GET", "/static/..%2Fauth.go", "", nil); w.Code != http.StatusNotFound {
		t.Errorf("asset path escape: %d", w.Code)
	}
}

func TestAcceptsCSV(t *testing.T) {
	for accept, want := range map[string]bool{"text/csv": true, "application/json, text/csv;q=0.5": true, "text/csv;q=0": false, "": false, "application/json": false, "*/*": false} {
		r := httptest.NewRequest("GET", "/api/tenants", nil)
		r.Header.Set("Accept", accept)
		if got := acceptsCSV(r); got != want {
			t.Errorf("Accept %q: %v", accept, got)
		}
	}
}
