package identity

import (
	"context"
	"fmt"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/config"
)

// Credentials hands out the app's credential for a customer tenant. One credential per tenant is
// kept for the life of the process so MSAL's token cache spares a token request per invocation.
type Credentials interface {
	For(tenantID string) (azcore.TokenCredential, error)
}

// Forgetter is a Credentials that can drop a tenant's cached credential, and with it the tokens it
// holds. An app-only token's roles claim lists the app role assignments of the service principal
// (learn.microsoft.com/graph/api/resources/approleassignment: an assigned role "is included in the
// roles claim of tokens where the subject is the assigned principal"), as they were when the token
// was issued, so after consent grants roles a token cached from before (discovery's access check,
// say) keeps answering 403 until it expires: whoever changed the consent forgets the credential so
// the next token is a new one. That a token is never re-evaluated is inferred, not stated there.
type Forgetter interface {
	Forget(tenantID string)
}

// AppCredentials are the app's app-only credentials into every tenant, in one of three modes:
// a client secret, a certificate, or federated (the Function App's managed identity token used as
// the client assertion, through a federated identity credential on the app registration: nothing
// to rotate, nothing that silently expires).
type AppCredentials struct {
	Mode        string // config.AuthSecret, AuthCertificate or AuthFederated
	ClientID    string
	Secret      string
	Certificate []byte // PEM certificate and key
	// Assertion is the managed identity whose token is the federated assertion.
	Assertion azcore.TokenCredential
	Endpoints cloud.Endpoints

	mu    sync.Mutex
	cache map[string]azcore.TokenCredential
}

// For implements Credentials.
func (c *AppCredentials) For(tenantID string) (azcore.TokenCredential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cred, ok := c.cache[tenantID]; ok {
		return cred, nil
	}
	opts, err := c.Endpoints.ClientOptions()
	if err != nil {
		return nil, err
	}
	var cred azcore.TokenCredential
	// Instance discovery would call login.microsoftonline.com even for other clouds and for the
	// simulator; the authority host is configured explicitly instead.
	switch c.Mode {
	case "", config.AuthSecret:
		cred, err = azidentity.NewClientSecretCredential(tenantID, c.ClientID, c.Secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	case config.AuthCertificate:
		certs, key, perr := azidentity.ParseCertificates(c.Certificate, nil)
		if perr != nil {
			return nil, fmt.Errorf("APP_CERTIFICATE: %w", perr)
		}
		cred, err = azidentity.NewClientCertificateCredential(tenantID, c.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	case config.AuthFederated:
		if c.Assertion == nil {
			return nil, fmt.Errorf("federated app credential: no managed identity to take the assertion from")
		}
		federated := FederatedAssertion(c.Assertion)
		assert := func(ctx context.Context) (string, error) { return federated(ctx, "") }
		cred, err = azidentity.NewClientAssertionCredential(tenantID, c.ClientID, assert, &azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	default:
		return nil, fmt.Errorf("unknown app credential mode %q", c.Mode)
	}
	if err != nil {
		return nil, fmt.Errorf("credential for tenant %s: %w", tenantID, err)
	}
	if c.cache == nil {
		c.cache = map[string]azcore.TokenCredential{}
	}
	c.cache[tenantID] = cred
	return cred, nil
}

// Forget implements Forgetter.
func (c *AppCredentials) Forget(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cache, tenantID)
}
