package consent_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// The access check: discovery reads each active relationship's access assignments and reports the
// roles in force and the consent path they allow, with the fix; the tenant carries the roles.
func TestDiscoveryAccessCheck(t *testing.T) {
	e := newEnv(t)
	// The partner account is connected (its service account signed in), so discovery also reads
	// the service account's own roles in each customer tenant.
	if _, err := e.opts.PartnerCenter.Token(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.discover()
	byID := map[string]discovery.Access{}
	for _, a := range e.report.Access {
		byID[a.TenantID] = a
	}
	for id, want := range map[string]struct {
		path string
		fix  []string
	}{
		scenario.DemoWoodgroveBank:  {discovery.PathCPVRoles, nil},
		scenario.DemoConsolidated:   {discovery.PathGDAP, []string{"Privileged Role Administrator"}},
		scenario.DemoAdventureWorks: {discovery.PathLink, []string{"Cloud Application Administrator and Privileged Role Administrator"}},
	} {
		a, ok := byID[id]
		if !ok {
			t.Errorf("%s: no access check in the report", id)
			continue
		}
		tn := e.tenant(id)
		if a.Path != want.path || a.RelationshipID != tn.Relationship.ID || !tn.Relationship.AccessChecked || len(a.RolesInForce) != len(tn.Relationship.AssignedRoles) {
			t.Errorf("%s: access %+v, tenant relationship %+v", id, a, tn.Relationship)
		}
		for _, f := range want.fix {
			if !strings.Contains(a.Fix, f) || !strings.Contains(a.Fix, tn.Relationship.ID) || !strings.Contains(a.Fix, "consent-link") {
				t.Errorf("%s: fix %q, want it to name %q, the relationship and the link", id, a.Fix, f)
			}
		}
		if want.fix == nil && a.Fix != "" {
			t.Errorf("%s: fix %q for a tenant that needs none", id, a.Fix)
		}
		// Not consented yet: Entra issues the service account no delegated token for tenantsync
		// there, so its own roles are unknown.
		if a.ServiceAccountChecked {
			t.Errorf("%s: service account checked before consent: %+v", id, a)
		}
	}
	// The simulator pages access assignments (two a page, two roles each): Woodgrove's five roles in
	// force are only complete if discovery followed @odata.nextLink.
	wg, _ := e.sim.World.Tenant(scenario.DemoWoodgroveBank)
	truth := slices.Sorted(slices.Values(wg.GDAP[0].AssignedRoles))
	if got := e.tenant(scenario.DemoWoodgroveBank).Relationship.AssignedRoles; len(truth) <= 4 || !slices.Equal(got, truth) {
		t.Errorf("Woodgrove roles in force %v, want every page's %v", got, truth)
	}
	if a := byID[scenario.DemoAdventureWorks]; !slices.Equal(a.RolesInForce, []string{"Global Reader"}) {
		t.Errorf("Adventure Works roles in force %v", a.RolesInForce)
	}
	// Once consented (Woodgrove through cpv+roles), discovery reads the service account's own roles
	// there from its delegated token: it holds every role in force, so it is in the group.
	if r := grant(t, e, scenario.DemoWoodgroveBank); r.State != "consented" {
		t.Fatalf("Woodgrove %+v", r)
	}
	e.discover()
	for _, a := range e.report.Access {
		if a.TenantID != scenario.DemoWoodgroveBank {
			continue
		}
		tn := e.tenant(a.TenantID)
		if !a.ServiceAccountChecked || !a.ServiceAccountInGroup || !slices.Equal(a.ServiceAccountRoles, a.RolesInForce) || a.Path != discovery.PathCPVRoles ||
			!tn.Relationship.AgentChecked || !slices.Equal(tn.Relationship.AgentRoles, tn.Relationship.AssignedRoles) {
			t.Errorf("Woodgrove service account check %+v, tenant relationship %+v", a, tn.Relationship)
		}
	}
	// A terminated relationship has no roles in force and no access check.
	if _, ok := byID[scenario.DemoAlpineSkiHouse]; ok {
		t.Errorf("access check for a terminated relationship")
	}
}

func TestPathNeedsBothRoles(t *testing.T) {
	for _, c := range []struct {
		roles   []string
		path    string
		missing int
	}{
		{nil, discovery.PathLink, 2},
		{[]string{discovery.RoleCloudApplicationAdmin}, discovery.PathLink, 1},
		{[]string{discovery.RolePrivilegedRoleAdmin}, discovery.PathLink, 1},
		{[]string{discovery.RoleApplicationAdmin, discovery.RolePrivilegedRoleAdmin}, discovery.PathCPVRoles, 0},
		{[]string{discovery.RoleGlobalAdmin}, discovery.PathCPVRoles, 0},
		{[]string{discovery.RoleCloudApplicationAdmin, discovery.RoleGlobalReader}, discovery.PathGDAP, 1},
		{[]string{discovery.RoleGlobalReader}, discovery.PathLink, 2},
	} {
		if p, m := discovery.Path(c.roles); p != c.path || len(m) != c.missing {
			t.Errorf("Path(%v) = %s %v, want %s with %d missing", c.roles, p, m, c.path, c.missing)
		}
	}
}

// Consent follows the roles in force: a relationship listing Cloud Application Administrator whose
// access assignment does not give it is skipped with the fix naming the access assignment.
func TestCPVUsesRolesInForce(t *testing.T) {
	e := newEnv(t)
	e.discover()
	tn := e.tenant(scenario.DemoConsolidated)
	tn.Relationship.AssignedRoles = slices.DeleteFunc(slices.Clone(tn.Relationship.AssignedRoles), func(r string) bool { return r == discovery.RoleCloudApplicationAdmin })
	if !tn.Relationship.AccessChecked || !slices.Contains(tn.Relationship.Roles, discovery.RoleCloudApplicationAdmin) {
		t.Fatalf("relationship %+v", tn.Relationship)
	}
	if err := e.st.UpsertTenant(e.ctx, tn); err != nil {
		t.Fatal(err)
	}
	r := grant(t, e, scenario.DemoConsolidated)
	if r.State != "skipped" || r.Code != "missingRoles" || !strings.Contains(r.Error, "access assignments") || !strings.Contains(r.Remediation, tn.Relationship.ID) {
		t.Errorf("result %+v, want skipped for the roles in force, the fix naming the relationship's access assignment", r)
	}
	if _, ok := e.sim.Directory.ServicePrincipal(scenario.DemoConsolidated, scenario.DemoAppID); ok {
		t.Error("Partner Center was asked although the roles in force cannot consent")
	}
}
