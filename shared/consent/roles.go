package consent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/graphclient"
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

// TenantTokenFunc gives a delegated Microsoft Graph access token for a customer tenant: the partner
// service account's refresh token redeemed at that tenant's token endpoint (GDAP).
type TenantTokenFunc func(ctx context.Context, tenantID string) (string, error)

// delegatedCred adapts a TenantTokenFunc to azcore.TokenCredential for msgraph-sdk-go.
type delegatedCred struct {
	tenantID string
	f        TenantTokenFunc
}

func (c delegatedCred) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.f(ctx, c.tenantID)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	// The source caches and renews; a short expiry makes the SDK ask again rather than keep it.
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(2 * time.Minute)}, nil
}

// appRoles returns the roles claim of a new app-only Graph token for tenantID. A claims request
// (nbf) makes MSAL bypass its token cache (AcquireTokenSilent skips the cache when claims are set,
// microsoft-authentication-library-for-go apps/internal/base/base.go), so roles granted a moment
// ago are seen. Reading the roles claim is what CIPP and Microsoft's own guidance on app-only
// tokens rely on ("roles" in the access token claims reference,
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
func (s *Service) appRoles(ctx context.Context, tenantID string) ([]string, error) {
	cred, err := s.o.Credentials.For(tenantID)
	if err != nil {
		return nil, err
	}
	claims := `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(s.now().Unix(), 10) + `"}}}`
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cloud.GraphScope}, Claims: claims, TenantID: tenantID})
	if err != nil {
		return nil, err
	}
	return rolesClaim(tok.Token)
}

// rolesClaim reads the roles claim of a JWT without verifying it (it came straight from Entra over
// TLS; Graph verifies it on use).
func rolesClaim(tok string) ([]string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("the app-only access token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("the app-only access token's payload: %w", err)
	}
	var c struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("the app-only access token's claims: %w", err)
	}
	return c.Roles, nil
}

func values(ps []appperms.Permission) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Value
	}
	return strings.Join(out, ", ")
}

// rolesProblem says which access assignment needs Privileged Role Administrator, or the link.
func rolesProblem(t domain.Tenant, missing []appperms.Permission, cause string) remedy.Problem {
	rel := "the customer's active GDAP relationship"
	if t.Relationship.ID != "" {
		rel = "GDAP relationship " + t.Relationship.ID
	}
	return remedy.Problem{Code: CodeRolesNotAssignable,
		Message: "Partner Center consent created tenantsync's service principal with delegated scopes only; its application permissions (" + values(missing) +
			") could not be assigned through GDAP: " + cause,
		Remediation: "Add Privileged Role Administrator (" + RolePrivilegedRoleAdmin + ") to the access assignment of " + rel +
			" for the security group the partner service account is in, then run consent again; or send the admin-consent link (POST /api/tenants/" + t.TenantID + "/consent-link)."}
}

// assignRoles grants the missing app roles to tenantsync's service principal through GDAP, the
// way Add-CIPPApplicationPermission does (KelvinTegelaar/CIPP-API): find Graph's and our service
// principals, then POST /servicePrincipals/{graph}/appRoleAssignedTo {principalId, resourceId,
// appRoleId} per role (https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto)
// with the partner service account's delegated token for the customer tenant.
func (s *Service) assignRoles(ctx context.Context, t domain.Tenant, missing []appperms.Permission) *remedy.Problem {
	if s.o.PartnerGraphToken == nil {
		p := rolesProblem(t, missing, "no delegated partner token for Microsoft Graph is configured")
		p.Code = CodeNoDelegatedGraph
		return &p
	}
	client, _, err := graphclient.New(delegatedCred{tenantID: t.TenantID, f: s.o.PartnerGraphToken}, s.o.Endpoints)
	if err != nil {
		p := remedy.Classify(err)
		return &p
	}
	fail := func(err error) *remedy.Problem {
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
	spID := func(appID string) (string, error) {
		filter := "appId eq '" + appID + "'"
		resp, err := client.ServicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
			QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id", "appId"}}})
		if err != nil {
			return "", err
		}
		for _, sp := range resp.GetValue() {
			if sp.GetId() != nil {
				return *sp.GetId(), nil
			}
		}
		return "", fmt.Errorf("no service principal for app %s in tenant %s", appID, t.TenantID)
	}
	graphID, err := spID(appperms.GraphAppID)
	if err != nil {
		return fail(err)
	}
	ourID, err := spID(s.o.ClientID)
	if err != nil {
		return fail(err)
	}
	principal, perr := uuid.Parse(ourID)
	resource, rerr := uuid.Parse(graphID)
	if perr != nil || rerr != nil {
		p := remedy.Problem{Code: "UnexpectedGraphAnswer", Message: "Microsoft Graph returned service principal ids that are not GUIDs."}
		return &p
	}
	for _, m := range missing {
		role, err := uuid.Parse(m.ID)
		if err != nil {
			p := remedy.Problem{Code: remedy.CodeInternal, Message: "app role id of " + m.Value + " is not a GUID"}
			return &p
		}
		body := models.NewAppRoleAssignment()
		body.SetPrincipalId(&principal)
		body.SetResourceId(&resource)
		body.SetAppRoleId(&role)
		if _, err := client.ServicePrincipals().ByServicePrincipalId(graphID).AppRoleAssignedTo().Post(ctx, body, nil); err != nil {
			return fail(err)
		}
		s.log().Info("app role assigned through GDAP", "tenantId", t.TenantID, "role", m.Value)
	}
	return nil
}
