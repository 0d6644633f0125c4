package discovery

import (
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// The access check follows what the service account really holds: roles in force it lacks mean
// it is not in the access assignment's group, and the fix says so instead of naming roles.
func TestAccessOfServiceAccount(t *testing.T) {
	inForce := []string{RoleCloudApplicationAdmin, RolePrivilegedRoleAdmin, RoleGlobalReader}
	for _, c := range []struct {
		name    string
		agent   []string
		checked bool
		path    string
		inGroup bool
		fix     string
	}{
		{"in the group", inForce, true, PathCPVRoles, true, ""},
		{"not in the group", []string{}, true, PathLink, false, "security group"},
		{"not checked", nil, false, PathCPVRoles, false, ""},
		{"gdap roles", []string{RoleCloudApplicationAdmin, RoleGlobalReader}, true, PathGDAP, false, "security group"},
	} {
		a := AccessOf("t1", domain.Relationship{ID: "rel-1", AssignedRoles: inForce, AccessChecked: true, AgentRoles: c.agent, AgentChecked: c.checked})
		if a.Path != c.path || a.ServiceAccountInGroup != c.inGroup || a.ServiceAccountChecked != c.checked ||
			(c.fix == "") != (a.Fix == "") || !strings.Contains(a.Fix, c.fix) {
			t.Errorf("%s: %+v, want path %s, in group %v, fix with %q", c.name, a, c.path, c.inGroup, c.fix)
		}
		if c.fix != "" && !strings.Contains(a.Fix, "rel-1") {
			t.Errorf("%s: fix %q does not name the relationship", c.name, a.Fix)
		}
	}
}
