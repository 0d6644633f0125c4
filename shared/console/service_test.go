package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/insights"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv/devstore"
	"github.com/tenantsync/tenantsync/shared/store"
)

// The console's reads against Table Storage (Azurite): what each page is built from, paging and
// search over a stored collection, the run history, the access check and the live progress.

const (
	svcTenant = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	gdapRole  = "f2ef992c-3afb-46b9-b7cf-a126ee74c451" // Global Reader (discovery.RoleNames)
)

// seededService stores, in an empty account of the test process's Azurite (devenv's pool), one
// consented tenant with 60 users (two with MFA rows), a licence, a group, a device, a mailbox and
// two runs.
func seededService(t *testing.T) (context.Context, *Service, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st := devstore.Acquire(t)
	mfa := 50.0
	tn := domain.Tenant{TenantID: svcTenant, DisplayName: "Contoso", DefaultDomain: "contoso.onmicrosoft.com", Sources: []string{"gdap"},
		Relationship: domain.Relationship{ID: "rel", Status: "active", EndDateTime: now.Add(90 * 24 * time.Hour), Roles: []string{gdapRole, "custom-role-id"}},
		Consent:      domain.Consent{State: domain.ConsentConsented, Method: "cpv", UpdatedAt: now.Add(-time.Hour)},
		Sync:         domain.SyncStatus{State: domain.SyncSucceeded, LastRunID: "run-2", LastSuccessAt: now.Add(-time.Hour)}, MFARegisteredPercent: &mfa}
	if err := st.UpsertTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if err := st.SetTenantSyncResult(ctx, svcTenant, store.TenantSyncResult{State: domain.SyncSucceeded, RunID: "run-2", SucceededAt: now.Add(-time.Hour),
		Collections: map[string]store.CollectionStatus{"devices": {Available: false, Problem: &domain.Problem{Code: "NoIntune", Message: "The tenant has no Intune licence.", Remediation: "Assign Intune."}}}}); err != nil {
		t.Fatal(err)
	}
	put := func(table string, items map[string]any) {
		w := st.Collection(table, svcTenant)
		for k, v := range items {
			if err := w.Put(ctx, k, v); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Finish(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	users := map[string]any{}
	for i := 0; i < 60; i++ {
		name := fmt.Sprintf("User %02d", i)
		if i%20 == 0 {
			name = fmt.Sprintf("Finance %02d", i)
		}
		users[fmt.Sprintf("u%02d", i)] = domain.User{ID: fmt.Sprintf("u%02d", i), DisplayName: name, UserPrincipalName: fmt.Sprintf("u%02d@contoso.com", i), AccountEnabled: true, Licenses: []string{"SPE_E3"}}
	}
	put(store.TableUsers, users)
	yes, no := true, false
	put(store.TableUserSecurity, map[string]any{
		"u00": domain.UserSecurity{ID: "u00", MFARegistered: &yes, MFAMethods: []string{"microsoftAuthenticatorPush"}, IsAdmin: true, LastSignIn: now.Add(-2 * time.Hour)},
		"u01": domain.UserSecurity{ID: "u01", MFARegistered: &no},
	})
	put(store.TableLicenses, map[string]any{"sku1": domain.License{SkuID: "sku1", SkuPartNumber: "SPE_E3", ProductName: "Microsoft 365 E3", Enabled: 10, Consumed: 7, Available: 3, Status: "Enabled"}})
	put(store.TableGroups, map[string]any{"g1": domain.Group{ID: "g1", DisplayName: "Finance", Kind: "security", Mail: "fin@contoso.com"}})
	put(store.TableDevices, map[string]any{"d1": domain.Device{ID: "d1", DeviceName: "LAPTOP-1", OperatingSystem: "Windows", OSVersion: "11", ComplianceState: "compliant", Manufacturer: "Contoso", Model: "X1"}})
	put(store.TableMailboxes, map[string]any{store.MailboxKey("u00@contoso.com"): domain.Mailbox{UserPrincipalName: "u00@contoso.com", DisplayName: "Finance 00", StorageUsedBytes: 3 << 20, ItemCount: 42, HasArchive: true}})
	for _, r := range []domain.Run{
		{TenantID: svcTenant, RunID: "run-1", Reason: "scheduled", State: domain.SyncFailed, QueuedAt: now.Add(-3 * time.Hour), Error: &domain.Problem{Code: "Throttled", Message: "Graph answered 429.", Remediation: "Nothing: the next run retries."}},
		{TenantID: svcTenant, RunID: "run-2", Reason: "manual", State: domain.SyncSucceeded, QueuedAt: now.Add(-2 * time.Hour), StartedAt: now.Add(-2 * time.Hour),
			Collections: map[string]domain.RunCollection{"users": {Count: 60, Written: 60}, "devices": {Unavailable: "NoIntune"}, "groups": {Count: 1, Error: "Throttled"}}},
	} {
		if err := st.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, &Service{Store: st, Now: func() time.Time { return now }}, st
}

// column is one column's texts, by label.
func column(tb Table, label string) []string {
	var out []string
	for i := range tb.Rows {
		out = append(out, labelled(tb, i)[label].Text)
	}
	return out
}

func TestServiceReadsWhatThePagesShow(t *testing.T) {
	ctx, svc, st := seededService(t)

	t.Run("overview", func(t *testing.T) {
		o, err := svc.Overview(ctx, OverviewQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Rows) != 1 || o.Rows[0].T.TenantID != svcTenant || !o.Now.Equal(now) {
			t.Errorf("overview rows %+v at %v", o.Rows, o.Now)
		}
	})

	t.Run("users page by page", func(t *testing.T) {
		pg, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "users", Page: 1}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Table.Rows) != PageSize || pg.NextSkip == "" || pg.Busy || pg.Status.Key != "warn" || pg.Problem == nil || pg.Problem.Code != "NoIntune" {
			// The unavailable devices collection is the tenant's problem (an amber status).
			t.Fatalf("first page: %d rows, next %q, busy %v, status %+v, problem %+v", len(pg.Table.Rows), pg.NextSkip, pg.Busy, pg.Status, pg.Problem)
		}
		wantCells(t, "user joined with its MFA row", pg.Table, 0, map[string]string{"Name": "Finance 00", "User principal name": "u00@contoso.com", "Licences": "SPE_E3",
			"MFA": "registered", "MFA methods": "microsoftAuthenticatorPush", "Last sign-in": ShortTime(now.Add(-2 * time.Hour)), "Enabled": "yes", "Admin": "yes"})
		wantCells(t, "user not registered", pg.Table, 1, map[string]string{"MFA": "not registered", "Admin": "no"})
		wantCells(t, "user without an MFA row", pg.Table, 2, map[string]string{"MFA": "unknown", "Last sign-in": ""})
		if mfa := labelled(pg.Table, 0)["MFA"].Status + "," + labelled(pg.Table, 1)["MFA"].Status; mfa != "ok,bad" {
			t.Errorf("MFA badges %q, want ok,bad", mfa)
		}
		next, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "users", Skip: pg.NextSkip, Page: 1}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(next.Table.Rows) != 10 || next.NextSkip != "" || labelled(next.Table, 0)["User principal name"].Text != "u50@contoso.com" {
			t.Errorf("second page: %d rows %v, next %q", len(next.Table.Rows), column(next.Table, "User principal name"), next.NextSkip)
		}
	})

	t.Run("search", func(t *testing.T) {
		pg, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "users", Search: "FINANCE", Page: 1}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := column(pg.Table, "Name"); !reflect.DeepEqual(got, []string{"Finance 00", "Finance 20", "Finance 40"}) || pg.NextPage != 0 || pg.Truncated {
			t.Errorf("search: %v next page %d", got, pg.NextPage)
		}
		if !strings.Contains(pg.Table.Empty, "FINANCE") {
			t.Errorf("empty text of a search: %q", pg.Table.Empty)
		}
		all, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "users", Search: "user", Page: 1}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Table.Rows) != PageSize || all.NextPage != 2 {
			t.Errorf("57 matches: page of %d, next page %d", len(all.Table.Rows), all.NextPage)
		}
		p2, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "users", Search: "user", Page: 2}, false)
		if err != nil || len(p2.Table.Rows) != 7 || p2.NextPage != 0 {
			t.Errorf("second search page: %d rows, next %d, %v", len(p2.Table.Rows), p2.NextPage, err)
		}
		far, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "users", Search: "user", Page: 9}, false)
		if err != nil || len(far.Table.Rows) != 0 {
			t.Errorf("a page past the matches: %d rows, %v", len(far.Table.Rows), err)
		}
		csv, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "users", Page: 1}, true)
		if err != nil || len(csv.Table.Rows) != 60 {
			t.Errorf("every row (CSV): %d, %v", len(csv.Table.Rows), err)
		}
	})

	t.Run("other collections", func(t *testing.T) {
		for tab, want := range map[string]map[string]string{
			"licenses":  {"Product": "Microsoft 365 E3", "SKU": "SPE_E3", "Purchased": "10", "Consumed": "7", "Available": "3", "Suspended": "0", "Status": "Enabled"},
			"groups":    {"Name": "Finance", "Kind": "security", "Mail": "fin@contoso.com", "Description": ""},
			"devices":   {"Device": "LAPTOP-1", "Operating system": "Windows 11", "Compliance": "compliant", "Model": "Contoso X1"},
			"mailboxes": {"Mailbox": "u00@contoso.com", "Name": "Finance 00", "Size": "3.0 MiB", "Items": "42", "Archive": "yes"},
		} {
			pg, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: tab, Page: 1}, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(pg.Table.Rows) != 1 || pg.Table.Name != tab {
				t.Fatalf("%s table %q with %d rows, want 1", tab, pg.Table.Name, len(pg.Table.Rows))
			}
			wantCells(t, tab, pg.Table, 0, want)
		}
		pg, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "devices", Page: 1}, false)
		if err != nil || pg.Table.Note != "The tenant has no Intune licence. Assign Intune." {
			t.Errorf("unavailable collection's note %q (%v)", pg.Table.Note, err)
		}
	})

	t.Run("run history", func(t *testing.T) {
		pg, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "runs", Page: 1}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := column(pg.Table, "Run"); !reflect.DeepEqual(got, []string{"run-2", "run-1"}) {
			t.Fatalf("runs newest first: %v", got)
		}
		wantCells(t, "succeeded run", pg.Table, 0, map[string]string{"Reason": "manual", "State": "succeeded",
			"Collections": "devices 0 (unavailable: NoIntune); groups 1 (failed: Throttled); users 60 (60 written, 0 deleted)", "Error": ""})
		wantCells(t, "failed run", pg.Table, 1, map[string]string{"Reason": "scheduled", "State": "failed", "Error": "Throttled: Graph answered 429. Fix: Nothing: the next run retries."})
		if st := labelled(pg.Table, 0)["State"].Status + "," + labelled(pg.Table, 1)["State"].Status; st != "ok,bad" {
			t.Errorf("state badges %q, want ok,bad", st)
		}
		found, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "runs", Search: "Throttled", Page: 1}, false)
		if err != nil || !reflect.DeepEqual(column(found.Table, "Run"), []string{"run-2", "run-1"}) {
			t.Errorf("search in runs: %v %v", column(found.Table, "Run"), err)
		}
		found, err = svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "runs", Search: "scheduled", Page: 1}, false)
		if err != nil || !reflect.DeepEqual(column(found.Table, "Run"), []string{"run-1"}) {
			t.Errorf("search for scheduled runs: %v %v", column(found.Table, "Run"), err)
		}
	})

	t.Run("access check", func(t *testing.T) {
		pg, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "access", Page: 1}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(pg.Access.Roles, []string{"Global Reader", "custom-role-id"}) || pg.Access.Consent != "consented (cpv)" || !strings.HasPrefix(pg.Access.Relationship, "active, ends ") {
			t.Errorf("access: %+v", pg.Access)
		}
		if len(pg.Access.Permissions) == 0 {
			t.Fatal("a consented tenant lists no permissions")
		}
		for _, p := range pg.Access.Permissions {
			if p.Value == "Mail.Send" || p.Value == "DelegatedAdminRelationship.Read.All" {
				t.Errorf("partner-only permission %s shown for a customer tenant", p.Value)
			}
		}
		if a := accessOf(domain.Tenant{}, domain.Consent{State: domain.ConsentNone}); len(a.Permissions) != 0 || a.Relationship != "none" {
			t.Errorf("no consent, no relationship: %+v", a)
		}
	})

	t.Run("progress", func(t *testing.T) {
		p, err := svc.SyncProgress(ctx, svcTenant)
		if err != nil || !p.Done || p.Message != "Finished: succeeded." {
			t.Errorf("finished: %+v %v", p, err)
		}
		if err := st.MarkQueued(ctx, []domain.SyncRequest{{TenantID: svcTenant, RunID: "run-3", QueuedAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		if p, err := svc.SyncProgress(ctx, svcTenant); err != nil || p.Done || p.State != domain.SyncQueued || p.RunID != "run-3" {
			t.Errorf("queued: %+v %v", p, err)
		}
		if pg, err := svc.Tenant(ctx, svcTenant, TenantQuery{Tab: "groups", Page: 1}, false); err != nil || !pg.Busy {
			t.Errorf("a queued tenant's page must show live progress: busy %v, %v", pg.Busy, err)
		}
		started := time.Now().UTC().Truncate(time.Second)
		if err := st.SetTenantSyncResult(ctx, svcTenant, store.TenantSyncResult{State: domain.SyncRunning, RunID: "run-3", StartedAt: started}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutRun(ctx, domain.Run{TenantID: svcTenant, RunID: "run-3", State: domain.SyncRunning, QueuedAt: started, StartedAt: started}); err != nil {
			t.Fatal(err)
		}
		p, err = svc.SyncProgress(ctx, svcTenant)
		if err != nil || p.Done || !p.StartedAt.Equal(started) || !strings.HasPrefix(p.Message, "Running since "+ShortTime(started)) {
			t.Errorf("running: %+v %v", p, err)
		}
	})

	t.Run("insights", func(t *testing.T) {
		if err := st.PutSummary(ctx, svcTenant, insights.Summary{MFAKnown: true, WithoutMFACount: 1, WithoutMFA: []insights.UserRef{{UPN: "u01@contoso.com", Name: "User 01"}}}); err != nil {
			t.Fatal(err)
		}
		in, err := svc.Insights(ctx, 30)
		if err != nil {
			t.Fatal(err)
		}
		if len(in.MFA.Rows) != 1 || in.MFA.Rows[0][0].Text != "Contoso" || in.Days != 30 {
			t.Errorf("insights MFA rows %v (days %d)", in.MFA.Rows, in.Days)
		}
		if tb, ok := in.ByName(in.MFA.Name); !ok || !reflect.DeepEqual(tb, in.MFA) {
			t.Errorf("ByName(%q): %v", in.MFA.Name, ok)
		}
		if _, ok := in.ByName("nope"); ok {
			t.Error("ByName of an unknown table")
		}
	})

	t.Run("unknown tenant", func(t *testing.T) {
		if _, err := svc.Tenant(ctx, "00000000-0000-0000-0000-000000000001", TenantQuery{Tab: "users"}, false); !store.IsNotFound(err) {
			t.Errorf("page of an unknown tenant: %v", err)
		}
		if _, err := svc.SyncProgress(ctx, "00000000-0000-0000-0000-000000000001"); !store.IsNotFound(err) {
			t.Errorf("progress of an unknown tenant: %v", err)
		}
	})
}

// labelled is row i of tb by column label, so the assertions do not depend on column order.
func labelled(tb Table, i int) map[string]Cell {
	out := map[string]Cell{}
	for j, c := range tb.Columns {
		if i < len(tb.Rows) && j < len(tb.Rows[i]) {
			out[c.Label] = tb.Rows[i][j]
		}
	}
	return out
}

// wantCells checks the named cells' texts of row i.
func wantCells(t *testing.T, what string, tb Table, i int, want map[string]string) {
	t.Helper()
	row := labelled(tb, i)
	for label, text := range want {
		if c, ok := row[label]; !ok || c.Text != text {
			t.Errorf("%s: column %q is %q (present %v), want %q", what, label, c.Text, ok, text)
		}
	}
}

func TestParseTenantQuery(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if q := ParseTenantQuery(get(nil)); q != (TenantQuery{Tab: "users", Page: 1}) {
		t.Errorf("defaults: %+v", q)
	}
	q := ParseTenantQuery(get(map[string]string{"tab": "runs", "q": "  fin  ", "skip": "tok", "page": "3"}))
	if q != (TenantQuery{Tab: "runs", Search: "fin", Skip: "tok", Page: 3}) {
		t.Errorf("parsed: %+v", q)
	}
	for _, page := range []string{"0", "-1", "x", "1234567", "1e3"} {
		if q := ParseTenantQuery(get(map[string]string{"page": page})); q.Page != 1 {
			t.Errorf("page %q read as %d", page, q.Page)
		}
	}
	if q := ParseTenantQuery(get(map[string]string{"tab": "secrets"})); q.Tab != "users" {
		t.Errorf("unknown tab kept: %q", q.Tab)
	}
	if q := ParseTenantQuery(get(map[string]string{"q": strings.Repeat("a", 500)})); len(q.Search) != 200 {
		t.Errorf("search not capped: %d", len(q.Search))
	}
}

func TestCollectionRowsRefuseMalformedJSON(t *testing.T) {
	for _, c := range Collections {
		if _, err := c.Rows([]json.RawMessage{json.RawMessage(`{"id":`)}); err == nil || !strings.HasPrefix(err.Error(), c.Name+" row") {
			t.Errorf("%s: malformed row gave %v", c.Name, err)
		}
	}
	if _, ok := CollectionByName("runs"); ok {
		t.Error("runs is not a stored collection")
	}
	if !Matches(nil, "") || Matches([]Cell{text("Alpha")}, "beta") || !Matches([]Cell{text("x"), text("Alpha")}, "alp") {
		t.Error("Matches")
	}
}

func TestSmallHelpers(t *testing.T) {
	if got := CSVFileName("Contoso Ltd", "Users/../x"); got != "contosoltd-usersx.csv" {
		t.Errorf("CSV file name %q", got)
	}
	for in, want := range map[string]string{
		"/tenants/x?tab=runs": "/.auth/login/aad?post_login_redirect_uri=%2Ftenants%2Fx%3Ftab%3Druns",
		"//evil.example/":     "/.auth/login/aad?post_login_redirect_uri=%2F",
		"https://evil/":       "/.auth/login/aad?post_login_redirect_uri=%2F",
	} {
		if got := SignInURL(in); got != want {
			t.Errorf("SignInURL(%q) = %q, want %q", in, got, want)
		}
	}
	k1, k2 := DeriveKey([]byte("state-key")), DeriveKey([]byte("other"))
	if len(k1) != 32 || bytes.Equal(k1, k2) || bytes.Equal(k1, []byte("state-key")) || !bytes.Equal(k1, DeriveKey([]byte("state-key"))) {
		t.Error("DeriveKey must be a stable 32-byte key distinct per input")
	}
	h := http.Header{}
	SecureHeaders(h)
	if h.Get("Content-Security-Policy") != ContentSecurityPolicy || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", h)
	}
	if b, ct, ok := Asset("console.css"); !ok || len(b) == 0 || ct != "text/css; charset=utf-8" {
		t.Errorf("stylesheet: %v %q", ok, ct)
	}
	for _, bad := range []string{"../auth.go", "assets/console.js", "missing.js"} {
		if _, _, ok := Asset(bad); ok {
			t.Errorf("Asset(%q) served", bad)
		}
	}
	r := domain.Relationship{Status: "active", EndDateTime: now, AutoExtend: true}
	if got := RelationshipText(r); got != "active, ends 2026-12-07, auto-extends" {
		t.Errorf("relationship text %q", got)
	}
	if ShortDate(time.Time{}) != "" || ShortTime(time.Time{}) != "" {
		t.Error("zero times must read empty")
	}
}

// The insights and partner pages render what they are given (escaped, like every page).
func TestRenderInsightsAndPartner(t *testing.T) {
	c := Chrome{Viewer: Viewer{ID: "u", Name: "admin@msp"}, CSRF: "tok"}
	in := BuildInsights([]domain.Tenant{{TenantID: "a", DisplayName: xss, Consent: domain.Consent{State: domain.ConsentConsented}, Sync: domain.SyncStatus{State: domain.SyncSucceeded, LastSuccessAt: now}}},
		map[string]insights.Summary{"a": {MFAKnown: true, WithoutMFACount: 2}}, 30, now)
	var b bytes.Buffer
	if err := RenderInsights(&b, c, in); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), xss) || !strings.Contains(b.String(), "admin@msp") || !strings.Contains(b.String(), "&lt;img") {
		t.Errorf("insights page does not show the tenant escaped:\n%s", b.String())
	}
	b.Reset()
	p := PartnerPage{Connection: store.PartnerConnection{Connected: true, ConnectedBy: "owner@msp", ConnectedAt: now, ErrorMessage: xss},
		AppCredential: &identity.ExpiryStatus{Mode: "secret", ExpiresAt: now.Add(24 * time.Hour), Warning: "renew the secret"}, Now: now}
	if err := RenderPartner(&b, c, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"owner@msp", ShortTime(now), "2026-12-08", "renew the secret"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("partner page lacks %q", want)
		}
	}
	if strings.Contains(b.String(), xss) {
		t.Error("partner page shows stored text unescaped")
	}
}

