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
	"github.com/tenantsync/tenantsync/shared/syncer"
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
// consent works (delegated read scopes only, no write scope), Graph refuses the app roles (no
// Privileged Role Administrator), so the tenant is consented by the gdap path once a delegated
// token with Global Reader has read it; its app-only token still has no roles. The first sync runs
// with the delegated token: everything Global Reader reads is synced, mailbox usage (per-user
// report detail) is unavailable saying Reports Reader or app-only access would enable it, and the
// run is partial, not failed.
func TestCPVWithoutPrivilegedRoleAdminSyncsThroughGDAP(t *testing.T) {
	e := newEnv(t)
	e.discover()
	r := grant(t, e, scenario.DemoConsolidated)
	tn := e.tenant(scenario.DemoConsolidated)
	if r.State != consent.ResultConsented || r.Method != consent.MethodGDAP || r.Code != consent.CodeDelegatedSync || r.RunID == "" ||
		!strings.Contains(r.Remediation, "Privileged Role Administrator") || !strings.Contains(r.Remediation, tn.Relationship.ID) || tn.Relationship.ID == "" {
		t.Fatalf("result %+v, want consented by gdap with the first sync queued and the app-only fix naming Privileged Role Administrator and relationship %q", r, tn.Relationship.ID)
	}
	if tn.Consent.State != domain.ConsentConsented || tn.Consent.Method != consent.MethodGDAP {
		t.Errorf("stored %+v, want consented by gdap", tn.Consent)
	}
	// What Microsoft leaves behind: a service principal with delegated read scopes only, no app roles.
	sp, ok := e.sim.Directory.ServicePrincipal(scenario.DemoConsolidated, scenario.DemoAppID)
	if !ok || len(sp.Roles) != 0 || !slices.Equal(sp.DelegatedScopes, slices.Sorted(slices.Values(appperms.CustomerDelegated()))) {
		t.Errorf("service principal %+v (exists %v), want exactly the delegated read scopes and no app roles", sp, ok)
	}
	for _, s := range sp.DelegatedScopes {
		if !strings.Contains(s, ".Read") {
			t.Errorf("customer tenant granted delegated %s", s)
		}
	}
	if roles := e.freshAppRoles(t, scenario.DemoConsolidated); len(roles) != 0 {
		t.Errorf("app-only token roles %v after Partner Center consent alone", roles)
	}
	reqs := 0
	for _, req := range e.q.SyncRequests(t) {
		if req.TenantID == scenario.DemoConsolidated {
			reqs++
		}
	}
	if reqs != 1 {
		t.Errorf("%d syncs queued for Consolidated Messenger, want its first", reqs)
	}

	res := e.syncOnce(t, scenario.DemoConsolidated, "gdap-first")
	if res.Run.State != domain.SyncPartial {
		t.Fatalf("run %s %+v, want partial", res.Run.State, res.Run.Error)
	}
	tn = e.tenant(scenario.DemoConsolidated)
	for _, c := range []string{"users", "groups", "licenses", "devices", "userSecurity"} {
		if st := tn.Collections[c]; !st.Available {
			t.Errorf("%s %+v, want synced with Global Reader", c, st)
		}
	}
	mb := tn.Collections["mailboxes"]
	if mb.Available || mb.Code() != syncer.CodeGDAPRoleMissing || !strings.Contains(mb.Reason(), "S2SUnauthorized") ||
		!strings.Contains(mb.Remediation(), "Reports Reader") || !strings.Contains(mb.Remediation(), tn.Relationship.ID) || !strings.Contains(mb.Remediation(), "consent-link") {
		t.Errorf("mailboxes %+v, want unavailable naming Reports Reader, the relationship and the link", mb)
	}
	if _, ok := tn.Collections["permissions"]; ok {
		t.Errorf("a delegated sync reported app-role drift: %+v", tn.Collections["permissions"])
	}
	if tn.Counts.Users != 12 {
		t.Errorf("users %d, want the scenario's 12", tn.Counts.Users)
	}
	// Every Graph call of that sync used a delegated token for the tenant with Global Reader.
	app := false
	for _, raw := range e.creds.tokens() {
		if c := e.claims(raw); strings.EqualFold(c.TenantID, scenario.DemoConsolidated) && c.IsApp() && len(c.Roles) > 0 {
			app = true
		}
	}
	if app {
		t.Error("an app-only token with roles was issued for Consolidated Messenger")
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
