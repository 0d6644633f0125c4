package approles

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// Delegated is a credential for msgraph-sdk-go that hands out the partner service account's
// delegated Graph token for tenantID (GDAP): the gdap path syncs with it.
func Delegated(tenantID string, f TenantTokenFunc) azcore.TokenCredential {
	return delegatedCred{tenantID: tenantID, f: f}
}

// DelegatedClaims are what a delegated token says about its user in the tenant: the directory
// role template ids ("wids": "Denotes the tenant-wide roles assigned to this user", access token
// claims reference, https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference)
// and the delegated scopes ("scp").
type DelegatedClaims struct {
	Wids   []string
	Scopes []string
	UPN    string // upn, else preferred_username: the signed-in user
}

// HasRole reports whether wids holds one of ids.
func (c DelegatedClaims) HasRole(ids ...string) bool {
	for _, w := range c.Wids {
		for _, id := range ids {
			if strings.EqualFold(w, id) {
				return true
			}
		}
	}
	return false
}

// ReadDelegated decodes wids and scp from a delegated access token without verifying it (it came
// straight from Entra over TLS; Graph verifies it on use).
func ReadDelegated(tok string) (DelegatedClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return DelegatedClaims{}, errors.New("the delegated access token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return DelegatedClaims{}, fmt.Errorf("the delegated access token's payload: %w", err)
	}
	var c struct {
		Wids []string `json:"wids"`
		Scp  string   `json:"scp"`
		UPN  string   `json:"upn"`
		Pref string   `json:"preferred_username"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return DelegatedClaims{}, fmt.Errorf("the delegated access token's claims: %w", err)
	}
	if c.UPN == "" {
		c.UPN = c.Pref
	}
	return DelegatedClaims{Wids: c.Wids, Scopes: strings.Fields(c.Scp), UPN: c.UPN}, nil
}
