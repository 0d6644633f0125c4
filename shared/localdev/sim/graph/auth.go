package graph

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// tenantCtx is the tenant a request acts in: a customer tenant of the scenario or the partner's
// own tenant (which has only its sign-in users, apps and the GDAP relationships).
type tenantCtx struct {
	id            string
	partner       bool
	t             *scenario.Tenant // nil for the partner tenant
	displayName   string
	initialDomain string
	defaultDomain string
	created       time.Time
	faults        scenario.Faults
	premium       bool
	intune        bool
	pusers        []scenario.User // partner tenant only
}

// authenticate validates the bearer token as Graph does and resolves the tenant from its tid.
func (s *Service) authenticate(r *http.Request) (*token.Claims, *tenantCtx, *gerr) {
	raw := token.Bearer(r.Header.Get("Authorization"))
	if raw == "" {
		return nil, nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
	}
	if s.opts.Issuer == nil {
		return nil, nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
	}
	c, err := s.opts.Issuer.Verify(raw)
	switch {
	case errors.Is(err, token.ErrExpired):
		return nil, nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
	case err != nil && strings.Count(raw, ".") != 2:
		// What Graph says for something that is not a JWT at all (seen by MSPs as "Compact Token
		// Parsing Error").
		return nil, nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "CompactToken parsing failed with error code: 80049217")
	case err != nil:
		return nil, nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
	}
	if !c.AudienceMatches(scenario.GraphAudience, scenario.GraphAppID) {
		return c, nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
	}
	tc := s.tenant(c.TenantID)
	if tc == nil {
		return c, nil, errf(http.StatusUnauthorized, "InvalidAuthenticationToken",
			"Access token validation failure. The tenant for tenant guid '%s' does not exist.", c.TenantID)
	}
	// An app whose service principal is gone from the tenant (consent revoked) has no identity
	// there any more, whatever its still-valid token says.
	if c.IsApp() && !tc.partner && s.opts.Directory != nil {
		appID := c.AppID
		if appID == "" {
			appID = c.AZP
		}
		if _, known := s.opts.Directory.App(appID); known {
			if _, ok := s.opts.Directory.ServicePrincipal(tc.id, appID); !ok {
				return c, tc, errf(http.StatusUnauthorized, "Authorization_IdentityNotFound",
					"The identity of the calling application could not be established.")
			}
		}
	}
	return c, tc, nil
}

// tenant resolves a tenant id; nil for unknown or deleted tenants.
func (s *Service) tenant(id string) *tenantCtx {
	if s.world == nil || id == "" {
		return nil
	}
	p := s.world.Partner()
	if strings.EqualFold(id, p.TenantID) {
		return &tenantCtx{id: strings.ToLower(p.TenantID), partner: true, displayName: p.DisplayName,
			initialDomain: p.Domain, defaultDomain: p.Domain, premium: true, pusers: s.partnerUsers}
	}
	t, ok := s.world.Tenant(id)
	if !ok || t.Deleted || !strings.EqualFold(t.ID, id) {
		return nil
	}
	return &tenantCtx{id: strings.ToLower(t.ID), t: t, displayName: t.DisplayName, initialDomain: t.InitialDomain,
		defaultDomain: t.DefaultDomain, created: t.Created, faults: t.Faults, premium: t.Premium, intune: t.Intune}
}

// perm lists the application roles and delegated scopes that each allow an operation.
type perm struct {
	roles  []string
	scopes []string
}

var (
	permUsers = perm{
		roles:  []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		scopes: []string{"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
	}
	permAuditLog = perm{roles: []string{"AuditLog.Read.All"}, scopes: []string{"AuditLog.Read.All"}}
	permGroups   = perm{
		roles:  []string{"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		scopes: []string{"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
	}
	permMembers = perm{
		roles:  append([]string{"GroupMember.Read.All"}, permGroups.roles...),
		scopes: append([]string{"GroupMember.Read.All"}, permGroups.scopes...),
	}
	permOrg = perm{
		roles:  []string{"Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		scopes: []string{"User.Read", "Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
	}
	permDomains = perm{
		roles:  []string{"Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		scopes: []string{"Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
	}
	permSkus = perm{
		roles:  []string{"LicenseAssignment.Read.All", "Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		scopes: []string{"LicenseAssignment.Read.All", "Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
	}
	permDevices = perm{
		roles:  []string{"DeviceManagementManagedDevices.Read.All", "DeviceManagementManagedDevices.ReadWrite.All"},
		scopes: []string{"DeviceManagementManagedDevices.Read.All", "DeviceManagementManagedDevices.ReadWrite.All"},
	}
	permReports          = perm{roles: []string{"Reports.Read.All"}, scopes: []string{"Reports.Read.All"}}
	permReportSettings   = perm{roles: []string{"ReportSettings.Read.All", "ReportSettings.ReadWrite.All"}, scopes: []string{"ReportSettings.Read.All", "ReportSettings.ReadWrite.All"}}
	permReportSettingsRW = perm{roles: []string{"ReportSettings.ReadWrite.All"}, scopes: []string{"ReportSettings.ReadWrite.All"}}
	permGDAP             = perm{
		roles:  []string{"DelegatedAdminRelationship.Read.All", "DelegatedAdminRelationship.ReadWrite.All"},
		scopes: []string{"DelegatedAdminRelationship.Read.All", "DelegatedAdminRelationship.ReadWrite.All"},
	}
	permMail    = perm{roles: []string{"Mail.Send"}, scopes: []string{"Mail.Send"}}
	permAppRead = perm{
		roles:  []string{"Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy", "Directory.Read.All", "Directory.ReadWrite.All"},
		scopes: []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
	}
	permAppWrite = perm{
		roles:  []string{"Application.ReadWrite.All", "Application.ReadWrite.OwnedBy", "Directory.ReadWrite.All"},
		scopes: []string{"Application.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
	}
	permAppRoleWrite = perm{
		roles:  []string{"AppRoleAssignment.ReadWrite.All"},
		scopes: []string{"AppRoleAssignment.ReadWrite.All", "Directory.AccessAsUser.All"},
	}
)

// allowed reports whether the token carries one of p's roles (app-only) or scopes (delegated).
func allowed(c *token.Claims, p perm) bool {
	if c.IsApp() {
		return slices.ContainsFunc(p.roles, c.HasRole)
	}
	return slices.ContainsFunc(p.scopes, c.HasScope)
}

// require answers Authorization_RequestDenied unless the token allows p.
func (c *call) require(p perm) *gerr {
	if allowed(c.claims, p) {
		return nil
	}
	return errDenied()
}

// requireAuditLog: the sign-in and registration reports (and signInActivity) answer a caller
// without AuditLog.Read.All with their own code, not Authorization_RequestDenied:
// 403 Authentication_MSGraphPermissionMissing "Calling principal does not have required MSGraph
// permissions AuditLog.Read.All" (microsoftgraph/microsoft-graph-docs-contrib#1852 for
// userRegistrationDetails, microsoft-graph-explorer-v4#2731 for signInActivity).
func (c *call) requireAuditLog() *gerr {
	if allowed(c.claims, permAuditLog) {
		return nil
	}
	return errf(http.StatusForbidden, "Authentication_MSGraphPermissionMissing", "Calling principal does not have required MSGraph permissions AuditLog.Read.All")
}
