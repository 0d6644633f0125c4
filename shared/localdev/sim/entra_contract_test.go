package sim_test

// Contract tests for the simulated Entra ID: every flow goes through Microsoft's unmodified
// azidentity and MSAL Go, so a shape the SDKs would reject fails here.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // #nosec G505 -- x5t thumbprint of a test certificate
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

const (
	graphScope   = "https://graph.microsoft.com/.default"
	partnerScope = "https://api.partnercenter.microsoft.com/.default"
)

func entraCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// claimsOf verifies a token with the simulator's key and returns its claims.
func claimsOf(t *testing.T, s *sim.Server, raw string) *token.Claims {
	t.Helper()
	c, err := s.Issuer.Verify(raw)
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	return c
}

// wantAADSTS asserts err is azidentity's AuthenticationFailedError naming the AADSTS code.
func wantAADSTS(t *testing.T, err error, code string, more ...string) {
	t.Helper()
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		t.Fatalf("want *azidentity.AuthenticationFailedError with AADSTS%s, got %T: %v", code, err, err)
	}
	msg := afe.Error()
	for _, want := range append([]string{"AADSTS" + code}, more...) {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// consentedTenants are the demo tenants where the app has a service principal and no injected
// token fault.
func consentedTenants(t *testing.T, s *sim.Server) []*scenario.Tenant {
	t.Helper()
	var out []*scenario.Tenant
	for i := 0; i < s.World.TenantCount(); i++ {
		tn := s.World.TenantAt(i)
		if _, ok := s.Directory.ServicePrincipal(tn.ID, s.World.App().AppID); ok && !tn.Deleted && tn.Faults.TokenError == "" {
			out = append(out, tn)
		}
	}
	if len(out) < 5 {
		t.Fatalf("only %d consented demo tenants", len(out))
	}
	return out
}

func checkAppToken(t *testing.T, s *sim.Server, raw, tenantID string) {
	t.Helper()
	c := claimsOf(t, s, raw)
	sp, _ := s.Directory.ServicePrincipal(tenantID, s.World.App().AppID)
	if c.TenantID != tenantID || !c.AudienceMatches(scenario.GraphAudience, scenario.GraphAppID) || !c.IsApp() ||
		c.ObjectID != sp.ObjectID || c.AppID != s.World.App().AppID {
		t.Errorf("tenant %s: claims tid=%s aud=%v idtyp=%s oid=%s appid=%s", tenantID, c.TenantID, c.Audience, c.IDType, c.ObjectID, c.AppID)
	}
	want := scenario.SyncGraphPermissions
	if tn, ok := s.World.Tenant(tenantID); ok && tn.GrantedRoles != nil {
		want = tn.GrantedRoles // consented long ago with fewer roles
	}
	for _, role := range want {
		if !c.HasRole(role) {
			t.Errorf("tenant %s: roles %v lack %s", tenantID, c.Roles, role)
		}
	}
}

func TestEntraClientSecretEveryConsentedTenant(t *testing.T) {
	s := startSim(t)
	ctx := entraCtx(t)
	tenants := consentedTenants(t, s)
	for _, tn := range tenants {
		tok, err := secretCredential(t, s, tn.ID).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
		if err != nil {
			t.Fatalf("%s: %v", tn.DisplayName, err)
		}
		checkAppToken(t, s, tok.Token, tn.ID)
		if d := time.Until(tok.ExpiresOn); d < 55*time.Minute || d > 61*time.Minute {
			t.Errorf("%s: token expires in %v", tn.DisplayName, d)
		}
	}
	// One credential for every tenant: AdditionallyAllowedTenants ["*"] and the tenant per call.
	multi := secretCredential(t, s, s.Endpoints().PartnerTenantID)
	for _, tn := range tenants {
		tok, err := multi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tn.ID})
		if err != nil {
			t.Fatalf("%s through one credential: %v", tn.DisplayName, err)
		}
		checkAppToken(t, s, tok.Token, tn.ID)
	}
	// Key Vault and Partner Center audiences.
	for scope, aud := range map[string]string{"https://vault.azure.net/.default": scenario.VaultAudience, partnerScope: scenario.PartnerAudience} {
		tok, err := multi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			t.Fatal(err)
		}
		if c := claimsOf(t, s, tok.Token); !c.AudienceMatches(aud, "") || c.TenantID != s.Endpoints().PartnerTenantID {
			t.Errorf("%s: aud %v tid %s", scope, c.Audience, c.TenantID)
		}
	}
}

