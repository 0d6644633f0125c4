package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
)

const xss = `<img src=x onerror=alert(1)>`

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func evilTenant() domain.Tenant {
	return domain.Tenant{TenantID: "11111111-2222-3333-4444-555555555555", DisplayName: `Evil "Corp" ` + xss, DefaultDomain: xss,
		Sources: []string{"gdap"}, Consent: domain.Consent{State: domain.ConsentFailed, Error: xss, UpdatedAt: now},
		Sync: domain.SyncStatus{State: domain.SyncNever}}
}

// Stored attacker-chosen text (a consent error, a tenant name) renders as text, never markup.
func TestPagesEscapeStoredText(t *testing.T) {
	c := Chrome{Viewer: Viewer{ID: "u", Name: xss}, CSRF: "tok"}
	var b bytes.Buffer
	if err := RenderOverview(&b, c, BuildOverview([]domain.Tenant{evilTenant()}, OverviewQuery{Search: xss, Sort: "status"}, now)); err != nil {
		t.Fatal(err)
	}
	p := TenantPage{T: evilTenant(), Consent: evilTenant().Consent, Query: TenantQuery{Tab: "users", Search: xss}, Now: now,
		Table: Table{Name: "users", Caption: "Users", Columns: cols("Name"), Rows: [][]Cell{{text(xss)}}}}
	p.Status, p.Problem = Assess(p.T, now)
	if err := RenderTenant(&b, c, p); err != nil {
		t.Fatal(err)
	}
	if err := RenderDenied(&b, "Not allowed", xss, true); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<img") || strings.Contains(out, `"Corp" <`) {
		t.Fatalf("unescaped markup in a page:\n%s", out)
	}
	if !strings.Contains(out, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Fatalf("escaped text missing from the pages")
	}
	if strings.Contains(out, "<script>") || strings.Contains(out, " style=") || strings.Contains(out, " onclick") {
		t.Fatal("inline script or style in a page: the CSP forbids them")
	}
}

