package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/store"
)

// ConsolePartner: the partner connection page shows the stored record (never a token), a link to
// connect (ConsolePartnerConnect, consolepartnerconnect_test.go), and the app credential's
// expiry. Against the simulator's Key Vault (partnerEnv).
func TestConsolePartnerPages(t *testing.T) {
	e := newPartnerEnv(t)
	key := []byte("console-partner-tests-csrf-key-0123456789")
	mux := New(Deps{Store: e.store, Partner: e.svc, Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: time.Now,
		AppAuth: config.AuthSecret, Vault: e.vault,
		ConsoleSettings: ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: adminGroup}, CSRFKey: key}})
	admin := consoleAdmin("alice@contosomsp.onmicrosoft.com", adminGroup)
	e.mux = mux
	serve := func(target string) *http.Response { return e.serve("GET", target, admin, "").Result() }
	body := func(r *http.Response) string {
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}

	r := serve("/partner")
	if page := body(r); r.StatusCode != http.StatusOK || !strings.Contains(page, "Not connected") || !strings.Contains(page, `href="/partner/connect"`) {
		t.Fatalf("never connected: %d\n%s", r.StatusCode, page)
	}
	connected := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := e.store.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutPartner(t.Context(), store.PartnerConnection{Connected: true, ConnectedBy: "svc-tenantsync@contosomsp.onmicrosoft.com", ConnectedAt: connected}); err != nil {
		t.Fatal(err)
	}
	r = serve("/partner")
	page := body(r)
	if r.StatusCode != http.StatusOK || strings.Contains(page, "Not connected") || !strings.Contains(page, "svc-tenantsync@contosomsp.onmicrosoft.com") || !strings.Contains(page, console.ShortTime(connected)) {
		t.Errorf("connected: %d\n%s", r.StatusCode, page)
	}
	if tok := tokenShapes.FindString(page); tok != "" {
		t.Errorf("the partner page shows a token: %s", tok)
	}

	// The app credential's expiry (Key Vault's attributes, here a fake of identity.Expirer): the
	// page warns weeks ahead (GET /api/partner too: partnerstatus_test.go).
	expires := time.Now().Add(10 * 24 * time.Hour).UTC()
	mux = New(Deps{Store: e.store, Partner: e.svc, Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: time.Now,
		AppAuth: config.AuthSecret, Vault: fixedExpiry(expires), AdminGroupID: adminGroup, AppServiceAuth: true,
		ConsoleSettings: ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: adminGroup}, CSRFKey: key}})
	e.mux = mux
	r = serve("/partner")
	if page := body(r); r.StatusCode != http.StatusOK || !strings.Contains(page, expires.Format("2006-01-02")) || !strings.Contains(page, "run tenantsync register to renew it") {
		t.Errorf("credential expiry on the page: %d\n%s", r.StatusCode, page)
	}
}

// fixedExpiry is a identity.Expirer whose every secret expires at one time.
type fixedExpiry time.Time

func (f fixedExpiry) Expiry(context.Context, string) (time.Time, error) { return time.Time(f), nil }
