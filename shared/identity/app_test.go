package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// token gets a Graph token for the demo's healthy tenant and returns its claims.
func token(t *testing.T, c *identity.AppCredentials) jwt.MapClaims {
	t.Helper()
	cred, err := c.For(scenario.DemoContosoDental)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatalf("%s credential: %v", c.Mode, err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok.Token, claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// Each app credential mode gets app-only tokens from the simulator's Entra through azidentity;
// certificate and federated need no secret at all.
func TestAppCredentialModes(t *testing.T) {
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep := s.Endpoints()
	app := s.World.App()

	t.Run("secret", func(t *testing.T) {
		c := &identity.AppCredentials{Mode: config.AuthSecret, ClientID: app.AppID, Secret: app.Secrets[0].Value, Endpoints: ep.Endpoints}
		if claims := token(t, c); claims["tid"] != scenario.DemoContosoDental {
			t.Errorf("tid %v", claims["tid"])
		}
	})

	t.Run("certificate", func(t *testing.T) {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "tenantsync"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		cert, _ := x509.ParseCertificate(der)
		sum := sha1.Sum(der)
		if _, err := s.Directory.UpdateApp(app.AppID, func(a *directory.Application) error {
			a.Keys = append(a.Keys, directory.KeyCredential{KeyID: uuid.NewString(), Type: "AsymmetricX509Cert", Usage: "Verify",
				Thumbprint: base64.RawURLEncoding.EncodeToString(sum[:]), DER: der, Start: cert.NotBefore, End: cert.NotAfter})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
		c := &identity.AppCredentials{Mode: config.AuthCertificate, ClientID: app.AppID, Certificate: pemBytes, Endpoints: ep.Endpoints}
		if claims := token(t, c); claims["tid"] != scenario.DemoContosoDental || !strings.Contains(claimString(claims["roles"]), "User.Read.All") {
			t.Errorf("claims %v", claims)
		}
		bad := &identity.AppCredentials{Mode: config.AuthCertificate, ClientID: app.AppID, Certificate: []byte("not pem"), Endpoints: ep.Endpoints}
		if _, err := bad.For(scenario.DemoContosoDental); err == nil || !strings.Contains(err.Error(), "APP_CERTIFICATE") {
			t.Errorf("bad certificate: %v", err)
		}
	})

	t.Run("federated", func(t *testing.T) {
		// The Function App's managed identity, as App Service exposes it.
		t.Setenv("IDENTITY_ENDPOINT", ep.ManagedIdentityEndpoint)
		t.Setenv("IDENTITY_HEADER", ep.ManagedIdentityHeader)
		mi, err := azidentity.NewManagedIdentityCredential(nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &identity.AppCredentials{Mode: config.AuthFederated, ClientID: app.AppID, Assertion: mi, Endpoints: ep.Endpoints}
		cred, _ := c.For(scenario.DemoFabrikamLegal)
		if _, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err == nil {
			t.Fatal("a federated assertion was accepted before the app trusts the managed identity")
		}
		if _, err := s.Directory.UpdateApp(app.AppID, func(a *directory.Application) error {
			a.Federated = append(a.Federated, directory.FederatedCredential{ID: uuid.NewString(), Name: "function-app", Subject: ep.ManagedIdentityObjectID,
				Issuer: ep.AuthorityHost + ep.PartnerTenantID + "/v2.0", Audiences: []string{identity.FederatedAudience}})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if claims := token(t, c); claims["tid"] != scenario.DemoContosoDental {
			t.Errorf("tid %v", claims["tid"])
		}
	})
}

func claimString(v any) string {
	if l, ok := v.([]any); ok {
		var parts []string
		for _, x := range l {
			parts = append(parts, x.(string))
		}
		return strings.Join(parts, " ")
	}
	return ""
}
