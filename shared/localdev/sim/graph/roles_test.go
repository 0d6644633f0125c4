package graph

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// Delegated calls in a customer tenant need the delegated scope and a supported directory role in
// wids; each endpoint refuses in its own shape. App-only calls are unaffected.
func TestDelegatedCallsNeedASupportedRole(t *testing.T) {
	f := newFixture(t)
	scopes := "User.Read.All Group.Read.All Directory.Read.All Organization.Read.All Domain.Read.All DeviceManagementManagedDevices.Read.All " +
		"Reports.Read.All ReportSettings.Read.All AuditLog.Read.All UserAuthenticationMethod.Read.All Policy.Read.All"
	users, _, _ := values(t, f.get("/v1.0/users?$top=1", f.appToken(tenantA, "User.Read.All")))
	if len(users) != 1 {
		t.Fatalf("no user to ask about")
	}
	uid, _ := users[0]["id"].(string)
	const (
		org      = "/v1.0/organization"
		usersURL = "/v1.0/users?$top=5"
		skus     = "/v1.0/subscribedSkus"
		usage    = "/v1.0/reports/getMailboxUsageDetail(period='D7')"
		regs     = "/v1.0/reports/authenticationMethods/userRegistrationDetails"
		devices  = "/v1.0/deviceManagement/managedDevices"
		signIns  = "/v1.0/users?$select=id,signInActivity"
		settings = "/v1.0/admin/reportSettings"
		policy   = "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy"
	)
	methods := "/v1.0/users/" + uid + "/authentication/methods"
	type want struct {
		status int
		code   string
	}
	ok, found := want{http.StatusOK, ""}, want{http.StatusFound, ""}
	denied := want{http.StatusForbidden, "Authorization_RequestDenied"}
	for _, c := range []struct {
		name  string
		wids  []string
		cases map[string]want
	}{
		{"Global Reader", []string{scenario.RoleGlobalReader}, map[string]want{
			org: ok, usersURL: ok, skus: ok, regs: ok, devices: ok, methods: ok, signIns: ok, settings: ok, policy: ok,
			// per-user usage detail: tenant-level data only for Global Reader (reportroot-authorization)
			usage: {http.StatusForbidden, "S2SUnauthorized"},
		}},
		{"Reports Reader", []string{scenario.RoleReportsReader}, map[string]want{
			usage: found, regs: ok, signIns: ok, skus: ok, // Reports Reader inherits Directory Readers
			devices: {http.StatusForbidden, "UnknownError"}, methods: denied,
		}},
		{"Cloud Application Administrator", []string{scenario.RoleCloudApplicationAdmin}, map[string]want{
			org: ok, regs: {http.StatusForbidden, "Authentication_RequestFromUnsupportedUserRole"}, devices: {http.StatusForbidden, "UnknownError"},
			methods: denied, skus: denied, usage: {http.StatusForbidden, "S2SUnauthorized"}, settings: denied, policy: denied,
		}},
		{"no role", nil, map[string]want{org: denied, usersURL: denied}},
	} {
		tok := f.userToken(tenantA, scopes, c.wids...)
		for url, w := range c.cases {
			r := f.get(url, tok)
			code := ""
			if r.status >= 400 {
				code = r.errCode(t)
			}
			if r.status != w.status || code != w.code {
				t.Errorf("%s: GET %s answered %d %s (%s), want %d %s", c.name, url, r.status, code, strings.TrimSpace(string(r.body)), w.status, w.code)
			}
		}
	}
	// The same reads app-only: roles claim only, no directory role involved.
	app := f.appToken(tenantA, syncRoles...)
	for _, url := range []string{org, usersURL, skus, regs, devices} {
		if r := f.get(url, app); r.status != http.StatusOK {
			t.Errorf("app-only GET %s: %d %s", url, r.status, r.body)
		}
	}
	if r := f.get(usage, app); r.status != http.StatusFound {
		t.Errorf("app-only usage report: %d %s", r.status, r.body)
	}
}
