package graph

import (
	"net/http"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// Delegated calls in a customer tenant: besides the delegated scope (checked by each handler),
// Graph requires the signed-in user to hold a supported Microsoft Entra role there ("In delegated
// scenarios with work or school accounts, the signed-in user must be assigned a supported Microsoft
// Entra role", each API page's permissions section). A partner user acting through GDAP holds the
// roles of its access assignments, carried in the token's wids. The app-only path is unaffected.
//
// Role template ids: Microsoft Entra built-in roles reference
// (https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference,
// read through the search tool's code corpus).
const (
	roleAuthAdmin           = "c4e39bd9-1100-46d3-8c65-fb160da0071f" // Authentication Administrator
	rolePrivAuthAdmin       = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13" // Privileged Authentication Administrator
	roleSecurityAdmin       = "194ae4cb-b126-40b2-bd5b-6091b380977d" // Security Administrator
	roleSecurityReader      = "5d6b6bb7-de71-4623-b4af-96380a352509" // Security Reader
	roleSecurityOperator    = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f" // Security Operator
	roleExchangeAdmin       = "29232cdf-9323-42fd-ade2-1d097af3e4de" // Exchange Administrator
	roleIntuneAdmin         = "3a2c62db-5318-420d-8d74-23affee5d9d5" // Intune Administrator
	roleUsageSummaryReports = "75934031-6c7e-415a-99d7-48dbd49e875e" // Usage Summary Reports Reader (id from memory: unverified)
)

// roleRule is one endpoint's delegated role requirement and the error Graph gives without it.
type roleRule struct {
	roles []string
	deny  func(c *call) *gerr
}

var (
	// Directory reads (organization, users, groups, domains): Directory Readers and Global Reader
	// are the least privileged roles listed for organization and subscribedSkus
	// (microsoft-graph-docs-contrib api-reference/v1.0/includes/rbac-for-apis/rbac-organization-apis-read.md,
	// rbac-company-subscriptions-subscribedskus-apis.md). A GDAP agent is no member of the customer
	// tenant, so it has no default user permissions to fall back on. Reports Reader "inherits
	// additional permissions from the Directory Readers role" (permissions reference). Users, groups
	// and domains are given the same set; their own pages were not checked in this session (unverified).
	directoryReaders = []string{scenario.RoleGlobalAdmin, scenario.RoleGlobalReader, scenario.RoleDirectoryReaders, scenario.RoleReportsReader,
		scenario.RoleUserAdmin, scenario.RoleApplicationAdmin, scenario.RoleCloudApplicationAdmin, scenario.RolePrivilegedRoleAdmin,
		roleSecurityAdmin, roleSecurityReader, scenario.RoleLicenseAdmin, roleAuthAdmin, rolePrivAuthAdmin}
	ruleDirectory = roleRule{roles: directoryReaders, deny: func(*call) *gerr { return errDenied() }}
	// subscribedSkus: Global Reader and Directory Readers (rbac-company-subscriptions-subscribedskus-apis.md);
	// License Administrator manages licences, Reports Reader inherits Directory Readers (permissions reference).
	ruleSkus = roleRule{roles: []string{scenario.RoleGlobalAdmin, scenario.RoleGlobalReader, scenario.RoleDirectoryReaders, scenario.RoleLicenseAdmin, scenario.RoleReportsReader},
		deny: func(*call) *gerr { return errDenied() }}
	// Another user's authentication methods: Global Reader, Authentication Administrator or
	// Privileged Authentication Administrator (rbac-authentication-methods-apis-read-others.md).
	ruleAuthMethods = roleRule{roles: []string{scenario.RoleGlobalAdmin, scenario.RoleGlobalReader, roleAuthAdmin, rolePrivAuthAdmin},
		deny: func(*call) *gerr { return errDenied() }}
	// Microsoft 365 usage reports, per-user detail: "the user must be a member of a Microsoft Entra
	// ID limited administrator role ... Company Administrator, Exchange Administrator, SharePoint
	// Administrator, Lync Administrator, Teams Service Administrator, Teams Communications
	// Administrator, Global Reader, Usage Summary Reports Reader, or Reports Reader. The Global Reader
	// and Usage Summary Reports Reader roles will only have access to tenant-level data, without
	// visibility into detailed metrics" (https://learn.microsoft.com/graph/reportroot-authorization).
	// getMailboxUsageDetail is detail, so Global Reader is refused. The refusal's shape is the reports
	// service's own: 403 S2SUnauthorized "Invalid permission." (microsoftgraph/microsoft-graph-docs#8547,
	// a delegated reports call refused with code S2SUnauthorized, message "Invalid permissions").
	ruleUsageDetail = roleRule{roles: []string{scenario.RoleGlobalAdmin, roleExchangeAdmin, scenario.RoleReportsReader},
		deny: func(*call) *gerr { return errf(http.StatusForbidden, "S2SUnauthorized", "Invalid permission.") }}
	// Report settings: the reports readers; Global Reader reads tenant-level settings (unverified:
	// the adminReportSettings page's role list was not reachable in this session).
	ruleReportSettings = roleRule{roles: []string{scenario.RoleGlobalAdmin, scenario.RoleGlobalReader, scenario.RoleReportsReader, roleUsageSummaryReports},
		deny: func(*call) *gerr { return errDenied() }}
	// Security defaults policy: Global Reader and the security roles (unverified in this session).
	rulePolicy = roleRule{roles: []string{scenario.RoleGlobalAdmin, scenario.RoleGlobalReader, roleSecurityReader, roleSecurityAdmin, roleSecurityOperator},
		deny: func(*call) *gerr { return errDenied() }}
	// Per-user MFA state (beta): the authentication administrators and Global Reader, as for
	// another user's methods (unverified for this beta resource).
	rulePerUserMFA = ruleAuthMethods
	// Intune managed devices: Intune Administrator; Global Reader reads Intune read-only
	// (Intune's role-based access control article lists Microsoft Entra roles with Intune access;
	// not reachable through the search tool in this session: unverified). Intune refuses in its
	// own shape (devices.go).
	ruleIntune = roleRule{roles: []string{scenario.RoleGlobalAdmin, roleIntuneAdmin, scenario.RoleGlobalReader},
		deny: func(c *call) *gerr {
			return intuneError(c.rid, "User is not authorized to perform this operation.", c.ten.id, false)
		}}
	// Sign-in activity and the registration report (Entra ID reporting): the reporting roles.
	// A signed-in user without one gets 403 Authentication_RequestFromUnsupportedUserRole "User is
	// not in the allowed roles" (observed in public scripts that read userRegistrationDetails and
	// signInActivity with delegated tokens; the role list Global Administrator, Global Reader,
	// Security Administrator, Security Reader, Reports Reader is from those observations and
	// Entra's reporting role guidance, not a Graph page: partly unverified).
	ruleReporting = roleRule{roles: []string{scenario.RoleGlobalAdmin, scenario.RoleGlobalReader, roleSecurityAdmin, roleSecurityReader, roleSecurityOperator, scenario.RoleReportsReader},
		deny: func(*call) *gerr {
			return errf(http.StatusForbidden, "Authentication_RequestFromUnsupportedUserRole", "User is not in the allowed roles")
		}}
)

// delegatedRoleRules are the endpoints (route patterns) with a role requirement for delegated
// callers; endpoints not listed keep their own checks only.
var delegatedRoleRules = map[string]roleRule{
	"GET /organization":                      ruleDirectory,
	"GET /organization/{id}":                 ruleDirectory,
	"GET /domains":                           ruleDirectory,
	"GET /domains/{id}":                      ruleDirectory,
	"GET /users":                             ruleDirectory,
	"GET /users/delta":                       ruleDirectory,
	"GET /users/{id}":                        ruleDirectory,
	"GET /groups":                            ruleDirectory,
	"GET /groups/delta":                      ruleDirectory,
	"GET /groups/{id}":                       ruleDirectory,
	"GET /groups/{id}/members":               ruleDirectory,
	"GET /subscribedSkus":                    ruleSkus,
	"GET /admin/reportSettings":              ruleReportSettings,
	"GET /users/{id}/authentication/methods": ruleAuthMethods,
	"GET /reports/getMailboxUsageDetail":     ruleUsageDetail,
	"GET /reports/authenticationMethods/userRegistrationDetails":      ruleReporting,
	"GET /reports/authenticationMethods/userRegistrationDetails/{id}": ruleReporting,
	"GET /policies/identitySecurityDefaultsEnforcementPolicy":         rulePolicy,
	"GET /beta/users/{id}/authentication/requirements":                rulePerUserMFA,
	"GET /deviceManagement/managedDevices":                            ruleIntune,
	"GET /deviceManagement/managedDevices/{id}":                       ruleIntune,
}

// delegatedRoles answers the endpoint's refusal when a delegated caller in a customer tenant lacks
// every supported role; nil when allowed or not applicable.
func (c *call) delegatedRoles(endpoint string) *gerr {
	if c.claims == nil || c.claims.IsApp() || c.ten == nil || c.ten.partner {
		return nil
	}
	rule, ok := delegatedRoleRules[endpoint]
	if !ok {
		return nil
	}
	for _, r := range rule.roles {
		if c.claims.HasWid(r) {
			return nil
		}
	}
	return rule.deny(c)
}

// reportingRoles: signInActivity on /users needs a reporting role too (ruleReporting).
func (c *call) reportingRoles() *gerr {
	if c.claims == nil || c.claims.IsApp() || c.ten == nil || c.ten.partner {
		return nil
	}
	for _, r := range ruleReporting.roles {
		if c.claims.HasWid(r) {
			return nil
		}
	}
	return ruleReporting.deny(c)
}