// requestLog records the Table Storage requests the store sends (method and path).
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) Do(req *policy.Request) (*http.Response, error) {
	l.mu.Lock()
	u := req.Raw().URL
	q, _ := url.QueryUnescape(u.RawQuery)
	l.reqs = append(l.reqs, req.Raw().Method+" "+u.Path+"?"+q)
	l.mu.Unlock()
	return req.Next()
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

// The overview and the insights read every tenant, yet while nothing changed they cost one point
// query per table (its version row), not a partition scan; any write through the store shows on
// the next page (never stale), and then only the rows written lately are read.
func TestPagesReadWholeTablesOnlyAfterAChange(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	az, err := devenv.StartAzurite(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer az.Stop()
	log := &requestLog{}
	svc, err := aztables.NewServiceClientFromConnectionString(az.ConnectionString(),
		&aztables.ClientOptions{ClientOptions: policy.ClientOptions{PerCallPolicies: []policy.Policy{log}}})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(svc)
	if err := st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1)
		if err := st.UpsertTenant(ctx, domain.Tenant{TenantID: ids[i], DisplayName: fmt.Sprintf("Customer %02d", i),
			Consent: domain.Consent{State: domain.ConsentConsented, Method: "cpv"}, Sync: domain.SyncStatus{State: domain.SyncSucceeded, LastSuccessAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutSummary(ctx, ids[i], insights.Summary{ComputedAt: time.Now(), Users: 10, MFAKnown: true, WithoutMFACount: 1 + i%3}); err != nil {
			t.Fatal(err)
		}
	}
	s := &Service{Store: st}
	overview := func() Overview {
		t.Helper()
		o, err := s.Overview(ctx, ParseOverviewQuery(url.Values{}))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	var last []string
	queries := func() (points, scans int) {
		last = log.take()
		for _, r := range last {
			switch {
			case strings.Contains(r, "PartitionKey='meta',RowKey='version'"):
				points++
			default:
				scans++
			}
		}
		return
	}
	delta := func() bool { // the last scan read only rows written lately
		return len(last) > 0 && strings.Contains(last[len(last)-1], "Timestamp ge datetime'")
	}

	log.take()
	if o := overview(); len(o.Rows) != n {
		t.Fatalf("%d rows, want %d", len(o.Rows), n)
	}
	if p, sc := queries(); p != 1 || sc != 1 {
		t.Errorf("first overview: %d version reads, %d other queries; want 1 and 1 (the tenant list)", p, sc)
	}
	for range 3 {
		overview()
		if p, sc := queries(); p != 1 || sc != 0 {
			t.Errorf("unchanged overview: %d version reads, %d other queries; want 1 and 0", p, sc)
		}
	}
	// A change through the store: the next overview shows it, reading the rows once more.
	if err := st.SetExcluded(ctx, ids[7], true); err != nil {
		t.Fatal(err)
	}
	log.take()
	excluded := 0
	for _, r := range overview().Rows {
		if r.T.Excluded {
			excluded++
		}
	}
	if excluded != 1 {
		t.Errorf("%d excluded rows after excluding one", excluded)
	}
	if p, sc := queries(); p != 1 || sc != 1 || !delta() {
		t.Errorf("overview after a change: %d version reads, %d other queries (%q); want 1 and 1 reading only recent rows", p, sc, last)
	}
	// MarkQueued (the fan-out's batch) is a change too.
	if err := st.MarkQueued(ctx, []domain.SyncRequest{{TenantID: ids[3], RunID: "r1", QueuedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	queued := false
	for _, r := range overview().Rows {
		queued = queued || (r.T.TenantID == ids[3] && r.T.Sync.State == domain.SyncQueued)
	}
	if !queued {
		t.Error("the overview does not show the tenant queued by MarkQueued")
	}

	// Insights: both tables' version rows, nothing else, while unchanged; a new summary shows.
	if _, err := s.Insights(ctx, 30); err != nil {
		t.Fatal(err)
	}
	log.take()
	in, err := s.Insights(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if p, sc := queries(); p != 2 || sc != 0 {
		t.Errorf("unchanged insights: %d version reads, %d other queries; want 2 and 0", p, sc)
	}
	before := len(in.MFA.Rows)
	if err := st.PutSummary(ctx, ids[0], insights.Summary{ComputedAt: time.Now(), Users: 10, MFAKnown: true}); err != nil {
		t.Fatal(err)
	}
	if in, err = s.Insights(ctx, 30); err != nil || len(in.MFA.Rows) != before-1 {
		t.Errorf("insights after a summary changed: %d MFA rows (was %d), %v", len(in.MFA.Rows), before, err)
	}
}
