package handlers

import (
	"context"
	"encoding/base64"
	"encoding/json"
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

// ConsolePartner and ConsolePartnerConnect: the partner connection page shows the stored record
// (never a token), and "connect" sends the signed-in admin to the partner tenant's sign-in with a
// state naming them. Against the simulator's Entra ID and Key Vault (partnerEnv).
func TestConsolePartnerPages(t *testing.T) {
	e := newPartnerEnv(t)
	key := []byte("console-partner-tests-csrf-key-0123456789")
	mux := New(Deps{Store: e.store, Partner: e.svc, Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: time.Now,
		AppAuth: config.AuthSecret, Vault: e.vault,
		ConsoleSettings: ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: adminGroup}, CSRFKey: key}})
	// The console needs the principal's object id (oid) as well as its name.
	claims, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": "name", "claims": []map[string]string{
		{"typ": "oid", "val": "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"}, {"typ": "name", "val": "alice@contosomsp.onmicrosoft.com"}, {"typ": "groups", "val": adminGroup}}})
	admin := http.Header{"X-Ms-Client-Principal": {base64.StdEncoding.EncodeToString(claims)}}
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

	r = serve("/partner/connect")
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(loc, strings.TrimRight(e.ep.AuthorityHost, "/")+"/"+e.ep.PartnerTenantID+"/oauth2/v2.0/authorize?") {
		t.Fatalf("connect: %d to %q", r.StatusCode, loc)
	}
	if _, c := stateOf(t, loc); c.By != "alice@contosomsp.onmicrosoft.com" {
		t.Errorf("the sign-in's state names %q, want the signed-in admin", c.By)
	}

	// The app credential's expiry (Key Vault's attributes, here a fake of identity.Expirer): the
	// page and GET /api/partner warn weeks ahead.
	expires := time.Now().Add(10 * 24 * time.Hour).UTC()
	mux = New(Deps{Store: e.store, Partner: e.svc, Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: time.Now,
		AppAuth: config.AuthSecret, Vault: fixedExpiry(expires), AdminGroupID: adminGroup, AppServiceAuth: true,
		ConsoleSettings: ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: adminGroup}, CSRFKey: key}})
	e.mux = mux
	r = serve("/partner")
	if page := body(r); r.StatusCode != http.StatusOK || !strings.Contains(page, expires.Format("2006-01-02")) || !strings.Contains(page, "run tenantsync register to renew it") {
		t.Errorf("credential expiry on the page: %d\n%s", r.StatusCode, page)
	}
	r = serve("/api/partner")
	var api struct {
		ConnectedBy   string
		AppCredential *struct {
			Mode     string
			DaysLeft *int
			Warning  string
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&api); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/partner: %d %v", r.StatusCode, err)
	}
	if c := api.AppCredential; api.ConnectedBy != "svc-tenantsync@contosomsp.onmicrosoft.com" || c == nil || c.Mode != config.AuthSecret || c.DaysLeft == nil || *c.DaysLeft != 9 || c.Warning == "" {
		t.Errorf("GET /api/partner: %+v %+v", api, api.AppCredential)
	}
}

// fixedExpiry is a identity.Expirer whose every secret expires at one time.
type fixedExpiry time.Time

func (f fixedExpiry) Expiry(context.Context, string) (time.Time, error) { return time.Time(f), nil }
