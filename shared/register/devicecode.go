package register

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/tenantsync/tenantsync/shared/cloud"
)

// deviceCodeCredential is the admin's device code sign-in, on MSAL's public client directly
// rather than azidentity.DeviceCodeCredential, for two reasons measured against the simulator:
//   - azidentity reports a failed device code sign-in as "Response contained no body" (MSAL's poll
//     loop has consumed the body), so an admin blocked by MFA, Conditional Access or missing
//     consent would not learn the AADSTS code; MSAL's own error carries Entra's message;
//   - azidentity keeps CAE and non-CAE tokens in separate caches, and Key Vault's client asks for
//     CAE while Graph's does not, so the admin would be prompted for a second code.
//
// One MSAL client and cache serve every resource: the first token comes from the device code
// flow, later ones (Key Vault, other tenants) silently from the refresh token.
type deviceCodeCredential struct {
	client public.Client
	tenant string
	prompt func(context.Context, azidentity.DeviceCodeMessage) error

	mu       sync.Mutex
	account  public.Account
	signedIn bool
}

func newDeviceCodeCredential(o Options) (*deviceCodeCredential, error) {
	hc, err := o.Endpoints.HTTPClient()
	if err != nil {
		return nil, err
	}
	authority := strings.TrimRight(o.Endpoints.AuthorityHost, "/") + "/" + o.PartnerTenantID
	c, err := public.New(o.DeviceCodeClientID, public.WithAuthority(authority), public.WithHTTPClient(hc),
		public.WithInstanceDiscovery(cloud.MicrosoftAuthority(o.Endpoints.AuthorityHost)))
	if err != nil {
		return nil, fmt.Errorf("device code sign-in: %w", err)
	}
	return &deviceCodeCredential{client: c, tenant: o.PartnerTenantID, prompt: o.Prompt}, nil
}

// GetToken returns a delegated token for the admin; TokenRequestOptions.TenantID (Key Vault's
// challenge names its tenant) may name another tenant the admin belongs to.
func (d *deviceCodeCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	tenant := d.tenant
	if o.TenantID != "" {
		tenant = o.TenantID
	}
	if d.signedIn {
		ar, err := d.client.AcquireTokenSilent(ctx, o.Scopes, public.WithSilentAccount(d.account), public.WithTenantID(tenant))
		if err == nil {
			return azcore.AccessToken{Token: ar.AccessToken, ExpiresOn: ar.ExpiresOn}, nil
		}
	}
	dc, err := d.client.AcquireTokenByDeviceCode(ctx, o.Scopes, public.WithTenantID(tenant))
	if err != nil {
		return azcore.AccessToken{}, err
	}
	if err := d.prompt(ctx, azidentity.DeviceCodeMessage{Message: dc.Result.Message, UserCode: dc.Result.UserCode,
		VerificationURL: dc.Result.VerificationURL}); err != nil {
		return azcore.AccessToken{}, err
	}
	ar, err := dc.AuthenticationResult(ctx)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	d.account, d.signedIn = ar.Account, true
	return azcore.AccessToken{Token: ar.AccessToken, ExpiresOn: ar.ExpiresOn}, nil
}
