package consent_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// grant discovers, then consents the tenant through Partner Center and returns its result.
func grant(t *testing.T, e *env, id string) consent.Result {
	t.Helper()
	rs, err := e.svc.GrantCPV(e.ctx, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	e.answer(rs)
	return resultFor(t, rs, id)
}

func customerValues() []string {
	var out []string
	for _, p := range appperms.Customer() {
		out = append(out, p.Value)
	}
	return out
}

// freshAppRoles is the roles claim of a new app-only token for tenantID (the cache bypassed, as
// consent's own check does), so the assertion sees what Entra issues now.
func (e *env) freshAppRoles(t *testing.T, tenantID string) []string {
	t.Helper()
	cred, err := e.creds.For(tenantID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(e.ctx, policy.TokenRequestOptions{Scopes: []string{cloud.GraphScope}, TenantID: tenantID, EnableCAE: true,
		Claims: `{"access_token":{"nbf":{"essential":true,"value":"1"}}}`})
	if err != nil {
		t.Fatalf("app-only token for %s: %v", tenantID, err)
	}
	return e.claims(tok.Token).Roles
}

// Cloud Application Administrator + Privileged Role Administrator + Global Reader (Woodgrove):
// Partner Center consents the bootstrap delegated scopes only, the app roles are assigned through
// GDAP with the service account's delegated token, and the app-only token then holds every
// required role and nothing partner-only.
func TestCPVRolesAssignedThroughGDAP(t *testing.T) {
	e := newEnv(t)
	e.discover()
	checkConsented(t, e, grant(t, e, scenario.DemoWoodgroveBank), scenario.DemoWoodgroveBank, consent.MethodCPV)
	if consent.MethodCPV != "cpv+roles" {
		t.Errorf("method %q", consent.MethodCPV)
	}
	sp, _ := e.sim.Directory.ServicePrincipal(scenario.DemoWoodgroveBank, scenario.DemoAppID)
	if sp.Via != "cpv" || !slices.Equal(sp.DelegatedScopes, slices.Sorted(slices.Values(appperms.Bootstrap))) {
		t.Errorf("service principal via %s with delegated scopes %v, want Partner Center's grant of exactly %v", sp.Via, sp.DelegatedScopes, appperms.Bootstrap)
	}
	want := customerValues()
	slices.Sort(want)
	if got := slices.Sorted(slices.Values(sp.Roles)); !slices.Equal(got, want) {
		t.Errorf("app roles %v, want exactly the customer permissions %v", got, want)
	}
	roles := e.freshAppRoles(t, scenario.DemoWoodgroveBank)
	for _, r := range want {
		if !slices.Contains(roles, r) {
			t.Errorf("app-only token lacks %s: %v", r, roles)
		}
	}
	for _, r := range roles {
		if r == "Mail.Send" || r == "DelegatedAdminRelationship.Read.All" || !strings.Contains(r, ".Read") {
			t.Errorf("customer tenant granted %s", r)
		}
	}
	// The roles were assigned with a delegated token for Woodgrove carrying Privileged Role Administrator.
	found := false
	for _, raw := range *e.pcTokens {
		c := e.claims(raw)
		if strings.EqualFold(c.TenantID, scenario.DemoWoodgroveBank) && !c.IsApp() {
			found = true
			if !c.HasWid(consent.RolePrivilegedRoleAdmin) || !c.HasScope("AppRoleAssignment.ReadWrite.All") {
				t.Errorf("delegated Woodgrove token wids %v scp %q", c.Wids, c.Scope)
			}
		}
	}
	if !found {
		t.Error("no delegated token for Woodgrove was used")
	}
	e.scanSecrets()
}

// Cloud Application Administrator + Global Reader only (Consolidated Messenger): Partner Center
// consent works, but Graph refuses the app roles; the tenant is never shown consented, its token
// has no roles and Graph answers 403, and the fix names the role and the relationship, or the link.
func TestCPVWithoutPrivilegedRoleAdminNeedsTheLink(t *testing.T) {
	e := newEnv(t)
	e.discover()
	r := grant(t, e, scenario.DemoConsolidated)
	tn := e.tenant(scenario.DemoConsolidated)
	if r.State != consent.ResultFailed || r.Method != consent.MethodLink || r.Code != consent.CodeRolesNotAssignable ||
		!strings.Contains(r.Remediation, "Privileged Role Administrator") || !strings.Contains(r.Remediation, tn.Relationship.ID) ||
		!strings.Contains(r.Remediation, "/consent-link") || tn.Relationship.ID == "" {
		t.Fatalf("result %+v, want failed, method link, fix naming Privileged Role Administrator, relationship %q and the link", r, tn.Relationship.ID)
	}
	if tn.Consent.State != domain.ConsentFailed || tn.Consent.Method != consent.MethodLink || !strings.HasPrefix(tn.Consent.Error, consent.CodeRolesNotAssignable) {
		t.Errorf("stored %+v, want failed by link with the code", tn.Consent)
	}
	// What Microsoft leaves behind: a service principal with delegated scopes and no app roles.
	sp, ok := e.sim.Directory.ServicePrincipal(scenario.DemoConsolidated, scenario.DemoAppID)
	if !ok || len(sp.Roles) != 0 || len(sp.DelegatedScopes) == 0 {
		t.Errorf("service principal %+v (exists %v), want delegated scopes only", sp, ok)
	}
	if roles := e.freshAppRoles(t, scenario.DemoConsolidated); len(roles) != 0 {
		t.Errorf("app-only token roles %v after Partner Center consent alone", roles)
	}
	for _, req := range e.q.SyncRequests(t) {
		if req.TenantID == scenario.DemoConsolidated {
			t.Errorf("a sync was queued for an unverified consent: %+v", req)
		}
	}
}

// Consented long ago with fewer app roles: Woodgrove's service principal loses three roles (as a
// consent given before tenantsync asked for them); Partner Center then says the consent exists,
// and the missing roles are assigned through GDAP and verified.
func TestCPVRepairsAnOldConsent(t *testing.T) {
	e := newEnv(t)
	e.discover()
	checkConsented(t, e, grant(t, e, scenario.DemoWoodgroveBank), scenario.DemoWoodgroveBank, consent.MethodCPV)
	old := []string{"AuditLog.Read.All", "UserAuthenticationMethod.Read.All", "Policy.Read.All"}
	if err := e.sim.Directory.WithdrawRoles(scenario.DemoWoodgroveBank, scenario.DemoAppID, old...); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetConsent(e.ctx, scenario.DemoWoodgroveBank, domain.Consent{State: domain.ConsentNone}); err != nil {
		t.Fatal(err)
	}
	before := e.freshAppRoles(t, scenario.DemoWoodgroveBank)
	if slices.Contains(before, "AuditLog.Read.All") || len(before) == 0 {
		t.Fatalf("roles before %v, want the old, smaller grant", before)
	}
	e.q.Reset()
	r := grant(t, e, scenario.DemoWoodgroveBank)
	if !r.AlreadyExisted {
		t.Errorf("result %+v, want Partner Center's \"already exists\"", r)
	}
	checkConsented(t, e, r, scenario.DemoWoodgroveBank, consent.MethodCPV)
	after := e.freshAppRoles(t, scenario.DemoWoodgroveBank)
	for _, want := range old {
		if !slices.Contains(after, want) {
			t.Errorf("roles after repair %v lack %s", after, want)
		}
	}
}
