// Package appperms lists exactly what tenantsync's app registration asks for: the Microsoft Graph
// application permissions the sync, discovery and consent mails need, and Partner Center's
// delegated user_impersonation. The register command writes these; consent grants these.
package appperms

import "slices"

// Well-known resource application ids.
const (
	GraphAppID         = "00000003-0000-0000-c000-000000000000"
	PartnerCenterAppID = "fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd"
	// PartnerCenterUserImpersonation is the id of Partner Center's user_impersonation scope.
	PartnerCenterUserImpersonation = "1cebfa2a-fb4d-419e-b5f9-839b4383e05a"
)

// Permission is a Graph application permission (app role) with why tenantsync needs it.
type Permission struct {
	Value string
	ID    string // app role id on the Microsoft Graph service principal
	Why   string
}

// Graph are the Graph application permissions configured on the app registration
// (requiredResourceAccess), in the order shown to admins: exactly what an admin-consent link
// (scope .default) grants in a customer tenant, so read permissions only (a test fails otherwise).
var Graph = []Permission{
	{"User.Read.All", "df021288-bdef-4463-88db-98f22de89214", "read users: names, e-mail, job titles, licences"},
	{"Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b", "read groups"},
	{"Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61", "read the directory (users, groups, organization) with delta queries"},
	{"Organization.Read.All", "498476ce-e0fe-48b0-b801-37ba7e2685c6", "read the organization's name, domains and licence subscriptions"},
	{"Domain.Read.All", "dbb9058a-0e50-45d7-ae91-66909b5d4664", "read the tenant's domains"},
	{"DeviceManagementManagedDevices.Read.All", "2f51be20-0bb4-4fed-bf7b-db946066c75e", "read Intune managed devices and their users"},
	{"Reports.Read.All", "230c1aed-a721-4c5d-9cb4-a90514e508ef", "read mailbox usage reports"},
	{"ReportSettings.Read.All", "ee353f83-55ef-4b78-82da-555bfa2b4b95", "detect whether reports conceal user names"},
	{"AuditLog.Read.All", "b0afded3-3588-46d8-8b3d-9842eff778da", "read last sign-in dates and MFA registration (Entra ID P1/P2 tenants)"},
	{"UserAuthenticationMethod.Read.All", "38d9df27-64da-44fd-b7c5-a6fbac20248f", "read which MFA methods users registered (the MFA state of tenants without Entra ID P1/P2)"},
	{"Policy.Read.All", "246dd0d5-5bd0-4def-940b-0421030a5b68", "read the security defaults policy and per-user MFA states (the MFA state of tenants without Entra ID P1/P2)"},
}

// PartnerApp are Graph application permissions tenantsync uses in the partner's own tenant only.
// tenantsync register assigns them there as app role assignments but does not configure them in
// requiredResourceAccess, so no customer's consent (the link's .default) ever grants them: "The
// .default scope ... grants the static permissions configured on the app registration"
// (Microsoft identity platform, scopes and permissions). Read only.
var PartnerApp = []Permission{
	{"DelegatedAdminRelationship.Read.All", "f6e9e124-4586-492f-adc0-c6f96e4823fd", "read GDAP relationships and their access assignments to discover customer tenants (partner tenant only)"},
}

// PartnerDelegated are the delegated Graph scopes granted in the partner tenant only (an
// oauth2PermissionGrant that tenantsync register creates there; not in requiredResourceAccess):
// consent links are sent from the partner service account's own mailbox with its delegated token
// (POST /me/sendMail, delegated Mail.Send: https://learn.microsoft.com/graph/api/user-sendmail),
// so tenantsync holds no Mail.Send application permission anywhere.
var PartnerDelegated = []string{"Mail.Send"}

// Customer are the Graph application permissions tenantsync needs in every customer tenant: the
// required permissions, declared once. Consent assigns exactly these, verification and each sync
// compare the token's roles claim with them. All are read permissions (least privilege; a test
// fails otherwise).
func Customer() []Permission { return slices.Clone(Graph) }

// Missing lists the customer permissions absent from roles (an app-only token's roles claim), in
// the order of Customer.
func Missing(roles []string) []Permission {
	have := map[string]bool{}
	for _, r := range roles {
		have[r] = true
	}
	var out []Permission
	for _, p := range Customer() {
		if !have[p.Value] {
			out = append(out, p)
		}
	}
	return out
}

// Bootstrap are the delegated Microsoft Graph scopes Partner Center consent grants in a customer
// tenant (applicationGrants[].scope). Partner Center's consent creates the service principal and
// an admin grant of these delegated scopes only, never app roles; with them the partner service
// account (holding Privileged Role Administrator through GDAP) assigns the Customer app roles:
// POST /servicePrincipals/{graph}/appRoleAssignedTo needs delegated "AppRoleAssignment.ReadWrite.All
// and Application.Read.All"
// (https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto). The delegated
// write scope is usable only by a signed-in partner user whose GDAP role allows it; it is the one
// non-read permission in a customer tenant, and only the cpv+roles path asks for it.
var Bootstrap = []string{"Application.Read.All", "AppRoleAssignment.ReadWrite.All"}

// GraphValues are the permission values, e.g. for Partner Center's applicationGrants scope.
func GraphValues() []string {
	out := make([]string, len(Graph))
	for i, p := range Graph {
		out[i] = p.Value
	}
	return out
}
