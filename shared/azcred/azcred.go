// Package azcred builds the credential tenantsync uses for its own Azure resources (Table Storage,
// Service Bus, Key Vault): the Function App's managed identity, never a key.
package azcred

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Managed returns the managed identity credential; clientID selects a user-assigned identity.
func Managed(clientID string) (azcore.TokenCredential, error) {
	opts := &azidentity.ManagedIdentityCredentialOptions{}
	if clientID != "" {
		opts.ID = azidentity.ClientID(clientID)
	}
	return azidentity.NewManagedIdentityCredential(opts)
}
