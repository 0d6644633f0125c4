package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// A certificate assertion is accepted by the token endpoint once the certificate is on the app,
// and refused before: the shape (PS256, x5t#S256, aud = token endpoint, iss = sub = client id) is
// what Entra checks.
func TestCertificateAssertionAtTheTokenEndpoint(t *testing.T) {
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep := s.Endpoints()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tenantsync"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	assert, err := identity.CertificateAssertion(pemData, scenario.DemoAppID, nil)
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := ep.HTTPClient()
	endpoint := ep.AuthorityHost + ep.PartnerTenantID + "/oauth2/v2.0/token"
	redeem := func() (int, string) {
		a, err := assert(context.Background(), endpoint)
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {scenario.DemoAppID}, "scope": {"https://graph.microsoft.com/.default"},
			"client_assertion_type": {identity.AssertionType}, "client_assertion": {a}}
		resp, err := hc.Post(endpoint, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		desc, _ := body["error_description"].(string)
		return resp.StatusCode, desc
	}
	if status, desc := redeem(); status == http.StatusOK || !strings.Contains(desc, "AADSTS") {
		t.Fatalf("an unregistered certificate was accepted: %d %s", status, desc)
	}
	cert, _ := x509.ParseCertificate(der)
	sum := sha256.Sum256(der)
	if _, err := s.Directory.UpdateApp(scenario.DemoAppID, func(a *directory.Application) error {
		a.Keys = append(a.Keys, directory.KeyCredential{KeyID: uuid.NewString(), Type: "AsymmetricX509Cert", Usage: "Verify",
			Thumbprint: base64.RawURLEncoding.EncodeToString(sum[:]), DER: der, Start: cert.NotBefore, End: cert.NotAfter})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if status, desc := redeem(); status != http.StatusOK {
		t.Fatalf("the registered certificate's assertion was refused: %d %s", status, desc)
	}
	if _, err := identity.CertificateAssertion([]byte("garbage"), scenario.DemoAppID, nil); err == nil {
		t.Error("garbage PEM accepted")
	}
}