func TestCSRFTokens(t *testing.T) {
	clock := now
	c := CSRF{Key: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return clock }}
	post := func(tok, site string) error {
		r := httptest.NewRequest("POST", "/tenants/x/actions/sync", strings.NewReader(url.Values{FieldName: {tok}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		if err := r.ParseForm(); err != nil {
			t.Fatal(err)
		}
		return c.Check(r, "alice")
	}
	tok := c.Token("alice")
	if err := post(tok, "same-origin"); err != nil {
		t.Fatalf("own fresh token refused: %v", err)
	}
	for name, bad := range map[string]string{
		"missing": "", "other user": c.Token("mallory"), "garbage": "abc", "tampered": tok[:len(tok)-2] + "AA",
		"other key": CSRF{Key: []byte("another-key-another-key-another!!"), Now: c.Now}.Token("alice"),
	} {
		if err := post(bad, ""); err == nil {
			t.Errorf("%s token accepted", name)
		}
	}
	if err := post(tok, "cross-site"); err == nil {
		t.Error("cross-site POST with a valid token accepted")
	}
	clock = now.Add(TokenLifetime + time.Minute)
	if err := post(tok, ""); err == nil {
		t.Error("expired token accepted")
	}
}

func TestCSVIsRFC4180WithBOM(t *testing.T) {
	tb := Table{Columns: cols("Name", "Note"), Rows: [][]Cell{{text("Zoë Sørensen"), text("says \"hi\",\nthen leaves")}, {text("=cmd|' /C calc'!A0"), text("")}}}
	var b bytes.Buffer
	if err := WriteCSV(&b, tb); err != nil {
		t.Fatal(err)
	}
	raw := b.String()
	if !strings.HasPrefix(raw, "\ufeffName,Note\r\n") {
		t.Fatalf("no BOM or CRLF header: %q", raw[:20])
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(raw, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1][0] != "Zoë Sørensen" || recs[1][1] != "says \"hi\",\nthen leaves" || recs[2][0] != "'=cmd|' /C calc'!A0" {
		t.Fatalf("records %q", recs)
	}
}

// Claim types as App Service writes them (long URIs for some JWT claims).
const (
	claimOID     = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	claimNameURI = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
)

func principalHeader(claims map[string][]string) string {
	var cs []map[string]string
	for typ, vals := range claims {
		for _, v := range vals {
			cs = append(cs, map[string]string{"typ": typ, "val": v})
		}
	}
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": claimNameURI, "role_typ": "roles", "claims": cs})
	return base64.StdEncoding.EncodeToString(b)
}

func TestAuthorize(t *testing.T) {
	const group = "0C7A1F5E-3B2D-4C6E-8F9A-7D1E2C3B4A50"
	s := AuthSettings{Enabled: true, AdminGroupID: group}
	try := func(s AuthSettings, claims map[string][]string) error {
		r := httptest.NewRequest("GET", "/", nil)
		if claims != nil {
			r.Header.Set("X-MS-CLIENT-PRINCIPAL", principalHeader(claims))
		}
		_, err := Authorize(r, s)
		return err
	}
	admin := map[string][]string{claimOID: {"A1"}, claimNameURI: {"admin@msp"}, "groups": {"x", strings.ToLower(group)}}
	if err := try(s, admin); err != nil {
		t.Fatalf("admin refused: %v", err)
	}
	if err := try(AuthSettings{AdminGroupID: group}, admin); err != ErrAuthOff {
		t.Errorf("principal trusted with App Service Authentication off: %v", err)
	}
	if err := try(s, nil); err != ErrSignInRequired {
		t.Errorf("no principal: %v", err)
	}
	if err := try(s, map[string][]string{claimOID: {"B"}, "groups": {"x"}}); err != ErrNotAdmin {
		t.Errorf("outsider: %v", err)
	}
	if err := try(AuthSettings{Enabled: true}, admin); err != ErrNoAdminGroup {
		t.Errorf("no ADMIN_GROUP_ID: %v", err)
	}
	overage := map[string][]string{claimOID: {"C"}, "_claim_names": {`{"groups":"src1"}`}}
	if err := try(s, overage); err == nil {
		t.Error("overage accepted without a membership check")
	}
	s.Groups = fakeGroups{"c": true}
	if err := try(s, overage); err != nil {
		t.Errorf("overage member refused: %v", err)
	}
	if err := try(s, map[string][]string{claimOID: {"D"}, "hasgroups": {"true"}}); err != ErrNotAdmin {
		t.Errorf("overage non-member: %v", err)
	}
}

type fakeGroups map[string]bool

func (f fakeGroups) IsMember(_ context.Context, user, _ string) (bool, error) { return f[user], nil }

func TestOverviewFiltersSortsAndCounts(t *testing.T) {
	pct := 50.0
	ok := domain.Tenant{TenantID: "a", DisplayName: "Alpha", Sources: []string{"csp"}, Consent: domain.Consent{State: "consented", Method: "cpv"},
		Sync: domain.SyncStatus{State: "succeeded", LastSuccessAt: now}, Counts: domain.Counts{Users: 10}, MFARegisteredPercent: &pct}
	off := ok
	off.TenantID, off.DisplayName, off.Excluded = "b", "Bravo", true
	o := BuildOverview([]domain.Tenant{evilTenant(), ok, off}, OverviewQuery{Sort: "name"}, now)
	if o.Totals.Tenants != 3 || o.Totals.OK != 1 || o.Totals.Bad != 1 || o.Totals.Off != 1 || o.Totals.MFAPercent != "50%" {
		t.Fatalf("totals %+v", o.Totals)
	}
	if o.Rows[0].T.DisplayName != "Alpha" || o.Rows[1].T.DisplayName != "Bravo" {
		t.Errorf("sorted by name: %s, %s", o.Rows[0].T.DisplayName, o.Rows[1].T.DisplayName)
	}
	p := BuildOverview([]domain.Tenant{evilTenant(), ok, off}, ParseOverviewQuery(url.Values{"state": {"problems"}}), now)
	if len(p.Rows) != 1 || p.Rows[0].Problem == nil || p.Rows[0].Problem.Code != "consentFailed" {
		t.Errorf("problems filter: %+v", p.Rows)
	}
	s := BuildOverview([]domain.Tenant{evilTenant(), ok, off}, ParseOverviewQuery(url.Values{"source": {"csp"}, "q": {"brav"}}), now)
	if len(s.Rows) != 1 || s.Rows[0].T.TenantID != "b" {
		t.Errorf("source+search: %+v", s.Rows)
	}
	// The CSV carries exactly the table's cells.
	tb := o.Table()
	var b bytes.Buffer
	_ = WriteCSV(&b, tb)
	recs, _ := csv.NewReader(strings.NewReader(strings.TrimPrefix(b.String(), "\ufeff"))).ReadAll()
	if len(recs) != len(tb.Rows)+1 || recs[1][0] != "Alpha" || recs[1][1] != "Synced" {
		t.Errorf("csv %q", recs)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
