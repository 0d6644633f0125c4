package secrets_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/secrets"
)

// Against the simulator's Key Vault through azsecrets: values, expiry attributes, not-found.
func TestKeyVault(t *testing.T) {
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep := s.Endpoints()
	opts, _ := ep.ClientOptions()
	cred, err := azidentity.NewClientSecretCredential(ep.PartnerTenantID, scenario.DemoAppID, scenario.DemoSecretValue,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := secrets.NewKeyVault(ep.KeyVaultURL, cred, ep.Endpoints)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := kv.Get(ctx, "missing"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("missing secret: %v", err)
	}
	if _, err := kv.Expiry(ctx, "missing"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("missing secret expiry: %v", err)
	}
	exp := time.Now().Add(20 * 24 * time.Hour).UTC().Truncate(time.Second)
	if err := kv.SetExpiring(ctx, "app-client-secret", "v1", exp); err != nil {
		t.Fatal(err)
	}
	if v, err := kv.Get(ctx, "app-client-secret"); err != nil || v != "v1" {
		t.Errorf("get %q %v", v, err)
	}
	if got, err := kv.Expiry(ctx, "app-client-secret"); err != nil || !got.Equal(exp) {
		t.Errorf("expiry %v %v, want %v", got, err, exp)
	}
	if err := kv.Set(ctx, "plain", "x"); err != nil {
		t.Fatal(err)
	}
	if got, err := kv.Expiry(ctx, "plain"); err != nil || !got.IsZero() {
		t.Errorf("a secret without exp: %v %v", got, err)
	}
}
