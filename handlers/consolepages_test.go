package handlers

// The console's functions through the handler's own mux, signed in as an admin (App Service
// Authentication's principal), on the shared Azurite. Consent is a consent.Service without a
// mailbox or Partner Center connection: the console actions' outcomes that need neither.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/domain"
)

var consoleTestKey = []byte("console-handler-tests-csrf-key-0123456789")

type consoleEnv struct {
	*inputsEnv
	csrf string
}

// newConsoleEnv is newInputsEnv's consented tenant (12 groups) behind the console's sign-in.
func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	in := newInputsEnv(t)
	log := slog.New(slog.NewJSONHandler(in.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in.mux = New(Deps{Store: in.store, Queue: in.queue, Log: log, Now: time.Now,
		Consent:         consent.New(consent.Options{Store: in.store, Queue: in.queue, Log: log}),
		ConsoleSettings: ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: consoleTestGroup}, CSRFKey: consoleTestKey}})
	// consolePrincipal's object id is "a1".
	return &consoleEnv{inputsEnv: in, csrf: console.CSRF{Key: consoleTestKey, Now: time.Now}.Token("a1")}
}

// get sends a signed-in GET.
func (e *consoleEnv) get(target string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do("GET", target, "", "X-MS-CLIENT-PRINCIPAL", consolePrincipal(consoleTestGroup))
}

// post sends a signed-in form POST with a valid CSRF token.
func (e *consoleEnv) post(target string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set(console.FieldName, e.csrf)
	return e.do("POST", target, form.Encode(), "X-MS-CLIENT-PRINCIPAL", consolePrincipal(consoleTestGroup), "Content-Type", "application/x-www-form-urlencoded")
}

// addTenant stores another tenant on the shared Azurite.
func (e *consoleEnv) addTenant(tn domain.Tenant) {
	e.t.Helper()
	if err := e.store.UpsertTenant(context.Background(), tn); err != nil {
		e.t.Fatal(err)
	}
}

func wantPage(t *testing.T, rec *httptest.ResponseRecorder, status int, contains ...string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); status < 300 && !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	if rec.Header().Get("Content-Security-Policy") != console.ContentSecurityPolicy {
		t.Error("console answer without its Content-Security-Policy")
	}
	for _, s := range contains {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("page lacks %q", s)
		}
	}
}

func wantCSV(t *testing.T, rec *httptest.ResponseRecorder, file string, contains ...string) {
	t.Helper()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="`+file+`"` {
		t.Errorf("Content-Disposition %q, want file %q", cd, file)
	}
	if !strings.HasPrefix(rec.Body.String(), "\ufeff") {
		t.Error("CSV without the UTF-8 byte order mark")
	}
	for _, s := range contains {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("CSV lacks %q", s)
		}
	}
}
