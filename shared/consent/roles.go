package consent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/remedy"
)

// RolePrivilegedRoleAdmin is the Entra role that may grant Microsoft Graph app roles (application
// permissions); Application and Cloud Application Administrator may not ("Grant tenant-wide admin
// consent", https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent:
// "Cloud Application Administrator ... or Application Administrator, to grant consent for apps
// requesting any permission for any API, except Microsoft Graph app roles").
const RolePrivilegedRoleAdmin = "e8611ab8-c189-46e8-94e1-60213ab1f814"

// Codes of consent results this file adds.
const (
	CodeRolesNotAssignable = "AppRolesNeedPrivilegedRoleAdministrator"
	CodeRolesMissing       = "AppRolesMissing"
	CodeNoDelegatedGraph   = "PartnerGraphUnavailable"
)

// TenantTokenFunc gives a delegated Graph token for a customer tenant (see approles).
type TenantTokenFunc = approles.TenantTokenFunc

// appRoles returns the roles claim of a new app-only Graph token for tenantID.
func (s *Service) appRoles(ctx context.Context, tenantID string) ([]string, error) {
	cred, err := s.o.Credentials.For(tenantID)
	if err != nil {
		return nil, err
	}
	return approles.TokenRoles(ctx, cred, s.o.Endpoints, tenantID, true, s.now())
}

func values(ps []appperms.Permission) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Value
	}
	return strings.Join(out, ", ")
}

// rolesProblem says which access assignment needs Privileged Role Administrator, or the link.
func rolesProblem(t domain.Tenant, missing []appperms.Permission, cause string) domain.Problem {
	rel := "the customer's active GDAP relationship"
	if t.Relationship.ID != "" {
		rel = "GDAP relationship " + t.Relationship.ID
	}
	return domain.Problem{Code: CodeRolesNotAssignable,
		Message: "Partner Center consent created tenantsync's service principal with delegated scopes only; its application permissions (" + values(missing) +
			") could not be assigned through GDAP: " + cause,
		Remediation: "Add Privileged Role Administrator (" + RolePrivilegedRoleAdmin + ") to the access assignment of " + rel +
			" for the security group the partner service account is in, then run consent again; or send the admin-consent link (POST /api/tenants/" + t.TenantID + "/consent-link)."}
}

// assignRoles grants the missing app roles to tenantsync's service principal through GDAP
// (approles.Assigner), turning a refusal into the fix: which role to add to which relationship's
// access assignment, or the link.
func (s *Service) assignRoles(ctx context.Context, t domain.Tenant, missing []appperms.Permission) *domain.Problem {
	a := &approles.Assigner{ClientID: s.o.ClientID, Endpoints: s.o.Endpoints, Token: s.o.PartnerGraphToken, Log: s.log()}
	err := a.Assign(ctx, t.TenantID, missing)
	if err == nil {
		return nil
	}
	if errors.Is(err, approles.ErrNoToken) {
		p := rolesProblem(t, missing, err.Error())
		p.Code = CodeNoDelegatedGraph
		return &p
	}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) && (oe.ResponseStatusCode == http.StatusForbidden || oe.ResponseStatusCode == http.StatusUnauthorized) {
		msg := oe.Error()
		if me := oe.GetErrorEscaped(); me != nil && me.GetMessage() != nil {
			msg = *me.GetMessage()
		}
		p := rolesProblem(t, missing, fmt.Sprintf("Microsoft Graph answered %d: %s", oe.ResponseStatusCode, msg))
		return &p
	}
	p := remedy.Classify(err)
	if p.Code == remedy.CodeInternal || strings.HasPrefix(p.Code, "AADSTS") {
		// a token failure for the customer tenant (no GDAP access, 90099 ...): the same fix
		pr := rolesProblem(t, missing, p.Message)
		return &pr
	}
	return &p
}
