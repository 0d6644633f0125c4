// Package approles reads which Microsoft Graph application permissions (app roles) tenantsync holds
// in a customer tenant, from the roles claim of an app-only token, and assigns missing ones through
// GDAP with the partner service account's delegated token. Consent uses it after Partner Center
// consent; each sync uses it to find and repair consent drift.
package approles

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/graphclient"
)

// TokenRoles returns the roles claim of an app-only Graph token from cred. fresh asks Entra for a
// new token: a claims request (nbf) makes MSAL bypass its cache (AcquireTokenSilent skips the cache
// when claims are set, microsoft-authentication-library-for-go apps/internal/base/base.go) and the
// new token replaces the cached one, so roles granted a moment ago are seen by every later call.
// The roles claim lists the app roles granted to the app ("roles" in the access token claims
// reference, https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference). The
// scope is the configured cloud's Graph.
func TokenRoles(ctx context.Context, cred azcore.TokenCredential, ep cloud.Endpoints, tenantID string, fresh bool, now time.Time) ([]string, error) {
	// EnableCAE as kiota asks (kiota-authentication-azure-go enables CAE by default): azidentity
	// caches CAE and non-CAE tokens apart, and the roles that matter are those of the token the
	// Graph client will send.
	o := policy.TokenRequestOptions{Scopes: []string{ep.GraphScope()}, TenantID: tenantID, EnableCAE: true}
	if fresh {
		o.Claims = `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(now.Unix(), 10) + `"}}}`
	}
	tok, err := cred.GetToken(ctx, o)
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

// Assigner assigns app roles to tenantsync's service principal through GDAP.
type Assigner struct {
	ClientID  string // tenantsync's app id
	Endpoints cloud.Endpoints
	Token     TenantTokenFunc // nil: nothing can be assigned (ErrNoToken)
	Log       *slog.Logger
}

// ErrNoToken: no delegated partner token source is configured.
var ErrNoToken = errors.New("no delegated partner token for Microsoft Graph is configured")

// Assign grants the missing app roles the way Add-CIPPApplicationPermission does
// (KelvinTegelaar/CIPP-API): find Graph's and tenantsync's service principals, then
// POST /servicePrincipals/{graph}/appRoleAssignedTo {principalId, resourceId, appRoleId} per role
// (https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto). The signed-in
// partner user needs Privileged Role Administrator (or Global Administrator) in the tenant through
// GDAP; otherwise Graph answers 403, returned as is (an *odataerrors.ODataError).
func (a *Assigner) Assign(ctx context.Context, tenantID string, missing []appperms.Permission) error {
	if a == nil || a.Token == nil {
		return ErrNoToken
	}
	client, _, err := graphclient.New(delegatedCred{tenantID: tenantID, f: a.Token}, a.Endpoints)
	if err != nil {
		return err
	}
	spID := func(appID string) (uuid.UUID, error) {
		filter := "appId eq '" + appID + "'"
		resp, err := client.ServicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
			QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id", "appId"}}})
		if err != nil {
			return uuid.Nil, err
		}
		for _, sp := range resp.GetValue() {
			if sp.GetId() != nil {
				return uuid.Parse(*sp.GetId())
			}
		}
		return uuid.Nil, fmt.Errorf("no service principal for app %s in tenant %s", appID, tenantID)
	}
	resource, err := spID(appperms.GraphAppID)
	if err != nil {
		return err
	}
	principal, err := spID(a.ClientID)
	if err != nil {
		return err
	}
	graphID := resource.String()
	for _, m := range missing {
		role, err := uuid.Parse(m.ID)
		if err != nil {
			return fmt.Errorf("app role id of %s: %w", m.Value, err)
		}
		body := models.NewAppRoleAssignment()
		body.SetPrincipalId(&principal)
		body.SetResourceId(&resource)
		body.SetAppRoleId(&role)
		if _, err := client.ServicePrincipals().ByServicePrincipalId(graphID).AppRoleAssignedTo().Post(ctx, body, nil); err != nil {
			return err
		}
		if a.Log != nil {
			a.Log.Info("app role assigned through GDAP", "tenantId", tenantID, "role", m.Value)
		}
	}
	return nil
}
