package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/partner"
)

// ConsolePartnerConnect: GET /partner/connect sends the signed-in admin to the partner tenant's
// sign-in with a state naming them; not signed in, to App Service Authentication's sign-in
// first; outside the admin group, 403; with the partner connection unconfigured, the console's
// 500 page (the cause in the log only). Against the simulator's Entra ID (partnerEnv) on the
// shared Azurite.
func TestConsolePartnerConnect(t *testing.T) {
	e := newPartnerEnvOn(t, sharedTables(t))
	settings := ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: adminGroup}, CSRFKey: []byte("console-partner-tests-csrf-key-0123456789")}
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	e.mux = New(Deps{Store: e.store, Partner: e.svc, Log: log, Now: time.Now, ConsoleSettings: settings})

	r := e.serve("GET", "/partner/connect", consoleAdmin("alice@contosomsp.onmicrosoft.com", adminGroup), "")
	loc := r.Header().Get("Location")
	if r.Code != http.StatusFound || !strings.HasPrefix(loc, strings.TrimRight(e.ep.AuthorityHost, "/")+"/"+e.ep.PartnerTenantID+"/oauth2/v2.0/authorize?") {
		t.Fatalf("connect: %d to %q", r.Code, loc)
	}
	if _, c := stateOf(t, loc); c.By != "alice@contosomsp.onmicrosoft.com" {
		t.Errorf("the sign-in's state names %q, want the signed-in admin", c.By)
	}
	if r.Header().Get("Content-Security-Policy") != console.ContentSecurityPolicy {
		t.Error("no Content-Security-Policy")
	}

	r = e.serve("GET", "/partner/connect", nil, "")
	if got := r.Header().Get("Location"); r.Code != http.StatusFound || got != console.SignInURL("/partner/connect") {
		t.Errorf("not signed in: %d to %q", r.Code, got)
	}
	r = e.serve("GET", "/partner/connect", consoleAdmin("bob@contosomsp.onmicrosoft.com", "other-group"), "")
	if r.Code != http.StatusForbidden || r.Header().Get("Location") != "" {
		t.Errorf("outside the admin group: %d to %q", r.Code, r.Header().Get("Location"))
	}

	// Not configured (no state signing key): the console's error page, the cause in the log.
	e.mux = New(Deps{Store: e.store, Partner: partner.New(partner.Options{Store: e.store, Log: log}), Log: log, Now: time.Now, ConsoleSettings: settings})
	r = e.serve("GET", "/partner/connect", consoleAdmin("alice@contosomsp.onmicrosoft.com", adminGroup), "")
	page, _ := io.ReadAll(r.Body)
	if r.Code != http.StatusInternalServerError || r.Header().Get("Location") != "" || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") ||
		strings.Contains(string(page), "STATE_SIGNING_KEY") {
		t.Errorf("unconfigured: %d\n%s", r.Code, page)
	}
	if !strings.Contains(e.logs.String(), "STATE_SIGNING_KEY") {
		t.Error("the log does not say what is missing")
	}
	e.noTokens(t, []string{loc})
}
