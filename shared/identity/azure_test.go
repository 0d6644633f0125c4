package identity

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/secrets"
)

// Outside Azure, a developer's own credentials reach Key Vault: here environment credentials (a
// service principal's secret, as AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET) through
// azidentity's default chain, against the simulator's Entra ID and Key Vault over TLS. No managed
// identity endpoint is configured, so a managed-identity-only credential could not do this.
func TestResourcesUsesTheDevelopersCredentialForKeyVault(t *testing.T) {
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ep := s.Endpoints().Endpoints
	app := s.World.App()
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	t.Setenv("AZURE_TENANT_ID", s.Endpoints().PartnerTenantID)
	t.Setenv("AZURE_CLIENT_ID", app.AppID)
	t.Setenv("AZURE_CLIENT_SECRET", app.Secrets[0].Value)
	t.Setenv("AZURE_AUTHORITY_HOST", ep.AuthorityHost)

	cred, err := Resources("", ep)
	if err != nil {
		t.Fatal(err)
	}
	vault, err := secrets.NewKeyVault(s.Endpoints().KeyVaultURL, cred, ep)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := vault.Get(ctx, "state-signing-key"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("absent secret: %v, want ErrNotFound", err)
	}
	if err := vault.Set(ctx, "state-signing-key", "k"); err != nil {
		t.Fatal(err)
	}
	if got, err := vault.Get(ctx, "state-signing-key"); err != nil || got != "k" {
		t.Fatalf("read back %q, %v", got, err)
	}
}
