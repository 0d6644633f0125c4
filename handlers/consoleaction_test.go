package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
)

// ConsoleAction: each action answers 303 back to the tenant page with a fixed outcome code, and
// does what it says (or nothing, when it cannot).
func TestConsoleAction(t *testing.T) {
	e := newConsoleEnv(t)
	act := func(tenant, action string, form url.Values) string {
		t.Helper()
		rec := e.post("/tenants/"+tenant+"/actions/"+action, form)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", action, rec.Code, rec.Body)
		}
		loc, err := url.Parse(rec.Header().Get("Location"))
		if err != nil || loc.Path != "/tenants/"+tenant {
			t.Fatalf("%s: redirect to %q", action, rec.Header().Get("Location"))
		}
		return loc.Query().Get("done")
	}

	if got := act(e.tenant, "exclude", nil); got != "excluded" || !e.excluded() {
		t.Errorf("exclude: %q, excluded %v", got, e.excluded())
	}
	if got := act(e.tenant, "include", nil); got != "included" || e.excluded() {
		t.Errorf("include: %q, excluded %v", got, e.excluded())
	}

	if got := act(e.tenant, "sync", nil); got != "sync-queued" {
		t.Fatalf("sync: %q", got)
	}
	msgs := e.queue.Tenants(t)
	if len(msgs) != 1 || msgs[0] != e.tenant {
		t.Fatalf("queued messages for %v, want one for %s", msgs, e.tenant)
	}
	var req domain.SyncRequest
	err := json.Unmarshal(e.queue.Messages()[0].Body, &req)
	if err != nil || req.Reason != "manual" {
		t.Errorf("queued request %+v (%v), want a manual sync", req, err)
	}
	if tn, err := e.store.GetTenant(e.ctx, e.tenant); err != nil || tn.Sync.State != domain.SyncQueued || tn.Sync.LastRunID != req.RunID {
		t.Errorf("tenant after sync: %+v %v", tn.Sync, err)
	}
	if got := act(e.tenant, "consent-link", url.Values{"email": {"admin@fabrikam.com"}}); got != "already-consented" {
		t.Errorf("consent link for a consented tenant: %q", got)
	}

	// An unconsented tenant: no sync, and the consent link needs a valid address and a mailbox.
	other := "00000000-0000-4000-8000-" + e.tenant[len(e.tenant)-12:]
	e.addTenant(domain.Tenant{TenantID: other, DisplayName: "Woodgrove", Consent: domain.Consent{State: domain.ConsentNone}})
	for _, c := range []struct {
		action string
		form   url.Values
		want   string
	}{
		{"sync", nil, "not-consented"},
		{"consent-link", url.Values{"email": {"not an address"}}, "invalid-email"},
		{"consent-link", url.Values{"email": {"admin@woodgrove.com"}}, "mail-unconfigured"},
		{"cpv", nil, "cpv-skipped"}, // no active GDAP relationship
	} {
		if got := act(other, c.action, c.form); got != c.want {
			t.Errorf("%s on an unconsented tenant: %q, want %q", c.action, got, c.want)
		}
	}
	if len(e.queue.Tenants(t)) != 1 {
		t.Errorf("an unconsented tenant's sync was queued: %v", e.queue.Tenants(t))
	}
	// Eligible for Partner Center consent, but no partner connection is configured.
	e.addTenant(domain.Tenant{TenantID: other, Relationship: domain.Relationship{ID: "rel", Status: "active", Roles: []string{discovery.RoleCloudApplicationAdmin}}})
	if got := act(other, "cpv", nil); got != "partner-needed" {
		t.Errorf("cpv without a partner connection: %q", got)
	}

	wantPage(t, e.post("/tenants/"+e.tenant+"/actions/delete", nil), http.StatusNotFound, "No such action")
	wantPage(t, e.post("/tenants/nope/actions/sync", nil), http.StatusNotFound, "not a tenant id")
	wantPage(t, e.post("/tenants/00000000-0000-4000-8000-00000000dead/actions/sync", nil), http.StatusNotFound, "No such tenant")
}

// "Sync now" on a tenant the worker would refuse names the reason on the page (excluded first,
// as the worker checks it first; then missing consent), queues nothing and changes nothing.
func TestConsoleSyncNowNamesTheRefusal(t *testing.T) {
	e := newInputsEnv(t)
	key := []byte("k-k-k-k-k-k-k-k-k-k-k-k-k-k-k-k-")
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	mux := New(Deps{Store: e.store, Queue: e.queue, Log: log, Now: time.Now, PublicBaseURL: inputsPublic,
		ConsoleSettings: ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: consoleTestGroup}, CSRFKey: key}})
	admin := consolePrincipal(consoleTestGroup)
	csrf := console.CSRF{Key: key, Now: time.Now}.Token("a1")
	post := func() string {
		t.Helper()
		r := httptest.NewRequest("POST", "/tenants/"+e.tenant+"/actions/sync", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-MS-CLIENT-PRINCIPAL", admin)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("sync now: %d %s", w.Code, w.Body)
		}
		loc := w.Header().Get("Location")
		// The page the browser lands on shows the flash.
		g := httptest.NewRequest("GET", loc+"&tab=access", nil)
		g.Header.Set("X-MS-CLIENT-PRINCIPAL", admin)
		pw := httptest.NewRecorder()
		mux.ServeHTTP(pw, g)
		if pw.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", loc, pw.Code)
		}
		return loc + "\n" + pw.Body.String()
	}
	set := func(excluded bool, consent string) {
		t.Helper()
		tn, err := e.store.GetTenant(e.ctx, e.tenant)
		if err != nil {
			t.Fatal(err)
		}
		tn.Excluded, tn.Consent.State = excluded, consent
		if err := e.store.UpsertTenant(e.ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	set(true, domain.ConsentNone) // both: exclusion is named first
	if got := post(); !strings.Contains(got, "done=sync-excluded") || !strings.Contains(got, "this tenant is excluded from syncs. Include it first") {
		t.Errorf("excluded and not consented:\n%.400s", got)
	}
	set(false, domain.ConsentPending)
	if got := post(); !strings.Contains(got, "done=not-consented") || !strings.Contains(got, "tenantsync has no consent in this tenant") {
		t.Errorf("not consented:\n%.400s", got)
	}
	if n := len(e.queue.Tenants(t)); n != 0 {
		t.Errorf("%d messages queued for refused syncs", n)
	}
	tn, _ := e.store.GetTenant(e.ctx, e.tenant)
	if tn.Sync.State != domain.SyncNever {
		t.Errorf("sync state %q after refused syncs", tn.Sync.State)
	}
	set(false, domain.ConsentConsented)
	if got := post(); !strings.Contains(got, "done=sync-queued") {
		t.Errorf("consented: %.300s", got)
	}
}
