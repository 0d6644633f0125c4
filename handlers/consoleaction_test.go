package handlers

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/domain"
)

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
	if n := len(e.queue.tenants()); n != 0 {
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