// newCert makes a self-signed certificate and key.
func newCert(t *testing.T) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "tenantsync"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestEntraClientCertificateCredential(t *testing.T) {
	s := startSim(t)
	ctx := entraCtx(t)
	appID := s.World.App().AppID
	cert, key := newCert(t)
	sum := sha1.Sum(cert.Raw) // #nosec G401
	if _, err := s.Directory.UpdateApp(appID, func(a *directory.Application) error {
		a.Keys = append(a.Keys, directory.KeyCredential{KeyID: uuid.NewString(), DisplayName: "CN=tenantsync", Type: "AsymmetricX509Cert",
			Usage: "Verify", Thumbprint: base64.RawURLEncoding.EncodeToString(sum[:]), DER: cert.Raw, Start: cert.NotBefore, End: cert.NotAfter})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	newCred := func(c *x509.Certificate, k *rsa.PrivateKey) *azidentity.ClientCertificateCredential {
		cred, err := azidentity.NewClientCertificateCredential(scenario.DemoContosoDental, appID, []*x509.Certificate{c}, k,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOptions(t, s), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	tok, err := newCred(cert, key).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(err)
	}
	checkAppToken(t, s, tok.Token, scenario.DemoContosoDental)

	// A certificate the app does not know.
	other, otherKey := newCert(t)
	_, err = newCred(other, otherKey).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	wantAADSTS(t, err, "700027", "The key was not found")
	// The registered certificate's thumbprint on an assertion signed with another key (azidentity
	// refuses such a pair, so the assertion is built here).
	forged, err := azidentity.NewClientAssertionCredential(scenario.DemoContosoDental, appID, func(context.Context) (string, error) {
		s256 := sha256.Sum256(cert.Raw)
		tok := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.MapClaims{
			"aud": strings.TrimRight(s.Endpoints().AuthorityHost, "/") + "/" + scenario.DemoContosoDental + "/oauth2/v2.0/token",
			"iss": appID, "sub": appID, "jti": uuid.NewString(),
			"nbf": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix(),
		})
		tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(s256[:])
		return tok.SignedString(otherKey)
	}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOptions(t, s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = forged.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	wantAADSTS(t, err, "700027", "signature")
}

func TestEntraManagedIdentityFederatedCredential(t *testing.T) {
	s := startSim(t)
	ctx := entraCtx(t)
	ep := s.Endpoints()
	// App Service: azidentity (through MSAL's managedidentity) picks App Service when both are set.
	t.Setenv("IDENTITY_ENDPOINT", ep.ManagedIdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", ep.ManagedIdentityHeader)
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: clientOptions(t, s)})
	if err != nil {
		t.Fatal(err)
	}
	// MSAL caches managed identity tokens process-wide, not per endpoint; every test starts its own
	// simulator with its own signing key, so bypass the cache (claims do) to get this one's token.
	assertion := func(ctx context.Context) (string, error) {
		tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"api://AzureADTokenExchange/.default"},
			Claims: `{"access_token":{"xms_cc":{"values":["cp1"]}}}`})
		return tok.Token, err
	}
	raw, err := assertion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, s, raw)
	if c.Subject != ep.ManagedIdentityObjectID || c.ObjectID != ep.ManagedIdentityObjectID || c.TenantID != ep.PartnerTenantID ||
		!c.AudienceMatches("api://AzureADTokenExchange", "") || !c.IsApp() {
		t.Fatalf("managed identity token claims %+v", c)
	}
	// Vault token straight from the managed identity.
	vt, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}, Claims: `{"access_token":{}}`})
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, s, vt.Token); !c.AudienceMatches(scenario.VaultAudience, "") || c.Subject != ep.ManagedIdentityObjectID {
		t.Errorf("vault token claims %+v", c)
	}

	appID := s.World.App().AppID
	newCred := func() *azidentity.ClientAssertionCredential {
		cred, err := azidentity.NewClientAssertionCredential(scenario.DemoContosoDental, appID, assertion,
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOptions(t, s), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	// No federated credential for the identity yet.
	_, err = newCred().GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	wantAADSTS(t, err, "700211") // no federated identity record for the identity's issuer

	if _, err := s.Directory.UpdateApp(appID, func(a *directory.Application) error {
		a.Federated = append(a.Federated, directory.FederatedCredential{ID: uuid.NewString(), Name: "function-app",
			Issuer: s.Issuer.IssuerURL(ep.PartnerTenantID), Subject: ep.ManagedIdentityObjectID, Audiences: []string{"api://AzureADTokenExchange"}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tok, err := newCred().GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(err)
	}
	checkAppToken(t, s, tok.Token, scenario.DemoContosoDental)

	// The identity header is App Service's secret.
	req, _ := http.NewRequest(http.MethodGet, ep.ManagedIdentityEndpoint+"?api-version=2019-08-01&resource=https://vault.azure.net", nil)
	req.Header.Set("X-IDENTITY-HEADER", "wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong X-IDENTITY-HEADER: %d", resp.StatusCode)
	}
}

func TestEntraTokenFailureModes(t *testing.T) {
	s := startSim(t)
	ctx := entraCtx(t)
	app := s.World.App()
	get := func(cred azcore.TokenCredential, tenant string) error {
		_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}, TenantID: tenant})
		return err
	}
	secretCred := func(clientID, secret string) *azidentity.ClientSecretCredential {
		cred, err := azidentity.NewClientSecretCredential(s.Endpoints().PartnerTenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
			ClientOptions: clientOptions(t, s), DisableInstanceDiscovery: true, AdditionallyAllowedTenants: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	t.Run("7000229 not consented", func(t *testing.T) {
		for _, tenant := range []string{scenario.DemoWoodgroveBank, scenario.DemoAdventureWorks} {
			wantAADSTS(t, get(secretCredential(t, s, tenant), ""), "7000229", tenant)
		}
	})
	t.Run("7000215 wrong secret", func(t *testing.T) {
		wantAADSTS(t, get(secretCred(app.AppID, "not-the-secret"), scenario.DemoContosoDental), "7000215", "invalid_client")
	})
	t.Run("7000215 secret id pasted", func(t *testing.T) {
		wantAADSTS(t, get(secretCred(app.AppID, app.Secrets[0].KeyID), scenario.DemoContosoDental), "7000215", "secret ID")
	})
	t.Run("7000222 expired secret", func(t *testing.T) {
		const value = "expired~secret.value-0123456789"
		now := time.Now()
		if _, err := s.Directory.UpdateApp(app.AppID, func(a *directory.Application) error {
			a.Passwords = append(a.Passwords, directory.NewPassword("", "expired", value, now.AddDate(-2, 0, 0), now.AddDate(0, 0, -1)))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		wantAADSTS(t, get(secretCred(app.AppID, value), scenario.DemoContosoDental), "7000222")
	})
	t.Run("65001 Fourth Coffee", func(t *testing.T) {
		wantAADSTS(t, get(secretCredential(t, s, scenario.DemoFourthCoffee), ""), "65001")
	})
	t.Run("90002 Blue Yonder deleted", func(t *testing.T) {
		wantAADSTS(t, get(secretCredential(t, s, scenario.DemoBlueYonderAirlines), ""), "90002")
		wantAADSTS(t, get(secretCred(app.AppID, app.Secrets[0].Value), scenario.DemoBlueYonderAirlines), "90002")
	})
	t.Run("700016 unknown app", func(t *testing.T) {
		wantAADSTS(t, get(secretCred(uuid.NewString(), app.Secrets[0].Value), scenario.DemoContosoDental), "700016", "unauthorized_client")
	})
	t.Run("53003 Conditional Access", func(t *testing.T) {
		wantAADSTS(t, passwordSignIn(t, s, scenario.DemoBlockedUPN), "53003")
	})
}

// deviceCodeSignIn signs upn in through azidentity's DeviceCodeCredential, approving the code
// on the simulator from the prompt callback.
func deviceCodeSignIn(t *testing.T, s *sim.Server, upn string) error {
	t.Helper()
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: clientOptions(t, s), TenantID: s.Endpoints().PartnerTenantID, ClientID: s.World.App().AppID,
		DisableInstanceDiscovery: true,
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			return s.Entra.ApproveDeviceCode(m.UserCode, upn, true)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(entraCtx(t), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	return err
}

// wantDeviceCodeFailure: a failed device code sign-in reaches azidentity as an
// AuthenticationFailedError with the 400, but without the body: MSAL's poll loop
// (oauth.isWaitDeviceCodeErr) reads the error body to look for authorization_pending and
// leaves it consumed, so azidentity prints "Response contained no body". The AADSTS code is in
// MSAL's own error (see msalDeviceCode).
func wantDeviceCodeFailure(t *testing.T, err error) {
	t.Helper()
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil || afe.RawResponse.StatusCode != http.StatusBadRequest {
		t.Fatalf("want AuthenticationFailedError with a 400, got %T: %v", err, err)
	}
}

// msalDeviceCode runs the device code flow with MSAL's public client, approving (or declining)
// on the simulator, and returns the flow's error.
func msalDeviceCode(t *testing.T, s *sim.Server, upn string, approve bool) error {
	t.Helper()
	ctx := entraCtx(t)
	pca, err := public.New(s.World.App().AppID, public.WithAuthority(strings.TrimRight(s.Endpoints().AuthorityHost, "/")+"/organizations"),
		public.WithHTTPClient(httpClient(t, s)), public.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := pca.AcquireTokenByDeviceCode(ctx, []string{graphScope})
	if err != nil {
		t.Fatal(err)
	}
	if approve {
		err = s.Entra.ApproveDeviceCode(dc.Result.UserCode, upn, true)
	} else {
		err = s.Entra.DeclineDeviceCode(dc.Result.UserCode)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, err = dc.AuthenticationResult(ctx)
	return err
}

// passwordSignIn signs upn in with azidentity's UsernamePasswordCredential (ROPC), whose
// errors carry Entra's body.
func passwordSignIn(t *testing.T, s *sim.Server, upn string) error {
	t.Helper()
	//lint:ignore SA1019 ROPC is deprecated, yet it is the flow that reports a user's sign-in error verbatim
	cred, err := azidentity.NewUsernamePasswordCredential(s.Endpoints().PartnerTenantID, s.World.App().AppID, upn, "any-password",
		&azidentity.UsernamePasswordCredentialOptions{ClientOptions: clientOptions(t, s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(entraCtx(t), policy.TokenRequestOptions{Scopes: []string{graphScope}})
	return err
}

// TestEntraPartnerUserSignInErrors uses a scenario with partner users whose sign-in fails with
// MFA required (50076) and revoked grants (50173), next to the demo's Conditional Access block.
func TestEntraPartnerUserSignInErrors(t *testing.T) {
	now := time.Now()
	f := scenario.DemoFile(now)
	f.Partner.Users = append(f.Partner.Users,
		scenario.PartnerUserSpec{ID: uuid.NewString(), UPN: "needsmfa@" + scenario.DemoPartnerDomain, DisplayName: "Needs MFA", SignInError: "50076"},
		scenario.PartnerUserSpec{ID: uuid.NewString(), UPN: "revoked@" + scenario.DemoPartnerDomain, DisplayName: "Revoked", MFA: true, SignInError: "50173"})
	w, err := scenario.New(f, now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Start(sim.Options{World: w, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	for upn, code := range map[string]string{
		"needsmfa@" + scenario.DemoPartnerDomain: "50076",
		"revoked@" + scenario.DemoPartnerDomain:  "50173",
		scenario.DemoBlockedUPN:                  "53003",
	} {
		wantAADSTS(t, passwordSignIn(t, s, upn), code, "invalid_grant")
		wantDeviceCodeFailure(t, deviceCodeSignIn(t, s, upn))
		if err := msalDeviceCode(t, s, upn, true); err == nil || !strings.Contains(err.Error(), "AADSTS"+code) {
			t.Errorf("%s: MSAL device code error %v lacks AADSTS%s", upn, err, code)
		}
	}
	if err := deviceCodeSignIn(t, s, scenario.DemoServiceAccountUPN); err != nil {
		t.Fatalf("healthy user, device code: %v", err)
	}
	if err := passwordSignIn(t, s, scenario.DemoServiceAccountUPN); err != nil {
		t.Fatalf("healthy user, password: %v", err)
	}
}

func TestEntraDeviceCodeCredential(t *testing.T) {
	s := startSim(t)
	ctx := entraCtx(t)
	prompts := 0
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: clientOptions(t, s), TenantID: s.Endpoints().PartnerTenantID, ClientID: s.World.App().AppID,
		DisableInstanceDiscovery: true,
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			prompts++
			if !strings.Contains(m.Message, m.UserCode) || !strings.HasPrefix(m.VerificationURL, "https://") {
				t.Errorf("device code message %+v", m)
			}
			return s.Entra.ApproveDeviceCode(m.UserCode, scenario.DemoServiceAccountUPN, true)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, s, tok.Token)
	if c.TenantID != scenario.DemoPartnerTenantID || c.ObjectID != scenario.DemoServiceAccountID || !c.HasMFA() ||
		!c.HasScope("DelegatedAdminRelationship.Read.All") || c.IsApp() || c.UPN != scenario.DemoServiceAccountUPN {
		t.Errorf("device code token claims %+v", c)
	}
	// Another resource comes from the cached refresh token, without a second prompt.
	tok, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{partnerScope}})
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, s, tok.Token); !c.AudienceMatches(scenario.PartnerAudience, "") || c.Scope != "user_impersonation" || prompts != 1 {
		t.Errorf("partner center token aud %v scp %q after %d prompts", c.Audience, c.Scope, prompts)
	}
	// Declined on the verification page.
	decl, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: clientOptions(t, s), TenantID: s.Endpoints().PartnerTenantID, ClientID: s.World.App().AppID,
		DisableInstanceDiscovery: true,
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			return s.Entra.DeclineDeviceCode(m.UserCode)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = decl.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	wantDeviceCodeFailure(t, err)
	if err := msalDeviceCode(t, s, "", false); err == nil || !strings.Contains(err.Error(), "authorization_declined") {
		t.Errorf("declined device code through MSAL: %v", err)
	}
}

// memCache lets the test read MSAL's serialized cache (to see the refresh tokens it stores).
type memCache struct {
	mu   sync.Mutex
	data []byte
}

func (m *memCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.data) == 0 {
		return nil
	}
	return u.Unmarshal(m.data)
}

func (m *memCache) Export(_ context.Context, mm cache.Marshaler, _ cache.ExportHints) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := mm.Marshal()
	m.data = b
	return err
}

func (m *memCache) refreshTokens(t *testing.T) []string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var c struct {
		RefreshToken map[string]struct {
			Secret string `json:"secret"`
		}
	}
	if err := json.Unmarshal(m.data, &c); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rt := range c.RefreshToken {
		out = append(out, rt.Secret)
	}
	return out
}

// signInWithAuthCode builds the authorize URL with MSAL, adds PKCE, state and nonce, follows it
// non-interactively (sim_user) without following the redirect, and returns the callback query.
func signInWithAuthCode(t *testing.T, s *sim.Server, cca confidential.Client, upn, challenge string, extra url.Values) url.Values {
	t.Helper()
	app := s.World.App()
	authURL, err := cca.AuthCodeURL(entraCtx(t), app.AppID, scenario.DemoConnectURI,
		[]string{graphScope, "offline_access", "openid", "profile"}, confidential.WithLoginHint(upn))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	q.Set("state", "state-"+upn)
	q.Set("nonce", "nonce-"+upn)
	q.Set("response_mode", "query")
	q.Set("sim_user", upn)
	for k, v := range extra {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	hc := httpClient(t, s)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), scenario.DemoConnectURI+"?") {
		t.Fatalf("redirected to %s", loc)
	}
	cb := loc.Query()
	if cb.Get("state") != "state-"+upn {
		t.Errorf("callback state %q", cb.Get("state"))
	}
	return cb
}

func pkce() (verifier, challenge string) {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func newConfidential(t *testing.T, s *sim.Server, c *memCache) confidential.Client {
	t.Helper()
	app := s.World.App()
	cred, err := confidential.NewCredFromSecret(app.Secrets[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	cca, err := confidential.New(strings.TrimRight(s.Endpoints().AuthorityHost, "/")+"/organizations", app.AppID, cred,
		confidential.WithHTTPClient(httpClient(t, s)), confidential.WithInstanceDiscovery(false), confidential.WithCache(c))
	if err != nil {
		t.Fatal(err)
	}
	return cca
}

func TestEntraAuthCodePKCE(t *testing.T) {
	s := startSim(t)
	ctx := entraCtx(t)
	mc := &memCache{}
	cca := newConfidential(t, s, mc)
	upn := scenario.DemoServiceAccountUPN
	verifier, challenge := pkce()
	cb := signInWithAuthCode(t, s, cca, upn, challenge, nil)
	code := cb.Get("code")
	if code == "" {
		t.Fatalf("callback without code: %v", cb)
	}
	// A wrong verifier fails PKCE (and does not use the code up).
	_, err := cca.AcquireTokenByAuthCode(ctx, code, scenario.DemoConnectURI, []string{graphScope}, confidential.WithChallenge(verifier+"x"))
	if err == nil || !strings.Contains(err.Error(), "AADSTS501481") {
		t.Fatalf("wrong verifier: %v", err)
	}
	ar, err := cca.AcquireTokenByAuthCode(ctx, code, scenario.DemoConnectURI, []string{graphScope}, confidential.WithChallenge(verifier))
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, s, ar.AccessToken)
	if !c.HasMFA() || c.TenantID != scenario.DemoPartnerTenantID || c.ObjectID != scenario.DemoServiceAccountID ||
		!c.AudienceMatches(scenario.GraphAudience, "") || !c.HasScope("DelegatedAdminRelationship.Read.All") {
		t.Errorf("access token claims %+v", c)
	}
	if ar.IDToken.PreferredUsername != upn || ar.Account.HomeAccountID != scenario.DemoServiceAccountID+"."+scenario.DemoPartnerTenantID {
		t.Errorf("id token %+v, account %+v", ar.IDToken, ar.Account)
	}
	if idc := claimsOf(t, s, ar.IDToken.RawToken); idc.Nonce != "nonce-"+upn {
		t.Errorf("id token nonce %q", idc.Nonce)
	}
	// Single use.
	_, err = cca.AcquireTokenByAuthCode(ctx, code, scenario.DemoConnectURI, []string{graphScope}, confidential.WithChallenge(verifier))
	if err == nil || !strings.Contains(err.Error(), "AADSTS54005") {
		t.Errorf("second redemption: %v", err)
	}

	rts := mc.refreshTokens(t)
	if len(rts) != 1 {
		t.Fatalf("cache holds refresh tokens %v", rts)
	}
	rt1 := rts[0]
	// Partner Center has no cached access token: MSAL redeems the refresh token and stores the new one.
	ar2, err := cca.AcquireTokenSilent(ctx, []string{partnerScope}, confidential.WithSilentAccount(ar.Account))
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, s, ar2.AccessToken); !c.AudienceMatches(scenario.PartnerAudience, "") || !c.HasMFA() {
		t.Errorf("partner center token %+v", c)
	}
	rts = mc.refreshTokens(t)
	if len(rts) != 1 || rts[0] == rt1 {
		t.Fatalf("refresh token did not rotate: %v (was %s)", rts, rt1)
	}
	rt2 := rts[0]
	// Every redemption rotates, also outside MSAL; the answer keeps Entra's fields.
	body := redeemRefreshToken(t, s, rt2, graphScope+" offline_access")
	if body["refresh_token"] == nil || body["refresh_token"] == rt2 || body["token_type"] != "Bearer" ||
		body["expires_in"] != float64(3599) || body["ext_expires_in"] == nil || body["scope"] == nil {
		t.Errorf("refresh answer %v", body)
	}

	// A user without MFA gets amr without mfa.
	verifier, challenge = pkce()
	cb = signInWithAuthCode(t, s, cca, scenario.DemoNoMFAUPN, challenge, nil)
	ar3, err := cca.AcquireTokenByAuthCode(ctx, cb.Get("code"), scenario.DemoConnectURI, []string{graphScope}, confidential.WithChallenge(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, s, ar3.AccessToken); c.HasMFA() || len(c.AMR) != 1 || c.AMR[0] != "pwd" {
		t.Errorf("no-MFA user amr %v", c.AMR)
	}
	// sim_mfa=false: an MFA user signs in with the password only.
	verifier, challenge = pkce()
	cb = signInWithAuthCode(t, s, cca, scenario.DemoAdminUPN, challenge, url.Values{"sim_mfa": {"false"}})
	ar4, err := cca.AcquireTokenByAuthCode(ctx, cb.Get("code"), scenario.DemoConnectURI, []string{graphScope}, confidential.WithChallenge(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, s, ar4.AccessToken); c.HasMFA() {
		t.Errorf("sim_mfa=false amr %v", c.AMR)
	}
	// A blocked user comes back to the redirect URI with the error.
	_, challenge = pkce()
	cb = signInWithAuthCode(t, s, cca, scenario.DemoBlockedUPN, challenge, nil)
	if cb.Get("error") != "access_denied" || !strings.HasPrefix(cb.Get("error_description"), "AADSTS53003") {
		t.Errorf("blocked user callback %v", cb)
	}
}

// redeemRefreshToken posts a refresh_token grant directly (as a product without MSAL would).
func redeemRefreshToken(t *testing.T, s *sim.Server, rt, scope string) map[string]any {
	t.Helper()
	body, status := postToken(t, s, scenario.DemoPartnerTenantID, url.Values{"grant_type": {"refresh_token"}, "client_id": {s.World.App().AppID},
		"client_secret": {s.World.App().Secrets[0].Value}, "refresh_token": {rt}, "scope": {scope}})
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	return body
}

func postToken(t *testing.T, s *sim.Server, tenant string, form url.Values) (map[string]any, int) {
	t.Helper()
	resp, err := httpClient(t, s).PostForm(strings.TrimRight(s.Endpoints().AuthorityHost, "/")+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token endpoint answered %q", b)
	}
	return m, resp.StatusCode
}

func TestEntraRefreshTokenExpiryAndRevocation(t *testing.T) {
	s := startSim(t)
	ctx := entraCtx(t)
	for _, tc := range []struct {
		name, code string
		breakIt    func()
	}{
		{"700082 inactive 90 days", "700082", func() { s.Entra.AgeRefreshTokens(91 * 24 * time.Hour) }},
		{"50173 sessions revoked", "50173", func() {
			if err := s.Entra.RevokeUserSessions(scenario.DemoServiceAccountUPN); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mc := &memCache{}
			cca := newConfidential(t, s, mc)
			verifier, challenge := pkce()
			cb := signInWithAuthCode(t, s, cca, scenario.DemoServiceAccountUPN, challenge, nil)
			ar, err := cca.AcquireTokenByAuthCode(ctx, cb.Get("code"), scenario.DemoConnectURI, []string{graphScope}, confidential.WithChallenge(verifier))
			if err != nil {
				t.Fatal(err)
			}
			rt := mc.refreshTokens(t)[0]
			tc.breakIt()
			_, err = cca.AcquireTokenSilent(ctx, []string{partnerScope}, confidential.WithSilentAccount(ar.Account))
			if err == nil || !strings.Contains(err.Error(), "AADSTS"+tc.code) {
				t.Fatalf("silent refresh: %v", err)
			}
			body, status := postToken(t, s, scenario.DemoPartnerTenantID, url.Values{"grant_type": {"refresh_token"},
				"client_id": {s.World.App().AppID}, "client_secret": {s.World.App().Secrets[0].Value}, "refresh_token": {rt}, "scope": {graphScope}})
			codes, _ := body["error_codes"].([]any)
			if status != 400 || body["error"] != "invalid_grant" || len(codes) != 1 || !strings.HasPrefix(body["error_description"].(string), "AADSTS"+tc.code+":") {
				t.Errorf("refresh answer %d %v", status, body)
			}
		})
	}
	// A fresh sign-in after the revocation works again.
	mc := &memCache{}
	cca := newConfidential(t, s, mc)
	verifier, challenge := pkce()
	cb := signInWithAuthCode(t, s, cca, scenario.DemoServiceAccountUPN, challenge, nil)
	ar, err := cca.AcquireTokenByAuthCode(ctx, cb.Get("code"), scenario.DemoConnectURI, []string{graphScope}, confidential.WithChallenge(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cca.AcquireTokenSilent(ctx, []string{partnerScope}, confidential.WithSilentAccount(ar.Account)); err != nil {
		t.Errorf("refresh after a new sign-in: %v", err)
	}
}

func TestEntraAdminConsent(t *testing.T) {
	s := startSim(t)
	ctx := entraCtx(t)
	app := s.World.App()
	hc := httpClient(t, s)
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	consent := func(tenant string, extra url.Values) url.Values {
		t.Helper()
		q := url.Values{"client_id": {app.AppID}, "scope": {graphScope}, "redirect_uri": {scenario.DemoConsentURI}, "state": {"st-" + tenant}}
		for k, v := range extra {
			q[k] = v
		}
		resp, err := hc.Get(strings.TrimRight(s.Endpoints().AuthorityHost, "/") + "/" + tenant + "/v2.0/adminconsent?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("adminconsent: %d", resp.StatusCode)
		}
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(u.String(), scenario.DemoConsentURI+"?") {
			t.Fatalf("redirect to %v (%v)", u, err)
		}
		return u.Query()
	}
	// Deny in Woodgrove: no service principal, still no token.
	cb := consent("woodgrovebank.onmicrosoft.com", url.Values{"sim_action": {"deny"}})
	if cb.Get("error") != "access_denied" || !strings.Contains(cb.Get("error_description"), "AADSTS65004") || cb.Get("state") != "st-woodgrovebank.onmicrosoft.com" {
		t.Errorf("deny callback %v", cb)
	}
	if _, ok := s.Directory.ServicePrincipal(scenario.DemoWoodgroveBank, app.AppID); ok {
		t.Error("declined consent created a service principal")
	}
	_, err := secretCredential(t, s, scenario.DemoWoodgroveBank).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
	wantAADSTS(t, err, "7000229")

	// Approve in Adventure Works (by GUID) and through organizations for Woodgrove.
	cb = consent(scenario.DemoAdventureWorks, url.Values{"sim_action": {"approve"}})
	if cb.Get("admin_consent") != "True" || cb.Get("tenant") != scenario.DemoAdventureWorks || cb.Get("state") != "st-"+scenario.DemoAdventureWorks || cb.Get("scope") == "" {
		t.Errorf("approve callback %v", cb)
	}
	cb = consent("organizations", url.Values{"sim_action": {"approve"}, "sim_tenant": {"woodgrovebank.onmicrosoft.com"}})
	if cb.Get("admin_consent") != "True" || cb.Get("tenant") != scenario.DemoWoodgroveBank {
		t.Errorf("organizations approve callback %v", cb)
	}
	for _, tenant := range []string{scenario.DemoAdventureWorks, scenario.DemoWoodgroveBank} {
		if sp, ok := s.Directory.ServicePrincipal(tenant, app.AppID); !ok || sp.Via != "adminconsent" {
			t.Errorf("%s: service principal %+v %v", tenant, sp, ok)
		}
		tok, err := secretCredential(t, s, tenant).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{graphScope}})
		if err != nil {
			t.Fatalf("%s after consent: %v", tenant, err)
		}
		checkAppToken(t, s, tok.Token, tenant)
	}
	// common is refused.
	if cb = consent("common", url.Values{"sim_action": {"approve"}}); cb.Get("error") == "" || cb.Get("admin_consent") != "" {
		t.Errorf("common callback %v", cb)
	}
}

func TestEntraDiscovery(t *testing.T) {
	s := startSim(t)
	hc := httpClient(t, s)
	authority := strings.TrimRight(s.Endpoints().AuthorityHost, "/")
	get := func(tenant string) (map[string]any, int) {
		resp, err := hc.Get(authority + "/" + tenant + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m, resp.StatusCode
	}
	for _, tenant := range []string{scenario.DemoContosoDental, "contosodental.onmicrosoft.com", "contosodental.com"} {
		m, status := get(tenant)
		if status != 200 || m["issuer"] != authority+"/"+scenario.DemoContosoDental+"/v2.0" ||
			m["token_endpoint"] != authority+"/"+scenario.DemoContosoDental+"/oauth2/v2.0/token" || m["authorization_endpoint"] == nil {
			t.Errorf("%s: %d %v", tenant, status, m)
		}
	}
	if m, _ := get("organizations"); m["issuer"] != authority+"/{tenantid}/v2.0" {
		t.Errorf("organizations issuer %v", m["issuer"])
	}
	for _, tenant := range []string{"nosuchtenant.onmicrosoft.com", scenario.DemoBlueYonderAirlines} {
		m, status := get(tenant)
		if desc, _ := m["error_description"].(string); status != 400 || m["error"] != "invalid_tenant" || !strings.HasPrefix(desc, "AADSTS90002: Tenant '"+tenant+"' not found.") {
			t.Errorf("%s: %d %v", tenant, status, m)
		}
	}
}
