package sync

import (
	"fmt"
	gosync "sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantsync/tenantsync/shared/cloud"
)

// Credentials hands out the app's credential for a customer tenant. One credential per tenant is
// kept for the life of the process so MSAL's token cache spares a token request per invocation.
type Credentials interface {
	For(tenantID string) (azcore.TokenCredential, error)
}

// SecretCredentials is the client-secret flavour (client credentials into each customer tenant).
type SecretCredentials struct {
	ClientID  string
	Secret    string
	Endpoints cloud.Endpoints

	mu    gosync.Mutex
	cache map[string]azcore.TokenCredential
}

// For implements Credentials.
func (c *SecretCredentials) For(tenantID string) (azcore.TokenCredential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cred, ok := c.cache[tenantID]; ok {
		return cred, nil
	}
	opts, err := c.Endpoints.ClientOptions()
	if err != nil {
		return nil, err
	}
	cred, err := azidentity.NewClientSecretCredential(tenantID, c.ClientID, c.Secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: opts,
		// Instance discovery would call login.microsoftonline.com even for other clouds and for the
		// simulator; the authority host is configured explicitly instead.
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return nil, fmt.Errorf("credential for tenant %s: %w", tenantID, err)
	}
	if c.cache == nil {
		c.cache = map[string]azcore.TokenCredential{}
	}
	c.cache[tenantID] = cred
	return cred, nil
}
