package graph

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/csv"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

func TestAuthFailures(t *testing.T) {
	f := newFixture(t)
	expired := f.appToken(tenantA, "User.Read.All")
	f.clock.add(2 * time.Hour)

	wrongAud, _ := f.issuer.Sign(tokenClaims(tenantA, "https://vault.azure.net"), time.Hour)
	cases := []struct {
		name, tok, code, msg string
		status               int
	}{
		{"missing", "", "InvalidAuthenticationToken", "Access token is empty.", 401},
		{"garbage", "not-a-jwt", "InvalidAuthenticationToken", "CompactToken parsing failed", 401},
		{"forged", f.appToken(tenantA, "User.Read.All")[:40] + "x.y.z", "InvalidAuthenticationToken", "Access token validation failure.", 401},
		{"expired", expired, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.", 401},
		{"audience", wrongAud, "InvalidAuthenticationToken", "Invalid audience", 401},
		{"deleted tenant", f.appToken(tenantD, "User.Read.All"), "InvalidAuthenticationToken", tenantD, 401},
		{"no role", f.appToken(tenantA, "Mail.Send"), "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", 403},
		{"delegated without scope", f.userToken(partnerID, "openid Mail.Send"), "Authorization_RequestDenied", "Insufficient privileges", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.get("/v1.0/users", tc.tok, "client-request-id", "my-crid-1")
			if r.status != tc.status || r.errCode(t) != tc.code || !strings.Contains(r.errMessage(t), tc.msg) {
				t.Fatalf("got %d %s %q; want %d %s containing %q", r.status, r.errCode(t), r.errMessage(t), tc.status, tc.code, tc.msg)
			}
			inner := r.json(t)["error"].(map[string]any)["innerError"].(map[string]any)
			if inner["client-request-id"] != "my-crid-1" || r.header.Get("client-request-id") != "my-crid-1" {
				t.Errorf("client-request-id not echoed: %v / %q", inner, r.header.Get("client-request-id"))
			}
			if inner["request-id"] == "" || inner["request-id"] != r.header.Get("request-id") {
				t.Errorf("request-id header %q vs body %v", r.header.Get("request-id"), inner["request-id"])
			}
			if _, err := time.Parse("2006-01-02T15:04:05", inner["date"].(string)); err != nil {
				t.Errorf("innerError.date %v: %v", inner["date"], err)
			}
		})
	}

	// Consent revoked after the token was issued: the app has no identity in the tenant.
	tok := f.appToken(tenantA, "User.Read.All")
	if err := f.dir.Revoke(tenantA, testAppID); err != nil {
		t.Fatal(err)
	}
	if r := f.get("/v1.0/users", tok); r.status != 401 || r.errCode(t) != "Authorization_IdentityNotFound" {
		t.Fatalf("revoked consent: %d %s", r.status, r.body)
	}
}

