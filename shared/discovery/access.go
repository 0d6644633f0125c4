package discovery

import (
	"context"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tenantsync/tenantsync/shared/approles"
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
// DelegatedAdminRelationship.Read.All, https://learn.microsoft.com/graph/api/delegatedadminrelationship-list-accessassignments),
// every page of them (the list is a collection: its @odata.nextLink is followed by the SDK's page
// iterator). Whether the service account is in the assigned group is checked separately
// (agentRoles). A failure leaves the relationship unchecked and is logged: discovery goes on.
func (d *Discoverer) readAccess(ctx context.Context, client *msgraphsdk.GraphServiceClient, adapter abstractions.RequestAdapter, rels []rel) {
	for i := range rels {
		r := &rels[i].rel
		if r.Status != "active" || r.ID == "" {
			continue
		}
		roles, err := d.assignedRoles(ctx, client, adapter, r.ID)
		if err != nil {
			p := remedy.Classify(err)
			d.log().Warn("GDAP access assignments not read", "tenantId", rels[i].tenantID, "relationshipId", r.ID, "code", p.Code, "error", p.Message)
			continue
		}
		r.AssignedRoles, r.AccessChecked = roles, true
	}
}

// assignedRoles reads every page of a relationship's access assignments and returns the roles of
// the active ones, sorted, once each.
func (d *Discoverer) assignedRoles(ctx context.Context, client *msgraphsdk.GraphServiceClient, adapter abstractions.RequestAdapter, relID string) ([]string, error) {
	resp, err := client.TenantRelationships().DelegatedAdminRelationships().ByDelegatedAdminRelationshipId(relID).AccessAssignments().Get(ctx, nil)
	if err != nil {
		return nil, err
	}
	it, err := msgraphgocore.NewPageIterator[models.DelegatedAdminAccessAssignmentable](resp, adapter, models.CreateDelegatedAdminAccessAssignmentCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, err
	}
	roles := []string{}
	err = it.Iterate(ctx, func(a models.DelegatedAdminAccessAssignmentable) bool {
		if st := a.GetStatus(); st == nil || st.String() != "active" {
			return true
		}
		if ad := a.GetAccessDetails(); ad != nil {
			for _, ur := range ad.GetUnifiedRoles() {
				if id := strings.ToLower(deref(ur.GetRoleDefinitionId())); id != "" && !contains(roles, id) {
					roles = append(roles, id)
				}
			}
		}
		return true
	})
	sort.Strings(roles)
	return roles, err
}

// partnerDelegated is the service account's delegated credential in the partner tenant, or nil
// when the partner account is not connected.
func (d *Discoverer) partnerDelegated(ctx context.Context) azcore.TokenCredential {
	if d.PartnerGraph == nil {
		return nil
	}
	if _, err := d.PartnerGraph(ctx, d.PartnerTenantID); err != nil {
		d.log().Info("partner account not usable for Graph: GDAP read app-only", "code", remedy.Classify(err).Code)
		return nil
	}
	return approles.Delegated(d.PartnerTenantID, d.PartnerGraph)
}

// agentRoles records the roles the partner service account really holds in the tenant: the wids
// of its delegated token there ("wids: Denotes the tenant-wide roles assigned to this user",
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference). A role in
// force (access assignments) missing from them means the service account is not in the access
// assignment's security group. That GDAP roles appear in a partner user's wids in the customer
// tenant is how the simulator models GDAP; it is not stated on a Microsoft page found in this
// session (unverified). No token (not connected, refused): left unchecked.
func (d *Discoverer) agentRoles(ctx context.Context, tenantID string, r *domain.Relationship) {
	r.AgentRoles, r.AgentChecked = nil, false
	if d.PartnerGraph == nil || r.Status != "active" {
		return
	}
	tok, err := d.PartnerGraph(ctx, tenantID)
	if err != nil {
		d.log().Info("service account's roles not checked: no delegated token for the tenant", "tenantId", tenantID, "code", remedy.Classify(err).Code)
		return
	}
	c, err := approles.ReadDelegated(tok)
	if err != nil {
		return
	}
	r.AgentRoles, r.AgentChecked = []string{}, true
	for _, w := range c.Wids {
		if w = strings.ToLower(w); !contains(r.AgentRoles, w) {
			r.AgentRoles = append(r.AgentRoles, w)
		}
	}
	sort.Strings(r.AgentRoles)
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

// AccessOf is the access check of one tenant's relationship: roles in force, what the service
// account holds, the consent path they allow and the fix.
func AccessOf(tenantID string, r domain.Relationship) Access {
	a := Access{TenantID: tenantID, RelationshipID: r.ID, RolesInForce: roleNames(r.AssignedRoles)}
	roles := r.AssignedRoles
	if r.AgentChecked {
		// What the service account really holds decides the path.
		a.ServiceAccountChecked, a.ServiceAccountRoles = true, roleNames(r.AgentRoles)
		var lacks []string
		for _, id := range r.AssignedRoles {
			if !contains(r.AgentRoles, id) {
				lacks = append(lacks, id)
			}
		}
		a.ServiceAccountInGroup = len(lacks) == 0
		roles = r.AgentRoles
	}
	var missing []string
	a.Path, missing = Path(roles)
	switch {
	case a.ServiceAccountChecked && !a.ServiceAccountInGroup:
		a.Fix = "The partner service account does not hold the roles of GDAP relationship " + r.ID +
			"'s access assignment: add it to the assignment's security group in the partner tenant (Partner Center > Customers > the customer > Admin relationships), then run discovery again."
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

// roleNames are the roles' names (the id where the name is not known).
func roleNames(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		name := RoleNames[id]
		if name == "" {
			name = id
		}
		out = append(out, name)
	}
	return out
}
