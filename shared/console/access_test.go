package console

import (
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
)

// The access tab shows the roles in force, whether the service account holds them, the path and
// fix, and for a gdap tenant the delegated scopes instead of application permissions.
func TestAccessTab(t *testing.T) {
	rel := domain.Relationship{ID: "rel-7", Status: "active", AccessChecked: true,
		AssignedRoles: []string{discovery.RoleCloudApplicationAdmin, discovery.RoleGlobalReader},
		AgentRoles:    []string{discovery.RoleCloudApplicationAdmin, discovery.RoleGlobalReader}, AgentChecked: true}
	gdap := domain.Consent{State: domain.ConsentConsented, Method: domain.ConsentMethodGDAP}
	a := accessOf(domain.Tenant{TenantID: "t7", Relationship: rel}, gdap)
	if a.Path != discovery.PathGDAP || !strings.Contains(a.Fix, "Privileged Role Administrator") || !strings.Contains(a.ServiceAccount, "in the access assignment's security group") ||
		len(a.Permissions) != 0 || !slices.Contains(a.Delegated, "Directory.Read.All") || !slices.Contains(a.Roles, "Global Reader") {
		t.Errorf("gdap tenant access %+v", a)
	}
	rel.AgentRoles = []string{}
	a = accessOf(domain.Tenant{TenantID: "t7", Relationship: rel}, domain.Consent{State: domain.ConsentConsented, Method: "link"})
	if !strings.Contains(a.ServiceAccount, "does not hold") || !strings.Contains(a.Fix, "security group") || len(a.Permissions) == 0 || len(a.Delegated) != 0 {
		t.Errorf("service account outside the group: %+v", a)
	}
	a = accessOf(domain.Tenant{TenantID: "t7", Relationship: domain.Relationship{Roles: []string{discovery.RoleGlobalReader}}}, domain.Consent{State: domain.ConsentNone})
	if !strings.Contains(a.RolesSource, "not read") || a.Path != "" || len(a.Permissions) != 0 {
		t.Errorf("unchecked relationship: %+v", a)
	}
}