func TestUsersPagingSelectAndTop(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantA, "User.Read.All")
	want := f.liveUsers(tenantA)
	var got []string
	link := "/v1.0/users?$select=id,displayName,assignedLicenses&$top=100"
	pages := 0
	for link != "" {
		items, next, _ := values(t, f.get(link, tok))
		pages++
		for _, u := range items {
			got = append(got, u["id"].(string))
			keys := make([]string, 0, len(u))
			for k := range u {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if strings.Join(keys, ",") != "assignedLicenses,displayName,id" {
				t.Fatalf("selected properties: %v", keys)
			}
		}
		if next != "" && !strings.HasPrefix(next, testBase+"/v1.0/users?") {
			t.Fatalf("nextLink not absolute on BaseURL: %s", next)
		}
		link = next
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages, %d users; want 3 pages, %d users in order", pages, len(got), len(want))
	}

	// Default page 100 and the default property set.
	items, next, _ := values(t, f.get("/v1.0/users", tok))
	if len(items) != 100 || next == "" {
		t.Fatalf("default page: %d items, next %q", len(items), next)
	}
	if _, ok := items[0]["accountEnabled"]; ok || items[0]["userPrincipalName"] == nil {
		t.Errorf("default property set wrong: %v", items[0])
	}

	for _, q := range []string{"$top=1000", "$top=0", "$top=abc"} {
		r := f.get("/v1.0/users?"+q, tok)
		if r.status != 400 || r.errCode(t) != "Request_BadRequest" || !strings.Contains(r.errMessage(t), "Must be between 1 and 999") {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	r := f.get("/v1.0/users?$select=foo", tok)
	if r.status != 400 || !strings.Contains(r.errMessage(t), "Could not find a property named 'foo' on type 'microsoft.graph.user'") {
		t.Errorf("unknown select: %d %s", r.status, r.body)
	}

	// One user by id and by UPN.
	u, _ := f.world.TenantAt(0).User(7)
	for _, key := range []string{u.ID, u.UserPrincipalName} {
		r := f.get("/v1.0/users/"+url.PathEscape(key)+"?$select=mail", tok)
		if r.status != 200 || r.json(t)["id"] != u.ID || r.json(t)["mail"] != u.Mail {
			t.Errorf("GET /users/%s: %d %s", key, r.status, r.body)
		}
	}
	if r := f.get("/v1.0/users/00000000-0000-4000-8000-000000000000", tok); r.status != 404 || r.errCode(t) != "Request_ResourceNotFound" {
		t.Errorf("missing user: %d %s", r.status, r.body)
	}
}

func TestSignInActivity(t *testing.T) {
	f := newFixture(t)
	sel := "/v1.0/users?$select=id,signInActivity"
	// signInActivity answers a missing AuditLog.Read.All with its own code (microsoft-graph-explorer-v4#2731).
	if r := f.get(sel, f.appToken(tenantA, "User.Read.All")); r.status != 403 || r.errCode(t) != "Authentication_MSGraphPermissionMissing" ||
		!strings.Contains(string(r.body), "AuditLog.Read.All") {
		t.Errorf("without AuditLog.Read.All: %d %s", r.status, r.body)
	}
	// So does the registration report (microsoft-graph-docs-contrib#1852).
	if r := f.get("/v1.0/reports/authenticationMethods/userRegistrationDetails", f.appToken(tenantA, "UserAuthenticationMethod.Read.All")); r.status != 403 ||
		r.errCode(t) != "Authentication_MSGraphPermissionMissing" {
		t.Errorf("registration report without AuditLog.Read.All: %d %s", r.status, r.body)
	}
	r := f.get(sel, f.appToken(tenantB, "User.Read.All", "AuditLog.Read.All"))
	if r.status != 403 || r.errCode(t) != "Authentication_RequestFromNonPremiumTenantOrB2CTenant" ||
		r.errMessage(t) != "Neither tenant is B2C or tenant doesn't have premium license" {
		t.Errorf("non-premium: %d %s", r.status, r.body)
	}
	tok := f.appToken(tenantA, "User.Read.All", "AuditLog.Read.All")
	if r := f.get(sel+"&$top=501", tok); r.status != 400 || !strings.Contains(r.errMessage(t), "between 1 and 500") {
		t.Errorf("$top 501 with signInActivity: %d %s", r.status, r.body)
	}
	items, _, _ := values(t, f.get(sel+"&$top=500", tok))
	if len(items) != 250 || items[0]["signInActivity"] == nil {
		t.Fatalf("premium: %d items, %v", len(items), items[0])
	}
}

func TestUserFilters(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantA, "User.Read.All")
	ta := f.world.TenantAt(0)
	var all []scenario.User
	for i := 0; i < ta.UserSlots(); i++ {
		if u, ok := ta.User(i); ok {
			all = append(all, u)
		}
	}
	u7 := all[7]
	count := func(pred func(u scenario.User) bool) int {
		n := 0
		for _, u := range all {
			if pred(u) {
				n++
			}
		}
		return n
	}
	cases := []struct {
		filter string
		want   int
	}{
		{"userPrincipalName eq '" + u7.UserPrincipalName + "'", 1},
		{"id eq '" + u7.ID + "'", 1},
		{"mail eq '" + strings.ToUpper(u7.Mail) + "'", 1},
		{"accountEnabled eq false", count(func(u scenario.User) bool { return !u.AccountEnabled })},
		{"userType eq 'Guest'", count(func(u scenario.User) bool { return u.UserType == "Guest" })},
		{"department eq 'Sales' and accountEnabled eq true", count(func(u scenario.User) bool { return u.Department == "Sales" && u.AccountEnabled })},
		{"startswith(displayName,'" + u7.GivenName[:2] + "')", count(func(u scenario.User) bool {
			return strings.HasPrefix(strings.ToLower(u.DisplayName), strings.ToLower(u7.GivenName[:2]))
		})},
		{"assignedLicenses/any(x:x/skuId eq " + scenario.SkuSPE_E3 + ")", count(func(u scenario.User) bool { return len(u.AssignedSkuIDs) > 0 })},
		{"not(assignedLicenses/any(x:x/skuId eq " + scenario.SkuSPE_E3 + "))", count(func(u scenario.User) bool { return len(u.AssignedSkuIDs) == 0 })},
		{"userType in ('Guest','Member')", len(all)},
		{"createdDateTime ge 1990-01-01T00:00:00Z", len(all)},
		{"(jobTitle eq 'Accountant' or jobTitle eq 'Recruiter')", count(func(u scenario.User) bool { return u.JobTitle == "Accountant" || u.JobTitle == "Recruiter" })},
	}
	for _, tc := range cases {
		items, next, _ := values(t, f.get("/v1.0/users?$top=999&$filter="+url.QueryEscape(tc.filter), tok))
		if next != "" || len(items) != tc.want {
			t.Errorf("%s: %d users (next %q), want %d", tc.filter, len(items), next, tc.want)
		}
	}
	for _, tc := range []struct{ filter, code string }{
		{"favouriteColour eq 'blue'", "Request_UnsupportedQuery"},
		{"displayName eq", "Request_BadRequest"},
		{"displayName eq 'unterminated", "Request_BadRequest"},
		{"displayName foo 'x'", "Request_BadRequest"},
		{"startswith(displayName)", "Request_BadRequest"},
	} {
		if r := f.get("/v1.0/users?$filter="+url.QueryEscape(tc.filter), tok); r.status != 400 || r.errCode(t) != tc.code {
			t.Errorf("%q: %d %s", tc.filter, r.status, r.body)
		}
	}
	// A filtered list pages through the whole tenant without empty trailing pages.
	filter := url.QueryEscape("accountEnabled eq true")
	want := count(func(u scenario.User) bool { return u.AccountEnabled })
	got, link := 0, "/v1.0/users?$top=50&$filter="+filter
	for link != "" {
		items, next, _ := values(t, f.get(link, tok))
		if len(items) == 0 {
			t.Fatal("empty page")
		}
		got += len(items)
		link = next
	}
	if got != want {
		t.Errorf("paged filter: %d, want %d", got, want)
	}
	// $count needs ConsistencyLevel.
	if r := f.get("/v1.0/users?$count=true", tok); r.status != 400 {
		t.Errorf("$count without ConsistencyLevel: %d", r.status)
	}
	r := f.get("/v1.0/users?$count=true&$top=5&$filter="+filter, tok, "ConsistencyLevel", "eventual")
	if n, _ := r.json(t)["@odata.count"].(float64); int(n) != want {
		t.Errorf("@odata.count %v, want %d", r.json(t)["@odata.count"], want)
	}
}

func TestPageTokensAreOpaqueAndTamperProof(t *testing.T) {
	f := newFixture(t)
	st := state{Kind: "users", Tenant: tenantA, Pos: 100, Top: 100, Select: "id"}
	tok := f.svc.seal("skip", st)
	if strings.Contains(tok, tenantA) || strings.Contains(tok, "users") {
		t.Fatalf("token reveals its content: %s", tok)
	}
	if got, ok := f.svc.open("skip", tok); !ok || got != st {
		t.Fatalf("round trip: %v %v", got, ok)
	}
	if _, ok := f.svc.open("delta", tok); ok {
		t.Fatal("a skip token opened as a delta token")
	}
	b := []byte(tok)
	b[len(b)/2] ^= 1
	if _, ok := f.svc.open("skip", string(b)); ok {
		t.Fatal("tampered token accepted")
	}
	// Another service (another simulator run) cannot read it either.
	if _, ok := newFixture(t).svc.open("skip", tok); ok {
		t.Fatal("foreign service accepted the token")
	}

	appTok := f.appToken(tenantA, "User.Read.All", "Group.Read.All")
	_, next, _ := values(t, f.get("/v1.0/users?$top=10", appTok))
	u, _ := url.Parse(next)
	skip := u.Query().Get("$skiptoken")
	for name, link := range map[string]string{
		"tampered": strings.Replace(next, skip, skip[:len(skip)-2]+"AA", 1),
		"garbage":  "/v1.0/users?$skiptoken=hello",
		"groups":   "/v1.0/groups?$skiptoken=" + skip,
	} {
		if r := f.get(link, appTok); r.status != 400 || r.errCode(t) != "Directory_ExpiredPageToken" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// A page token of one tenant is worthless in another.
	if r := f.get(next, f.appToken(tenantB, "User.Read.All")); r.status != 400 {
		t.Errorf("cross-tenant skiptoken: %d", r.status)
	}
}

func TestUsersDeltaRoundTrip(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantA, "User.Read.All")
	want := f.liveUsers(tenantA)
	var got []string
	link, deltaLink := "/v1.0/users/delta()?$select=displayName,jobTitle", ""
	for link != "" {
		items, next, dl := values(t, f.get(link, tok, "Prefer", "odata.maxpagesize=60"))
		if next != "" && dl != "" {
			t.Fatal("page with both nextLink and deltaLink")
		}
		for _, u := range items {
			got = append(got, u["id"].(string))
			if _, ok := u["mail"]; ok {
				t.Fatal("$select not kept across delta pages")
			}
		}
		link, deltaLink = next, dl
	}
	if !slices.Equal(got, want) || deltaLink == "" || !strings.Contains(deltaLink, "$deltatoken=") {
		t.Fatalf("full sync: %d users, deltaLink %q", len(got), deltaLink)
	}

	// Nothing changed: an empty page with a fresh deltaLink.
	items, _, dl := values(t, f.get(deltaLink, tok))
	if len(items) != 0 || dl == "" {
		t.Fatalf("no change: %d items", len(items))
	}

	f.world.Step()
	ta := f.world.TenantAt(0)
	changes := ta.UserChanges(0)
	items, next, dl2 := values(t, f.get(deltaLink, tok))
	if next != "" || dl2 == "" {
		t.Fatal("incremental round should fit one page")
	}
	wantRemoved := 0
	for _, ch := range changes {
		if ch.Removed {
			wantRemoved++
		}
	}
	if len(items) != len(changes) || len(changes) == 0 || wantRemoved == 0 {
		t.Fatalf("%d items, %d changes (%d removed)", len(items), len(changes), wantRemoved)
	}
	removed := 0
	for k, it := range items {
		u, _ := ta.User(changes[k].Index)
		if it["id"] != u.ID {
			t.Fatalf("item %d id %v, want %s", k, it["id"], u.ID)
		}
		if changes[k].Removed {
			removed++
			if rm, _ := it["@removed"].(map[string]any); rm["reason"] != "deleted" || len(it) != 2 {
				t.Errorf("removed user %v", it)
			}
		} else if it["displayName"] != u.DisplayName || nilStr(it["jobTitle"]) != u.JobTitle {
			t.Errorf("changed user %v, want %s / %s", it, u.DisplayName, u.JobTitle)
		}
	}
	if removed != wantRemoved {
		t.Errorf("%d removed, want %d", removed, wantRemoved)
	}

	// Expiry: the old deltaLink after 7 days; a garbled one; every token of an expiring tenant.
	f.clock.add(8 * 24 * time.Hour)
	tok = f.appToken(tenantA, "User.Read.All")
	for name, link := range map[string]string{"expired": dl2, "garbled": "/v1.0/users/delta?$deltatoken=abc"} {
		if r := f.get(link, tok); r.status != 400 || r.errCode(t) != "syncStateNotFound" || r.errMessage(t) != msgDeltaExpired {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	tokC := f.appToken(tenantC, "User.Read.All")
	_, _, dlC := values(t, f.get("/v1.0/users/delta", tokC))
	if r := f.get(dlC, tokC); r.status != 400 || r.errCode(t) != "syncStateNotFound" {
		t.Errorf("ExpireDeltaTokens: %d %s", r.status, r.body)
	}
	// Sync from now.
	items, _, dl = values(t, f.get("/v1.0/users/delta?$deltatoken=latest", tok))
	if len(items) != 0 || dl == "" {
		t.Errorf("latest: %d items, %q", len(items), dl)
	}
}

func nilStr(v any) string { s, _ := v.(string); return s }

func TestGroupsAndMembers(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantA, "Group.Read.All")
	ta := f.world.TenantAt(0)
	items, _, _ := values(t, f.get("/v1.0/groups", tok))
	if len(items) != ta.GroupSlots() {
		t.Fatalf("%d groups, want %d", len(items), ta.GroupSlots())
	}
	unified := 0
	for i := 0; i < ta.GroupSlots(); i++ {
		g, _ := ta.Group(i)
		if isUnified(&g) {
			unified++
		}
	}
	items, _, _ = values(t, f.get("/v1.0/groups?$filter="+url.QueryEscape("groupTypes/any(c:c eq 'Unified')"), tok))
	if len(items) != unified {
		t.Errorf("unified groups %d, want %d", len(items), unified)
	}
	g0, _ := ta.Group(0)
	var members []string
	link := "/v1.0/groups/" + g0.ID + "/members?$top=7&$select=id,userPrincipalName"
	for link != "" {
		items, next, _ := values(t, f.get(link, tok))
		for _, m := range items {
			if m["@odata.type"] != "#microsoft.graph.user" {
				t.Fatalf("member without type: %v", m)
			}
			members = append(members, m["id"].(string))
		}
		link = next
	}
	if len(members) != len(g0.MemberIndexes) {
		t.Errorf("%d members, want %d", len(members), len(g0.MemberIndexes))
	}
	// Groups delta lists members@delta on the first round.
	items, _, dl := values(t, f.get("/v1.0/groups/delta?$select=displayName,members", tok))
	if _, ok := items[0]["members@delta"]; !ok || dl == "" {
		t.Fatalf("groups delta: %v", items[0])
	}
	f.world.Step()
	items, _, _ = values(t, f.get(dl, tok))
	if want := len(ta.GroupChanges(0)); len(items) != want || want == 0 {
		t.Errorf("groups delta after step: %d, want %d", len(items), want)
	}
}

func TestOrganizationDomainsSkus(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantA, "Organization.Read.All", "Domain.Read.All")
	items, _, _ := values(t, f.get("/v1.0/organization", tok))
	org := items[0]
	if org["id"] != tenantA || org["displayName"] != "Alpha" || org["tenantType"] != "AAD" {
		t.Fatalf("organization %v", org)
	}
	doms := org["verifiedDomains"].([]any)
	if len(doms) != 2 || doms[1].(map[string]any)["name"] != "alpha.com" || doms[1].(map[string]any)["isDefault"] != true {
		t.Errorf("verifiedDomains %v", doms)
	}
	items, _, _ = values(t, f.get("/v1.0/domains", tok))
	if len(items) != 2 {
		t.Errorf("domains %v", items)
	}
	items, _, _ = values(t, f.get("/v1.0/subscribedSkus", tok))
	ta := f.world.TenantAt(0)
	if len(items) != 1 || int(items[0]["consumedUnits"].(float64)) != ta.Consumed(scenario.SkuSPE_E3) ||
		items[0]["prepaidUnits"].(map[string]any)["enabled"].(float64) != 300 {
		t.Errorf("subscribedSkus %v", items)
	}
	// The partner tenant has an organization too.
	items, _, _ = values(t, f.get("/v1.0/organization", f.appToken(partnerID, "Organization.Read.All")))
	if items[0]["displayName"] != "Test MSP" {
		t.Errorf("partner organization %v", items[0])
	}
}

func TestDevicesAndIntune(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantA, "DeviceManagementManagedDevices.Read.All")
	items, next, _ := values(t, f.get("/v1.0/deviceManagement/managedDevices?$top=5&$select=id,deviceName,userPrincipalName,userId", tok))
	if len(items) != 5 || next == "" {
		t.Fatalf("devices page: %d %q", len(items), next)
	}
	total := len(items)
	for next != "" {
		var rest []map[string]any
		rest, next, _ = values(t, f.get(next, tok))
		total += len(rest)
	}
	if total != f.world.TenantAt(0).DeviceCount() {
		t.Errorf("devices total %d", total)
	}
	ta := f.world.TenantAt(0)
	for i, d := range items {
		dev := ta.Device(i)
		if d["id"] != dev.ID || nilStr(d["userPrincipalName"]) != dev.UserPrincipalName {
			t.Errorf("device %d: %v", i, d)
		}
	}
	// No Intune licence, and no permission: Intune's 403 relayed as UnknownError.
	r := f.get("/v1.0/deviceManagement/managedDevices", f.appToken(tenantB, "DeviceManagementManagedDevices.Read.All"))
	if r.status != 403 || r.errCode(t) != "UnknownError" || !strings.Contains(r.errMessage(t), `\"_version\": 3`) ||
		!strings.Contains(r.errMessage(t), "urn:intune:service") {
		t.Errorf("no Intune: %d %s", r.status, r.body)
	}
	r = f.get("/v1.0/deviceManagement/managedDevices", f.appToken(tenantA, "User.Read.All"))
	if r.status != 403 || !strings.Contains(r.errMessage(t), "DeviceManagementManagedDevices.Read.All") {
		t.Errorf("no permission: %d %s", r.status, r.body)
	}
}

