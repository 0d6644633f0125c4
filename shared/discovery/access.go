package discovery

import (
	"context"
	"sort"
	"strings"

	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/remedy"
)

// Role definition ids the access check reports on.
const (
	RoleGlobalAdmin         = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedRoleAdmin = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RoleGlobalReader        = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
)

// readAccess fills, for each active relationship, the roles in force: those of its active access
// assignments. A partner user holds in a customer tenant the roles of the access assignments for a
// security group the user is in, not the relationship's role list alone ("Once it's active, the
// members of the access container get access to the roles specified in the access details",
// https://learn.microsoft.com/graph/api/resources/delegatedadminaccessassignment; listed with
// DelegatedAdminRelationship.Read.All, https://learn.microsoft.com/graph/api/delegatedadminrelationship-list-accessassignments).
// Whether the service account is in the assigned group is not checked (it needs group membership
// reads in the partner tenant that the app does not request). A failure leaves the relationship
// unchecked and is logged: discovery goes on.
func (d *Discoverer) readAccess(ctx context.Context, client *msgraphsdk.GraphServiceClient, rels []rel) {
	for i := range rels {
		r := &rels[i].rel
		if r.Status != "active" || r.ID == "" {
			continue
		}
		resp, err := client.TenantRelationships().DelegatedAdminRelationships().ByDelegatedAdminRelationshipId(r.ID).AccessAssignments().Get(ctx, nil)
		if err != nil {
			p := remedy.Classify(err)
			d.log().Warn("GDAP access assignments not read", "tenantId", rels[i].tenantID, "relationshipId", r.ID, "code", p.Code, "error", p.Message)
			continue
		}
		r.AssignedRoles, r.AccessChecked = []string{}, true
		for _, a := range resp.GetValue() {
			if s := a.GetStatus(); s == nil || s.String() != "active" {
				continue
			}
			if ad := a.GetAccessDetails(); ad != nil {
				for _, ur := range ad.GetUnifiedRoles() {
					if id := strings.ToLower(deref(ur.GetRoleDefinitionId())); id != "" && !contains(r.AssignedRoles, id) {
						r.AssignedRoles = append(r.AssignedRoles, id)
					}
				}
			}
		}
		sort.Strings(r.AssignedRoles)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Consent paths the access check predicts.
const (
	PathCPVRoles = "cpv+roles" // Partner Center consent, then app roles assigned through GDAP
	PathGDAP     = "gdap"      // Partner Center consent, then delegated sync with the GDAP roles
	PathLink     = "link"      // the customer's admin approves the emailed admin-consent link
)

// Path predicts the consent path from the roles in force (or the relationship's roles when the
// access assignments were not read): Partner Center consent needs Application Administrator, Cloud
// Application Administrator or Global Administrator; assigning Microsoft Graph app roles needs
// Privileged Role Administrator or Global Administrator ("Grant tenant-wide admin consent",
// https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent). missing names
// the roles to add to the access assignment for cpv+roles.
func Path(roles []string) (path string, missing []string) {
	has := func(ids ...string) bool {
		for _, id := range ids {
			if contains(roles, id) {
				return true
			}
		}
		return false
	}
	if !has(RoleApplicationAdmin, RoleCloudApplicationAdmin, RoleGlobalAdmin) {
		missing = append(missing, "Cloud Application Administrator")
	}
	if !has(RolePrivilegedRoleAdmin, RoleGlobalAdmin) {
		missing = append(missing, "Privileged Role Administrator")
	}
	if len(missing) == 0 {
		return PathCPVRoles, nil
	}
	// Without Privileged Role Administrator no app roles can be granted, but with a consent role
	// (the service principal and delegated read scopes through Partner Center) and Global Reader
	// the service account's delegated token reads the tenant: the gdap path. missing still names
	// what app-only access would need.
	if len(missing) == 1 && has(RoleGlobalReader) {
		return PathGDAP, missing
	}
	return PathLink, missing
}

func accessOf(tenantID string, r domain.Relationship) Access {
	a := Access{TenantID: tenantID, RelationshipID: r.ID, RolesInForce: []string{}}
	for _, id := range r.AssignedRoles {
		name := RoleNames[id]
		if name == "" {
			name = id
		}
		a.RolesInForce = append(a.RolesInForce, name)
	}
	var missing []string
	a.Path, missing = Path(r.AssignedRoles)
	switch {
	case a.Path == PathGDAP:
		a.Fix = "Synced with the service account's delegated token (Global Reader; mailbox usage needs Reports Reader too). For app-only access add " +
			strings.Join(missing, " and ") + " to the access assignment of GDAP relationship " + r.ID +
			" for the partner service account's security group, or send the admin-consent link (POST /api/tenants/" + tenantID + "/consent-link)."
	case len(missing) > 0:
		a.Fix = "Add " + strings.Join(missing, " and ") + " to the access assignment of GDAP relationship " + r.ID +
			" for the partner service account's security group, or send the admin-consent link (POST /api/tenants/" + tenantID + "/consent-link)."
	}
	return a
}
