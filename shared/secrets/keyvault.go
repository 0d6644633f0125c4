package secrets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/tenantsync/tenantsync/shared/cloud"
)

// KeyVault is a Store backed by an Azure Key Vault (RBAC: Key Vault Secrets Officer).
type KeyVault struct{ c *azsecrets.Client }

// vaultSuffixes are the Key Vault DNS suffixes of Azure's clouds. azsecrets checks that the
// challenge's resource matches the vault's domain; a vault elsewhere (the simulator on 127.0.0.1)
// can never match, so only there is that check (which picks the token's audience, not TLS trust)
// turned off.
var vaultSuffixes = []string{".vault.azure.net", ".vault.usgovcloudapi.net", ".vault.azure.cn", ".vault.microsoftazure.de"}

// NewKeyVault connects to vaultURL with cred.
func NewKeyVault(vaultURL string, cred azcore.TokenCredential, ep cloud.Endpoints) (*KeyVault, error) {
	u, err := url.Parse(vaultURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("key vault URL %q is not a URL", vaultURL)
	}
	standard := false
	for _, s := range vaultSuffixes {
		if strings.HasSuffix(strings.ToLower(u.Hostname()), s) {
			standard = true
		}
	}
	opts, err := ep.ClientOptions()
	if err != nil {
		return nil, err
	}
	c, err := azsecrets.NewClient(vaultURL, cred, &azsecrets.ClientOptions{ClientOptions: opts, DisableChallengeResourceVerification: !standard})
	if err != nil {
		return nil, err
	}
	return &KeyVault{c: c}, nil
}

// Get returns the latest version of secret name.
func (k *KeyVault) Get(ctx context.Context, name string) (string, error) {
	resp, err := k.c.GetSecret(ctx, name, "", nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("key vault get %s: %w", name, err)
	}
	if resp.Value == nil {
		return "", ErrNotFound
	}
	return *resp.Value, nil
}

// Set writes a new version of secret name.
func (k *KeyVault) Set(ctx context.Context, name, value string) error {
	ct := "text/plain"
	_, err := k.c.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: &value, ContentType: &ct}, nil)
	if err != nil {
		return fmt.Errorf("key vault set %s: %w", name, err)
	}
	return nil
}

// SetExpiring writes a new version of secret name carrying its expiry date (the exp attribute),
// so whoever reads the secret can warn before it stops working.
func (k *KeyVault) SetExpiring(ctx context.Context, name, value string, expires time.Time) error {
	ct := "text/plain"
	exp := expires.UTC()
	_, err := k.c.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: &value, ContentType: &ct,
		SecretAttributes: &azsecrets.SecretAttributes{Expires: &exp}}, nil)
	if err != nil {
		return fmt.Errorf("key vault set %s: %w", name, err)
	}
	return nil
}

// Expiry returns the expiry date of the latest version of secret name (zero when it has none).
func (k *KeyVault) Expiry(ctx context.Context, name string) (time.Time, error) {
	resp, err := k.c.GetSecret(ctx, name, "", nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return time.Time{}, ErrNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("key vault get %s: %w", name, err)
	}
	if resp.Attributes == nil || resp.Attributes.Expires == nil {
		return time.Time{}, nil
	}
	return resp.Attributes.Expires.UTC(), nil
}