func TestMailboxReportAndConcealment(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantB, "Reports.Read.All", "ReportSettings.Read.All", "ReportSettings.ReadWrite.All")
	if s := f.get("/v1.0/admin/reportSettings", tok).json(t); s["displayConcealedNames"] != true {
		t.Fatalf("reportSettings %v", s)
	}
	csvFor := func() [][]string {
		t.Helper()
		r := f.get("/v1.0/reports/getMailboxUsageDetail(period='D7')", tok)
		loc := r.header.Get("Location")
		if r.status != 302 || !strings.HasPrefix(loc, testBase+reportDownloadPrefix) {
			t.Fatalf("report: %d %q", r.status, loc)
		}
		d := f.get(loc, "") // pre-authenticated: no token
		if d.status != 200 || !bytes.HasPrefix(d.body, []byte("\ufeff")) {
			t.Fatalf("download %d %q", d.status, d.body[:min(20, len(d.body))])
		}
		rows, err := csv.NewReader(bytes.NewReader(d.body[3:])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	rows := csvFor()
	if strings.Join(rows[0], ",") != strings.Join(mailboxUsageColumns, ",") || len(rows) < 2 {
		t.Fatalf("header %v, %d rows", rows[0], len(rows))
	}
	hex32 := regexp.MustCompile(`^[0-9A-F]{32}$`)
	for _, row := range rows[1:] {
		if !hex32.MatchString(row[1]) || !hex32.MatchString(row[2]) || row[17] != "7" {
			t.Fatalf("concealed row %v", row)
		}
	}
	if r := f.do(http.MethodPatch, "/v1.0/admin/reportSettings", tok, map[string]any{"displayConcealedNames": false}); r.status != 204 {
		t.Fatalf("PATCH reportSettings: %d %s", r.status, r.body)
	}
	rows = csvFor()
	if !strings.Contains(rows[1][1], "@") {
		t.Errorf("names still concealed after PATCH: %v", rows[1])
	}
	// The download URL dies after a few minutes and cannot be forged.
	loc := f.get("/v1.0/reports/getMailboxUsageDetail(period='D30')", tok).header.Get("Location")
	if d := f.get(strings.Replace(loc, "/_reports/", "/_reports/A", 1), ""); d.status != 403 {
		t.Errorf("forged URL: %d", d.status)
	}
	f.clock.add(6 * time.Minute)
	if d := f.get(loc, ""); d.status != 403 {
		t.Errorf("expired URL: %d", d.status)
	}
	// 14 report requests per 10 minutes per app per tenant: 3 used so far.
	tok = f.appToken(tenantA, "Reports.Read.All")
	for i := 0; i < 14; i++ {
		if r := f.get("/v1.0/reports/getMailboxUsageDetail(period='D7')", tok); r.status != 302 {
			t.Fatalf("request %d: %d", i+1, r.status)
		}
	}
	r := f.get("/v1.0/reports/getMailboxUsageDetail(period='D7')", tok)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("15th report request: %d %v", r.status, r.header)
	}
	f.clock.add(11 * time.Minute)
	tok = f.appToken(tenantA, "Reports.Read.All")
	if r := f.get("/v1.0/reports/getMailboxUsageDetail(period='D7')", tok); r.status != 302 {
		t.Errorf("after the window: %d", r.status)
	}
	if r := f.get("/v1.0/reports/getMailboxUsageDetail(period='D8')", tok); r.status != 400 {
		t.Errorf("bad period: %d", r.status)
	}
}

