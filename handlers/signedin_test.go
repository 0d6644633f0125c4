package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Every keyed API function has a signed-in twin under /console/api: anonymous at the Functions
// level, served by the same handler, and admitting only a signed-in admin, same-site for writes.
// (The host end to end: shared/localdev/e2e/signedin_e2e_test.go.)
func TestSignedInTwins(t *testing.T) {
	d := Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
		AppServiceAuth: true, AdminGroupID: consoleTestGroup, PublicBaseURL: "https://tenantsync.example.com"}
	routes := HTTPRoutes(d)
	for name, r := range routes {
		if r.Anonymous || strings.HasSuffix(name, signedInSuffix) {
			continue
		}
		twin, ok := routes[name+signedInSuffix]
		method, path, _ := strings.Cut(r.Pattern, " ")
		if !ok || !twin.Anonymous || twin.Pattern != method+" "+SignedInPrefix+path {
			t.Errorf("%s (%s): twin %+v, want anonymous %s %s%s", name, r.Pattern, twin, method, SignedInPrefix, path)
		}
	}

	reached := 0
	h := d.signedIn(func(w http.ResponseWriter, r *http.Request) {
		reached++
		if got := apiPath(r.Context(), "/api/operations/x"); got != "/console/api/operations/x" {
			t.Errorf("links for a signed-in caller point at %q", got)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	do := func(method, principal string, header ...string) int {
		r := httptest.NewRequest(method, "/console/api/discovery", nil)
		if principal != "" {
			r.Header.Set("X-MS-CLIENT-PRINCIPAL", principal)
		}
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h(w, r)
		return w.Code
	}
	admin, outsider := consolePrincipal(consoleTestGroup), consolePrincipal("someone-else")
	for _, c := range []struct {
		what, method, principal string
		header                  []string
		want                    int
	}{
		{"not signed in", "GET", "", nil, http.StatusUnauthorized},
		{"outside the admin group", "GET", outsider, nil, http.StatusForbidden},
		{"admin reads", "GET", admin, nil, http.StatusNoContent},
		{"admin writes from the console", "POST", admin, []string{"Sec-Fetch-Site", "same-origin"}, http.StatusNoContent},
		{"admin writes from another site", "POST", admin, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"admin writes, foreign Origin", "POST", admin, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"admin writes, own Origin", "POST", admin, []string{"Origin", "https://tenantsync.example.com"}, http.StatusNoContent},
	} {
		before := reached
		if got := do(c.method, c.principal, c.header...); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
		if served := reached > before; served != (c.want == http.StatusNoContent) {
			t.Errorf("%s: handler reached %v", c.what, served)
		}
	}
	// Without App Service Authentication the principal header is anyone's to send: never trusted.
	d.AppServiceAuth = false
	h2 := d.signedIn(func(w http.ResponseWriter, r *http.Request) { t.Error("reached without App Service Authentication") })
	r := httptest.NewRequest("GET", "/console/api/tenants", nil)
	r.Header.Set("X-MS-CLIENT-PRINCIPAL", admin)
	w := httptest.NewRecorder()
	h2(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("forged principal without App Service Authentication: %d", w.Code)
	}
}
