// Package azcred builds the credentials tenantsync uses for its own Azure resources (Table Storage,
// Service Bus, Key Vault), never a key.
package identity

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantsync/tenantsync/shared/cloud"
)

// Managed returns the managed identity credential; clientID selects a user-assigned identity. The
// federated client assertion uses it: that must be the Function App's identity and nothing else.
func Managed(clientID string) (azcore.TokenCredential, error) {
	opts := &azidentity.ManagedIdentityCredentialOptions{}
	if clientID != "" {
		opts.ID = azidentity.ClientID(clientID)
	}
	return azidentity.NewManagedIdentityCredential(opts)
}

// Resources returns the credential for tenantsync's own resources: the chain of azidentity's
// DefaultAzureCredential, built explicitly so an empty AZURE_CLIENT_ID (local settings) means the
// system-assigned identity rather than an error: environment credentials (AZURE_TENANT_ID,
// AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or a certificate), workload identity, the managed identity
// (clientID: the user-assigned one; in Azure this is what answers), then the developer's Azure CLI or
// Azure Developer CLI sign-in, so a local run can use a real Key Vault. ep gives the cloud's authority
// host and the trusted CAs; instance discovery is off for an authority that is not one of Microsoft's
// login hosts (the simulator), where it could never succeed.
func Resources(clientID string, ep cloud.Endpoints) (azcore.TokenCredential, error) {
	opts, err := ep.ClientOptions()
	if err != nil {
		return nil, err
	}
	noDiscovery := !cloud.MicrosoftAuthority(ep.AuthorityHost)
	var chain []azcore.TokenCredential
	// Environment and workload identity apply only when their variables are set (their constructors
	// say so by failing); the rest always join.
	if c, err := azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery}); err == nil {
		chain = append(chain, c)
	}
	if c, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery}); err == nil {
		chain = append(chain, c)
	}
	mi, err := Managed(clientID)
	if err != nil {
		return nil, err
	}
	chain = append(chain, mi)
	if c, err := azidentity.NewAzureCLICredential(nil); err == nil {
		chain = append(chain, c)
	}
	if c, err := azidentity.NewAzureDeveloperCLICredential(nil); err == nil {
		chain = append(chain, c)
	}
	return azidentity.NewChainedTokenCredential(chain, nil)
}