func TestRegistrationDetails(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantA, "AuditLog.Read.All")
	items, next, _ := values(t, f.get("/v1.0/reports/authenticationMethods/userRegistrationDetails?$filter="+url.QueryEscape("isMfaRegistered eq false"), tok))
	ta := f.world.TenantAt(0)
	want := 0
	for i := 0; i < ta.UserSlots(); i++ {
		if u, ok := ta.User(i); ok && !u.MFARegistered {
			want++
		}
	}
	got := len(items)
	for next != "" {
		var more []map[string]any
		more, next, _ = values(t, f.get(next, tok))
		got += len(more)
	}
	if got != want || items[0]["isMfaRegistered"] != false || items[0]["userType"] == nil {
		t.Errorf("%d not registered, want %d; %v", got, want, items[0])
	}
	if r := f.get("/v1.0/reports/authenticationMethods/userRegistrationDetails", f.appToken(tenantB, "AuditLog.Read.All")); r.status != 403 {
		t.Errorf("non-premium: %d", r.status)
	}
}

func TestGDAP(t *testing.T) {
	f := newFixture(t)
	tok := f.userToken(partnerID, "DelegatedAdminRelationship.Read.All")
	items, _, _ := values(t, f.get("/v1.0/tenantRelationships/delegatedAdminRelationships", tok))
	if len(items) != 2 {
		t.Fatalf("relationships %v", items)
	}
	rel := items[0]
	if rel["status"] != "active" || rel["customer"].(map[string]any)["tenantId"] != tenantA || rel["autoExtendDuration"] != "P180D" ||
		rel["accessDetails"].(map[string]any)["unifiedRoles"].([]any)[0].(map[string]any)["roleDefinitionId"] != scenario.RoleGlobalReader {
		t.Errorf("relationship %v", rel)
	}
	items, next, _ := values(t, f.get("/v1.0/tenantRelationships/delegatedAdminRelationships?$top=1", tok))
	more, _, _ := values(t, f.get(next, tok))
	if len(items) != 1 || len(more) != 1 || more[0]["status"] != "approvalPending" {
		t.Errorf("paging: %v / %v", items, more)
	}
	items, _, _ = values(t, f.get("/v1.0/tenantRelationships/delegatedAdminRelationships?$filter="+url.QueryEscape("status eq 'active'"), tok))
	if len(items) != 1 {
		t.Errorf("status filter: %d", len(items))
	}
	if r := f.get("/v1.0/tenantRelationships/delegatedAdminRelationships?$top=301", tok); r.status != 400 {
		t.Errorf("$top 301: %d", r.status)
	}
	as, _, _ := values(t, f.get("/v1.0/tenantRelationships/delegatedAdminRelationships/"+rel["id"].(string)+"/accessAssignments", tok))
	if len(as) != 1 || as[0]["accessContainer"].(map[string]any)["accessContainerType"] != "securityGroup" {
		t.Errorf("accessAssignments %v", as)
	}
	cs, _, _ := values(t, f.get("/v1.0/tenantRelationships/delegatedAdminCustomers", tok))
	if len(cs) != 2 {
		t.Errorf("customers %v", cs)
	}
	if r := f.get("/v1.0/tenantRelationships/delegatedAdminRelationships", f.userToken(partnerID, "User.Read")); r.status != 403 {
		t.Errorf("without permission: %d", r.status)
	}
}

func TestSendMail(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(partnerID, "Mail.Send")
	msg := func(to ...string) map[string]any {
		var rs []map[string]any
		for _, a := range to {
			rs = append(rs, map[string]any{"emailAddress": map[string]any{"address": a}})
		}
		return map[string]any{"message": map[string]any{
			"subject":      "Approve tenantsync",
			"body":         map[string]any{"contentType": "html", "content": `<p>Hello &amp; welcome,</p><p>Please <a href="https://login.test/adminconsent?x=1">approve</a>.</p>`},
			"toRecipients": rs,
		}, "saveToSentItems": false}
	}
	if r := f.do(http.MethodPost, "/v1.0/users/"+svcUserUPN+"/sendMail", tok, msg("admin@alpha.com")); r.status != 202 {
		t.Fatalf("sendMail: %d %s", r.status, r.body)
	}
	out := f.svc.Outbox()
	if len(out) != 1 || out[0].From != svcUserUPN || out[0].To[0] != "admin@alpha.com" || !strings.Contains(out[0].HTML, "<a href") ||
		out[0].Text != "Hello & welcome,\nPlease approve (https://login.test/adminconsent?x=1)." {
		t.Fatalf("outbox %+v", out)
	}
	out[0].To[0] = "changed"
	if f.svc.Outbox()[0].To[0] != "admin@alpha.com" {
		t.Error("Outbox returns shared slices")
	}
	noSubject := msg("a@b.com")
	delete(noSubject["message"].(map[string]any), "subject")
	for name, tc := range map[string]struct {
		user, code string
		body       any
		tok        string
	}{
		"bad recipient":  {svcUserUPN, "ErrorInvalidRecipients", msg("not-an-address"), tok},
		"no recipients":  {svcUserUPN, "ErrorInvalidRecipients", msg(), tok},
		"no subject":     {svcUserUPN, "ErrorInvalidParameter", noSubject, tok},
		"unknown sender": {"ghost@msp.onmicrosoft.com", "ErrorInvalidUser", msg("a@b.com"), tok},
		"no permission":  {svcUserUPN, "ErrorAccessDenied", msg("a@b.com"), f.appToken(partnerID, "User.Read.All")},
		"other tenant":   {svcUserUPN, "ErrorInvalidUser", msg("a@b.com"), f.appToken(tenantA, "Mail.Send")},
	} {
		if r := f.do(http.MethodPost, "/v1.0/users/"+tc.user+"/sendMail", tc.tok, tc.body); r.status < 400 || r.errCode(t) != tc.code {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if len(f.svc.Outbox()) != 1 {
		t.Error("failed sends reached the outbox")
	}
	// Delegated: /me/sendMail.
	if r := f.do(http.MethodPost, "/v1.0/me/sendMail", f.userToken(partnerID, "Mail.Send"), msg("x@y.com")); r.status != 202 {
		t.Errorf("/me/sendMail: %d %s", r.status, r.body)
	}
}

func TestAppsAndConsent(t *testing.T) {
	f := newFixture(t)
	tok := f.userToken(partnerID, "Application.ReadWrite.All AppRoleAssignment.ReadWrite.All")
	r := f.do(http.MethodPost, "/v1.0/applications", tok, map[string]any{
		"displayName": "tenantsync-2", "signInAudience": "AzureADMultipleOrgs",
		"web": map[string]any{"redirectUris": []string{"https://localhost:7071/api/connect/callback"}},
		"requiredResourceAccess": []any{map[string]any{"resourceAppId": scenario.GraphAppID, "resourceAccess": []any{
			map[string]any{"id": "df021288-bdef-4463-88db-98f22de89214", "type": "Role"}}}},
	})
	if r.status != 201 {
		t.Fatalf("create app: %d %s", r.status, r.body)
	}
	app := r.json(t)
	appID, objID := app["appId"].(string), app["id"].(string)
	if a, ok := f.dir.App(appID); !ok || !slices.Equal(a.RequiredGraphRoles, []string{"User.Read.All"}) {
		t.Fatalf("directory app %+v", a)
	}
	items, _, _ := values(t, f.get("/v1.0/applications?$filter="+url.QueryEscape("appId eq '"+appID+"'"), tok))
	if len(items) != 1 || items[0]["id"] != objID {
		t.Fatalf("filter by appId: %v", items)
	}
	r = f.do(http.MethodPost, "/v1.0/applications/"+objID+"/addPassword", tok, map[string]any{"passwordCredential": map[string]any{"displayName": "ci"}})
	secret, _ := r.json(t)["secretText"].(string)
	if r.status != 200 || len(secret) != 40 {
		t.Fatalf("addPassword: %d %s", r.status, r.body)
	}
	if a, _ := f.dir.App(appID); len(a.Passwords) != 1 || !a.Passwords[0].Matches(secret) {
		t.Fatal("secret not stored")
	}
	if got := f.get("/v1.0/applications(appId='"+appID+"')", tok).json(t); got["passwordCredentials"].([]any)[0].(map[string]any)["secretText"] != nil {
		t.Fatal("secretText shown again")
	}
	r = f.do(http.MethodPost, "/v1.0/applications/"+objID+"/federatedIdentityCredentials", tok, map[string]any{
		"name": "msi", "issuer": "https://login.test/" + partnerID + "/v2.0", "subject": "5f0c0d8e-6b2a-4c59-9d51-3a7e2f1b0c01"})
	if r.status != 201 {
		t.Fatalf("FIC: %d %s", r.status, r.body)
	}

	// Consent in a customer tenant: instantiate, then grant Mail.Send on Graph's service principal.
	ctok := f.userToken(tenantB, "Application.ReadWrite.All AppRoleAssignment.ReadWrite.All")
	graphSP, _, _ := values(t, f.get("/v1.0/servicePrincipals?$filter="+url.QueryEscape("appId eq '"+scenario.GraphAppID+"'"), ctok))
	if len(graphSP) != 1 || len(graphSP[0]["appRoles"].([]any)) == 0 {
		t.Fatalf("Graph SP %v", graphSP)
	}
	r = f.do(http.MethodPost, "/v1.0/servicePrincipals", ctok, map[string]any{"appId": appID})
	if r.status != 201 {
		t.Fatalf("create SP: %d %s", r.status, r.body)
	}
	spID := r.json(t)["id"].(string)
	if r := f.do(http.MethodPost, "/v1.0/servicePrincipals", ctok, map[string]any{"appId": appID}); r.status != 409 {
		t.Errorf("duplicate SP: %d", r.status)
	}
	// Granting a Microsoft Graph app role needs Privileged Role Administrator (or Global
	// Administrator) besides the scopes: Cloud Application Administrator is not enough.
	assign := map[string]any{"principalId": spID, "resourceId": graphSP[0]["id"], "appRoleId": "b633e1c5-b582-4048-a93e-9f11b44c7e96"}
	for name, wids := range map[string][]string{"no role": nil, "Cloud Application Administrator": {scenario.RoleCloudApplicationAdmin},
		"Application Administrator + Global Reader": {scenario.RoleApplicationAdmin, scenario.RoleGlobalReader}} {
		tok := f.userToken(tenantB, "Application.ReadWrite.All AppRoleAssignment.ReadWrite.All", wids...)
		if r := f.do(http.MethodPost, "/v1.0/servicePrincipals/"+graphSP[0]["id"].(string)+"/appRoleAssignedTo", tok, assign); r.status != 403 || !strings.Contains(string(r.body), "Authorization_RequestDenied") {
			t.Errorf("appRoleAssignedTo as %s: %d %s, want 403 Authorization_RequestDenied", name, r.status, r.body)
		}
	}
	if r := f.do(http.MethodPost, "/v1.0/servicePrincipals/"+graphSP[0]["id"].(string)+"/appRoleAssignedTo",
		f.userToken(tenantB, "AppRoleAssignment.ReadWrite.All", scenario.RolePrivilegedRoleAdmin), assign); r.status != 403 {
		t.Errorf("appRoleAssignedTo without Application.Read.All: %d, want 403", r.status)
	}
	ctok = f.userToken(tenantB, "Application.Read.All AppRoleAssignment.ReadWrite.All", scenario.RolePrivilegedRoleAdmin)
	r = f.do(http.MethodPost, "/v1.0/servicePrincipals/"+graphSP[0]["id"].(string)+"/appRoleAssignedTo", ctok, assign)
	if r.status != 201 || r.json(t)["principalId"] != spID {
		t.Fatalf("appRoleAssignedTo: %d %s", r.status, r.body)
	}
	sp, _ := f.dir.ServicePrincipal(tenantB, appID)
	if !slices.Equal(sp.Roles, []string{"Mail.Send", "User.Read.All"}) {
		t.Errorf("roles after assignment %v", sp.Roles)
	}
	as, _, _ := values(t, f.get("/v1.0/servicePrincipals/"+spID+"/appRoleAssignments", ctok))
	if len(as) != 2 {
		t.Errorf("appRoleAssignments %v", as)
	}
	if r := f.do(http.MethodPost, "/v1.0/servicePrincipals/"+spID+"/appRoleAssignments", ctok, map[string]any{
		"resourceId": graphSP[0]["id"], "appRoleId": "00000000-0000-0000-0000-000000000000"}); r.status != 400 {
		t.Errorf("unknown app role: %d", r.status)
	}
	// A certificate credential through PATCH keyCredentials.
	der := selfSignedCert(t)
	if r := f.do(http.MethodPatch, "/v1.0/applications(appId='"+appID+"')", tok, map[string]any{"keyCredentials": []any{map[string]any{
		"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(der), "displayName": "CN=tenantsync"}}}); r.status != 204 {
		t.Fatalf("PATCH keyCredentials: %d %s", r.status, r.body)
	}
	sum := sha1.Sum(der)
	if a, _ := f.dir.App(appID); len(a.Keys) != 1 || a.Keys[0].Thumbprint != base64.RawURLEncoding.EncodeToString(sum[:]) || !bytes.Equal(a.Keys[0].DER, der) {
		t.Fatalf("keys %+v", a.Keys)
	}
	if r := f.do(http.MethodPatch, "/v1.0/applications/"+objID, tok, map[string]any{"keyCredentials": []any{map[string]any{
		"type": "AsymmetricX509Cert", "usage": "Verify", "key": "bm90IGEgY2VydA=="}}}); r.status != 400 {
		t.Errorf("PATCH with a bad certificate: %d", r.status)
	}
	if r := f.do(http.MethodDelete, "/v1.0/applications/"+objID, tok, nil); r.status != 204 {
		t.Errorf("delete app: %d", r.status)
	}
	if _, ok := f.dir.App(appID); ok {
		t.Error("app still there")
	}
}

func TestBatch(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantA, "User.Read.All", "Organization.Read.All", "ReportSettings.Read.All")
	body := map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "GET", "url": "/users/00000000-0000-4000-8000-000000000000"},
		map[string]any{"id": "2", "method": "GET", "url": "/organization", "dependsOn": []string{"1"}},
		map[string]any{"id": "3", "method": "GET", "url": "organization?$select=id"},
		map[string]any{"id": "4", "method": "GET", "url": "/admin/reportSettings", "dependsOn": []string{"3"}},
		map[string]any{"id": "5", "method": "GET", "url": "/subscribedSkus"},
	}}
	r := f.do(http.MethodPost, "/v1.0/$batch", tok, body)
	if r.status != 200 {
		t.Fatalf("batch %d %s", r.status, r.body)
	}
	var ids []string
	status := map[string]float64{}
	for _, x := range r.json(t)["responses"].([]any) {
		a := x.(map[string]any)
		ids = append(ids, a["id"].(string))
		status[a["id"].(string)] = a["status"].(float64)
		if a["id"] == "4" && a["body"].(map[string]any)["displayConcealedNames"] != false {
			t.Errorf("item 4 body %v", a["body"])
		}
		if a["id"] == "2" && a["body"].(map[string]any)["error"] == nil {
			t.Errorf("424 without error body: %v", a)
		}
	}
	if strings.Join(ids, "") != "54321" {
		t.Errorf("answer order %v", ids)
	}
	want := map[string]float64{"1": 404, "2": 424, "3": 200, "4": 200, "5": 200}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("item %s: %v, want %v", k, status[k], v)
		}
	}
	// Metrics count the batch and each item, and the batch alone as a round trip (the item
	// that failed its dependency included).
	if c := f.rec.Total("graph", tenantA); c.Requests != 6 || c.BatchItems != 5 || c.RoundTrips() != 1 {
		t.Errorf("metrics %+v", c)
	}

	many := []any{}
	for i := 0; i < 21; i++ {
		many = append(many, map[string]any{"id": strings.Repeat("x", i+1), "method": "GET", "url": "/organization"})
	}
	for name, b := range map[string]any{
		"21 requests":         map[string]any{"requests": many},
		"forward dependency":  map[string]any{"requests": []any{map[string]any{"id": "1", "method": "GET", "url": "/organization", "dependsOn": []string{"2"}}, map[string]any{"id": "2", "method": "GET", "url": "/organization"}}},
		"duplicate id":        map[string]any{"requests": []any{map[string]any{"id": "1", "method": "GET", "url": "/organization"}, map[string]any{"id": "1", "method": "GET", "url": "/organization"}}},
		"nested batch target": map[string]any{"requests": "nope"},
	} {
		if r := f.do(http.MethodPost, "/v1.0/$batch", tok, b); r.status != 400 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}

	// Throttling applies per item: tenant E answers every 3rd request 429 (the batch itself is #1).
	tokB := f.appToken(tenantE, "Organization.Read.All")
	r = f.do(http.MethodPost, "/v1.0/$batch", tokB, map[string]any{"requests": []any{
		map[string]any{"id": "a", "method": "GET", "url": "/organization"},
		map[string]any{"id": "b", "method": "GET", "url": "/organization"},
		map[string]any{"id": "c", "method": "GET", "url": "/organization"},
	}})
	for _, x := range r.json(t)["responses"].([]any) {
		a := x.(map[string]any)
		wantStatus := 200.0
		if a["id"] == "b" {
			wantStatus = 429
			if a["headers"].(map[string]any)["Retry-After"] != "0.5" {
				t.Errorf("item 429 without Retry-After: %v", a)
			}
		}
		if a["status"] != wantStatus {
			t.Errorf("item %v: %v", a["id"], a["status"])
		}
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantE, "Organization.Read.All")
	var got []int
	for i := 0; i < 6; i++ {
		r := f.get("/v1.0/organization", tok)
		got = append(got, r.status)
		if r.status == 429 && (r.header.Get("Retry-After") != "0.5" || r.errCode(t) != "TooManyRequests") {
			t.Errorf("429 answer %v %s", r.header, r.body)
		}
	}
	if !slices.Equal(got, []int{200, 200, 429, 200, 200, 429}) {
		t.Errorf("ThrottleEvery 3: %v", got)
	}
	tokC := f.appToken(tenantC, "Organization.Read.All")
	got = nil
	for i := 0; i < 4; i++ {
		r := f.get("/v1.0/organization", tokC)
		got = append(got, r.status)
		if r.status == 503 && r.header.Get("Retry-After") != "1" {
			t.Errorf("503 Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	if !slices.Equal(got, []int{200, 200, 200, 503}) {
		t.Errorf("UnavailableEvery 4: %v", got)
	}
	c := f.rec.Total("graph", tenantE)
	if c.Requests != 6 || c.Throttled != 2 {
		t.Errorf("metrics %+v", c)
	}
	rows := f.rec.Rows()
	found := false
	for _, r := range rows {
		if r.Endpoint == "GET /organization" && r.TenantID == tenantC {
			found = r.Requests == 4 && r.Errors == 1
		}
	}
	if !found {
		t.Errorf("rows %+v", rows)
	}
	// Ids are normalised in endpoint names.
	f.get("/v1.0/users/"+f.liveUsers(tenantA)[3], f.appToken(tenantA, "User.Read.All"))
	for _, r := range f.rec.Rows() {
		if strings.Contains(r.Endpoint, "-") {
			t.Errorf("endpoint not normalised: %s", r.Endpoint)
		}
	}
}

func TestUnknownPathsAndVersions(t *testing.T) {
	f := newFixture(t)
	tok := f.appToken(tenantA, "User.Read.All")
	if r := f.get("/v1.0/widgets", tok); r.status != 400 || !strings.Contains(r.errMessage(t), "Resource not found for the segment 'widgets'") {
		t.Errorf("unknown segment: %d %s", r.status, r.body)
	}
	if r := f.get("/v2.0/users", tok); r.status != 400 || !strings.Contains(r.errMessage(t), "Invalid version") {
		t.Errorf("v2.0: %d %s", r.status, r.body)
	}
	// Of beta only the per-user MFA state (and $batch) is modelled; the rest is not found.
	if r := f.get("/beta/users", tok); r.status != 400 || !strings.Contains(r.errMessage(t), "segment 'users'") {
		t.Errorf("beta: %d %s", r.status, r.body)
	}
	if r := f.do(http.MethodDelete, "/v1.0/users", tok, nil); r.status != 405 {
		t.Errorf("DELETE /users: %d %s", r.status, r.body)
	}
	id := f.liveUsers(tenantA)[0]
	if r := f.do(http.MethodDelete, "/v1.0/users/"+id, tok, nil); r.status != 405 {
		t.Errorf("DELETE /users/{id}: %d %s", r.status, r.body)
	}
	if r := f.get("/v1.0/users/"+id+"/manager", tok); r.status != 400 || !strings.Contains(r.errMessage(t), "segment 'manager'") {
		t.Errorf("/users/{id}/manager: %d %s", r.status, r.body)
	}
	r := f.get("/v1.0/users?$top=1", tok)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json;odata.metadata=minimal") {
		t.Errorf("Content-Type %q", ct)
	}
	if ctx := r.json(t)["@odata.context"]; ctx != testBase+"/v1.0/$metadata#users" {
		t.Errorf("@odata.context %v", ctx)
	}
}

func TestHTMLToText(t *testing.T) {
	in := `<html><head><style>p{}</style></head><body><h1>Consent</h1><ul><li>One</li><li>Two &lt;2&gt;</li></ul><a href="https://x.test/a?b=1&amp;c=2">https://x.test/a?b=1&amp;c=2</a><br>Bye</body></html>`
	want := "Consent\n\n- One\n- Two <2>\nhttps://x.test/a?b=1&c=2\nBye"
	if got := htmlToText(in); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestGzipRequestBody(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"displayConcealedNames":false}`))
	zw.Close()
	r := httptest.NewRequest(http.MethodPatch, "/v1.0/admin/reportSettings", &buf)
	r.Header.Set("Authorization", "Bearer "+f.appToken(tenantB, "ReportSettings.ReadWrite.All"))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Content-Encoding", "gzip")
	w := httptest.NewRecorder()
	f.svc.ServeHTTP(w, r)
	if w.Code != 204 {
		t.Fatalf("gzip PATCH: %d %s", w.Code, w.Body)
	}
	if tc := f.svc.tenant(tenantB); f.svc.concealed(tc) {
		t.Error("PATCH not applied")
	}
}

func selfSignedCert(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tenantsync"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
