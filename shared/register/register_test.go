package register_test

import (
	"bytes"
	"context"
	"crypto/sha1" // #nosec G505 -- thumbprint comparison
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/applications"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/register"
	"github.com/tenantsync/tenantsync/shared/secrets"
)

const (
	publicURL  = "https://tenantsync-contoso.azurewebsites.net"
	publicURL2 = "https://tenantsync.contosomsp.example"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func startSim(t *testing.T, w *scenario.World) *sim.Server {
	t.Helper()
	s, err := sim.Start(sim.Options{World: w, Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func endpoints(s *sim.Server) cloud.Endpoints {
	ep := s.Endpoints()
	return cloud.Endpoints{AuthorityHost: ep.AuthorityHost, GraphURL: ep.GraphURL, CAFile: ep.CAFile}
}

// approve answers the device code prompt as the demo partner admin would on the verification
// page (with MFA).
type approver struct {
	s   *sim.Server
	out *bytes.Buffer // receives Microsoft's message, as the default prompt prints it
}

func (a *approver) prompt(_ context.Context, m azidentity.DeviceCodeMessage) error {
	if a.out != nil {
		a.out.WriteString(m.Message + "\n")
	}
	return a.s.Entra.ApproveDeviceCode(m.UserCode, scenario.DemoAdminUPN, true)
}

// options are a run's options against the simulator; out receives everything the run prints.
func options(s *sim.Server, name, public, credential string, out *bytes.Buffer) register.Options {
	a := &approver{s: s, out: out}
	return register.Options{
		PartnerTenantID: s.Endpoints().PartnerTenantID,
		PublicURL:       public,
		VaultURL:        s.Endpoints().KeyVaultURL,
		AppName:         name,
		Credential:      credential,
		Endpoints:       endpoints(s),
		Prompt:          a.prompt,
		Out:             out,
	}
}

// runOK runs register, prints the summary into out as the command does, and fails on error.
func runOK(t *testing.T, o register.Options, out *bytes.Buffer) *register.Result {
	t.Helper()
	const msg = "To sign in, use a web browser"
	before := strings.Count(out.String(), msg)
	res, err := register.Run(ctxT(t), o)
	if err != nil {
		t.Fatalf("register: %v\noutput:\n%s", err, out)
	}
	// One sign-in serves Graph and Key Vault: the admin enters one code per run.
	if n := strings.Count(out.String(), msg) - before; n != 1 {
		t.Errorf("the run prompted for %d device codes, want 1:\n%s", n, out)
	}
	register.Print(out, res)
	return res
}

// writes are the simulator's counted write calls: POST/PATCH/PUT/DELETE on Graph and Key Vault.
func writes(s *sim.Server) map[string]int64 {
	out := map[string]int64{}
	for _, r := range s.Metrics.Rows() {
		if r.Service != "graph" && r.Service != "keyvault" {
			continue
		}
		method, _, _ := strings.Cut(r.Endpoint, " ")
		switch method {
		case "POST", "PATCH", "PUT", "DELETE":
			out[r.Service+" "+r.Endpoint] += r.Requests
		}
	}
	return out
}

// adminCredential signs the demo admin in (device code, Azure CLI client) for the checks.
func adminCredential(t *testing.T, s *sim.Server) azcore.TokenCredential {
	t.Helper()
	opts, err := endpoints(s).ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	a := &approver{s: s}
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: opts, TenantID: s.Endpoints().PartnerTenantID, ClientID: register.AzureCLIClientID,
		DisableInstanceDiscovery: true, UserPrompt: a.prompt,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// checker reads the partner tenant through Graph and Key Vault as the admin.
type checker struct {
	t     *testing.T
	s     *sim.Server
	graph *msgraphsdk.GraphServiceClient
	vault *secrets.KeyVault
	kv    *azsecrets.Client
}

func newChecker(t *testing.T, s *sim.Server) *checker {
	t.Helper()
	cred := adminCredential(t, s)
	g, _, err := graphclient.New(cred, endpoints(s))
	if err != nil {
		t.Fatal(err)
	}
	v, err := secrets.NewKeyVault(s.Endpoints().KeyVaultURL, cred, endpoints(s))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := endpoints(s).ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := azsecrets.NewClient(s.Endpoints().KeyVaultURL, cred, &azsecrets.ClientOptions{ClientOptions: opts, DisableChallengeResourceVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	return &checker{t: t, s: s, graph: g, vault: v, kv: kv}
}

func (c *checker) app(appID string) models.Applicationable {
	c.t.Helper()
	f := "appId eq '" + appID + "'"
	resp, err := c.graph.Applications().Get(ctxT(c.t), &applications.ApplicationsRequestBuilderGetRequestConfiguration{
		QueryParameters: &applications.ApplicationsRequestBuilderGetQueryParameters{Filter: &f}})
	if err != nil || len(resp.GetValue()) != 1 {
		c.t.Fatalf("app %s through Graph: %v", appID, err)
	}
	return resp.GetValue()[0]
}

func (c *checker) secret(name string) string {
	c.t.Helper()
	v, err := c.vault.Get(ctxT(c.t), name)
	if err != nil {
		c.t.Fatalf("Key Vault %s: %v", name, err)
	}
	return v
}

// checkApp: multi-tenant, exactly the redirect URIs, exactly appperms as requiredResourceAccess.
func (c *checker) checkApp(appID, public string) models.Applicationable {
	c.t.Helper()
	app := c.app(appID)
	if got := *app.GetSignInAudience(); got != "AzureADMultipleOrgs" {
		c.t.Errorf("signInAudience %s", got)
	}
	if got, want := app.GetWeb().GetRedirectUris(), []string{public + "/api/connect/callback", public + "/api/consent/callback", public + "/.auth/login/aad/callback"}; !sameStrings(got, want) {
		c.t.Errorf("redirect URIs %v, want %v", got, want)
	}
	// The console's sign-in: ID tokens (implicit flow without a client secret) with groups.
	if g := app.GetWeb().GetImplicitGrantSettings(); g == nil || g.GetEnableIdTokenIssuance() == nil || !*g.GetEnableIdTokenIssuance() {
		c.t.Errorf("ID token issuance is not enabled")
	}
	if got := app.GetGroupMembershipClaims(); got == nil || *got != "SecurityGroup" {
		c.t.Errorf("groupMembershipClaims %v, want SecurityGroup", got)
	}
	var got []string
	for _, rra := range app.GetRequiredResourceAccess() {
		for _, ra := range rra.GetResourceAccess() {
			got = append(got, strings.ToLower(*rra.GetResourceAppId()+"|"+ra.GetId().String()+"|"+*ra.GetTypeEscaped()))
		}
	}
	var want []string
	for _, p := range appperms.Graph {
		want = append(want, strings.ToLower(appperms.GraphAppID+"|"+p.ID+"|Role"))
	}
	want = append(want, strings.ToLower(appperms.PartnerCenterAppID+"|"+appperms.PartnerCenterUserImpersonation+"|Scope"))
	if !sameStrings(got, want) {
		c.t.Errorf("requiredResourceAccess\n got %v\nwant %v", got, want)
	}
	return app
}

// checkConsent: the app's service principal in the partner tenant holds exactly appperms.Graph and
// the partner-only appperms.PartnerApp as app role assignments on Microsoft Graph (never Mail.Send).
func (c *checker) checkConsent(appID string) {
	c.t.Helper()
	ctx := ctxT(c.t)
	sp := c.sp(appID)
	graphSP := c.sp(appperms.GraphAppID)
	resp, err := c.graph.ServicePrincipals().ByServicePrincipalId(*sp.GetId()).AppRoleAssignments().Get(ctx, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	var got []string
	for _, a := range resp.GetValue() {
		if a.GetResourceId().String() == *graphSP.GetId() {
			got = append(got, a.GetAppRoleId().String())
		}
	}
	var want []string
	for _, p := range append(slices.Clone(appperms.Graph), appperms.PartnerApp...) {
		want = append(want, p.ID)
	}
	if !sameStrings(got, want) {
		c.t.Errorf("app role assignments\n got %v\nwant %v", got, want)
	}
}

func (c *checker) sp(appID string) models.ServicePrincipalable {
	c.t.Helper()
	f := "appId eq '" + appID + "'"
	resp, err := c.graph.ServicePrincipals().Get(ctxT(c.t), &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &f}})
	if err != nil || len(resp.GetValue()) != 1 {
		c.t.Fatalf("service principal of %s: %v", appID, err)
	}
	return resp.GetValue()[0]
}

// appOnlyRoles gets an app-only Graph token for the partner tenant with cred and returns its
// verified roles claim.
func appOnlyRoles(t *testing.T, s *sim.Server, cred azcore.TokenCredential) []string {
	t.Helper()
	tok, err := cred.GetToken(ctxT(t), policy.TokenRequestOptions{Scopes: []string{cloud.GraphScope}})
	if err != nil {
		t.Fatalf("app-only token with the new credential: %v", err)
	}
	c, err := s.Issuer.Verify(tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsApp() || !strings.EqualFold(c.TenantID, s.Endpoints().PartnerTenantID) {
		t.Errorf("token is not app-only for the partner tenant: %+v", c)
	}
	return c.Roles
}

func wantAllRoles(t *testing.T, roles []string) {
	t.Helper()
	for _, p := range appperms.Graph {
		if !slices.Contains(roles, p.Value) {
			t.Errorf("roles claim %v lacks %s", roles, p.Value)
		}
	}
}

// certCredential is the product's view of the certificate: azidentity from the PEM read back
// from Key Vault.
func certCredential(t *testing.T, s *sim.Server, appID, pemData string) azcore.TokenCredential {
	t.Helper()
	certs, key, err := azidentity.ParseCertificates([]byte(pemData), nil)
	if err != nil {
		t.Fatalf("Key Vault PEM: %v", err)
	}
	opts, err := endpoints(s).ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewClientCertificateCredential(s.Endpoints().PartnerTenantID, appID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func secretCredential(t *testing.T, s *sim.Server, appID, secret string) azcore.TokenCredential {
	t.Helper()
	opts, err := endpoints(s).ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewClientSecretCredential(s.Endpoints().PartnerTenantID, appID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func statuses(res *register.Result) map[string]register.Status {
	m := map[string]register.Status{}
	for _, it := range res.Items {
		m[it.Name] = it.Status
	}
	return m
}

func wantStatuses(t *testing.T, res *register.Result, want map[string]register.Status) {
	t.Helper()
	got := statuses(res)
	for name, st := range want {
		if got[name] != st {
			t.Errorf("%s: %s, want %s (%v)", name, got[name], st, res.Items)
		}
	}
	if len(got) != len(want) {
		t.Errorf("items %v, want exactly %v", got, want)
	}
}

func sameStrings(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(x, y)
}

func allUnchanged() map[string]register.Status {
	return map[string]register.Status{
		register.ItemApp: register.Unchanged, register.ItemAudience: register.Unchanged, register.ItemRedirects: register.Unchanged,
		register.ItemPermissions: register.Unchanged, register.ItemCredential: register.Unchanged, register.ItemVault: register.Unchanged,
		register.ItemSP: register.Unchanged, register.ItemConsent: register.Unchanged, register.ItemMailGrant: register.Unchanged, register.ItemSignIn: register.Unchanged,
	}
}

// TestCertificateLifecycle: the first run creates everything, the second changes nothing, a new
// public URL changes only the redirect URIs, a lost Key Vault copy or an expiring certificate
// gets a new certificate.
func TestCertificateLifecycle(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	const name = "tenantsync-msp"
	var out bytes.Buffer
	o := options(s, name, publicURL, "", &out) // default credential: certificate
	res := runOK(t, o, &out)
	chk := newChecker(t, s)

	// The simulator grants an app's required roles as it creates the service principal (its
	// model of consent), so the consent item may find them granted; the assignments themselves
	// are checked below, and TestGrantsMissingPermissions covers the grant calls.
	if res.Items[len(res.Items)-1].Name != register.ItemConsent {
		t.Fatalf("last item %v", res.Items)
	}
	want := map[string]register.Status{
		register.ItemApp: register.Created, register.ItemAudience: register.Created, register.ItemRedirects: register.Created,
		register.ItemPermissions: register.Created, register.ItemCredential: register.Created, register.ItemVault: register.Created,
		register.ItemSP: register.Created, register.ItemConsent: statuses(res)[register.ItemConsent], register.ItemMailGrant: register.Created, register.ItemSignIn: register.Created,
	}
	wantStatuses(t, res, want)
	if res.Credential != "certificate" || res.SecretName != "app-certificate" || res.AdminUPN != scenario.DemoAdminUPN {
		t.Errorf("result %+v", res)
	}
	app := chk.checkApp(res.AppID, publicURL)
	chk.checkConsent(res.AppID)

	pemData := chk.secret("app-certificate")
	cert, err := register.ParseCertificatePEM(pemData)
	if err != nil {
		t.Fatal(err)
	}
	if cert.PublicKey == nil || cert.NotAfter.Sub(cert.NotBefore) > 366*24*time.Hour || cert.NotAfter.Before(time.Now().Add(360*24*time.Hour)) {
		t.Errorf("certificate validity %s .. %s", cert.NotBefore, cert.NotAfter)
	}
	sum := sha1.Sum(cert.Raw) // #nosec G401
	if keys := app.GetKeyCredentials(); len(keys) != 1 || !bytes.Equal(keys[0].GetCustomKeyIdentifier(), sum[:]) {
		t.Errorf("app keyCredentials %d, want the Key Vault certificate", len(keys))
	}
	wantAllRoles(t, appOnlyRoles(t, s, certCredential(t, s, res.AppID, pemData)))

	text := out.String()
	for _, w := range []string{
		"To sign in, use a web browser", // Microsoft's device code message
		res.AppID, "app-certificate", res.Thumbprint, "created",
		"Global Reader", "Cloud Application Administrator", "Admin relationships", "AdminAgents", "MFA",
		publicURL + "/api/connect\n",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, pemData[len(pemData)-200:len(pemData)-30]) {
		t.Errorf("output shows the private key:\n%s", text)
	}

	t.Run("second run changes nothing", func(t *testing.T) {
		s.Metrics.Reset()
		var out bytes.Buffer
		res2 := runOK(t, options(s, name, publicURL, "certificate", &out), &out)
		wantStatuses(t, res2, allUnchanged())
		if w := writes(s); len(w) != 0 {
			t.Errorf("second run wrote: %v", w)
		}
		if res2.AppID != res.AppID || res2.Thumbprint != res.Thumbprint || chk.secret("app-certificate") != pemData {
			t.Errorf("second run changed the app or credential: %+v", res2)
		}
		if !strings.Contains(out.String(), "nothing was changed") {
			t.Errorf("second run output does not say nothing changed:\n%s", out.String())
		}
	})

	t.Run("new public URL updates only the redirect URIs", func(t *testing.T) {
		s.Metrics.Reset()
		var out bytes.Buffer
		res3 := runOK(t, options(s, name, publicURL2+"/", "certificate", &out), &out)
		want := allUnchanged()
		want[register.ItemRedirects] = register.Updated
		wantStatuses(t, res3, want)
		if w := writes(s); len(w) != 1 || w["graph PATCH /applications/{id}"] != 1 {
			t.Errorf("writes %v, want one PATCH of the app", w)
		}
		chk.checkApp(res.AppID, publicURL2)
		if d, _ := res3.Item(register.ItemRedirects); !strings.Contains(d.Detail, "removed "+publicURL+"/api/connect/callback") {
			t.Errorf("redirect detail %q", d.Detail)
		}
	})

	t.Run("lost Key Vault copy gets a new certificate", func(t *testing.T) {
		if _, err := chk.kv.DeleteSecret(ctxT(t), "app-certificate", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := chk.kv.PurgeDeletedSecret(ctxT(t), "app-certificate", nil); err != nil {
			t.Fatal(err)
		}
		s.Metrics.Reset()
		var out bytes.Buffer
		res4 := runOK(t, options(s, name, publicURL2, "certificate", &out), &out)
		want := allUnchanged()
		want[register.ItemCredential], want[register.ItemVault] = register.Created, register.Created
		wantStatuses(t, res4, want)
		w := writes(s)
		if w["graph PATCH /applications/{id}"] != 1 || w["keyvault PUT /secrets/{name}"] != 1 || len(w) != 2 {
			t.Errorf("writes %v", w)
		}
		if res4.Thumbprint == res.Thumbprint {
			t.Error("same thumbprint after the Key Vault copy was lost")
		}
		pem2 := chk.secret("app-certificate")
		// The previous certificate is still valid and stays on the app next to the new one.
		if n := len(chk.app(res.AppID).GetKeyCredentials()); n != 2 {
			t.Errorf("%d key credentials, want the old and the new", n)
		}
		wantAllRoles(t, appOnlyRoles(t, s, certCredential(t, s, res.AppID, pem2)))
	})

	t.Run("expiring certificate is renewed", func(t *testing.T) {
		var out bytes.Buffer
		o := options(s, name, publicURL2, "certificate", &out)
		o.Now = func() time.Time { return time.Now().Add(310 * 24 * time.Hour) } // 55 days left
		before := chk.secret("app-certificate")
		res5 := runOK(t, o, &out)
		if st := statuses(res5)[register.ItemCredential]; st != register.Updated {
			t.Fatalf("credential %s, want updated: %v", st, res5.Items)
		}
		if d, _ := res5.Item(register.ItemCredential); !strings.Contains(d.Detail, "within 60 days") {
			t.Errorf("renewal reason %q", d.Detail)
		}
		if chk.secret("app-certificate") == before {
			t.Error("Key Vault still holds the expiring certificate")
		}
		wantAllRoles(t, appOnlyRoles(t, s, certCredential(t, s, res.AppID, chk.secret("app-certificate"))))
	})
}

// TestClientSecret: --credential secret adds a client secret, stores only its value in Key
// Vault, never prints it, warns about its expiry, and a second run keeps it.
func TestClientSecret(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	var out bytes.Buffer
	res := runOK(t, options(s, "tenantsync-secret", publicURL, "secret", &out), &out)
	chk := newChecker(t, s)
	if st := statuses(res); st[register.ItemCredential] != register.Created || st[register.ItemVault] != register.Created || st[register.ItemApp] != register.Created {
		t.Errorf("items %v", res.Items)
	}
	secret := chk.secret("app-client-secret")
	if len(secret) < 30 || res.SecretName != "app-client-secret" {
		t.Fatalf("Key Vault app-client-secret %d characters, result %+v", len(secret), res)
	}
	if strings.Contains(out.String(), secret) || strings.Contains(out.String(), secret[3:20]) {
		t.Fatalf("the secret's value appears in the output:\n%s", out.String())
	}
	if res.Expires.Before(time.Now().Add(360*24*time.Hour)) || res.Expires.After(time.Now().Add(366*24*time.Hour)) {
		t.Errorf("secret expires %s, want in one year", res.Expires)
	}
	for _, w := range []string{"Warning: the client secret expires on " + res.Expires.UTC().Format("2006-01-02"), "--credential certificate",
		"APP_CLIENT_SECRET=@Microsoft.KeyVault(SecretUri=" + s.Endpoints().KeyVaultURL + "secrets/app-client-secret/)"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	chk.checkApp(res.AppID, publicURL)
	chk.checkConsent(res.AppID)
	if n := len(chk.app(res.AppID).GetKeyCredentials()); n != 0 {
		t.Errorf("secret run added %d certificates", n)
	}
	// The vault copy carries the expiry, so the running app can warn weeks ahead.
	kv, err := secrets.NewKeyVault(s.Endpoints().KeyVaultURL, adminCredential(t, s), endpoints(s))
	if err != nil {
		t.Fatal(err)
	}
	if exp, err := kv.Expiry(ctxT(t), "app-client-secret"); err != nil || !exp.Truncate(time.Second).Equal(res.Expires.UTC().Truncate(time.Second)) {
		t.Errorf("Key Vault expiry %v %v, want %v", exp, err, res.Expires)
	}
	wantAllRoles(t, appOnlyRoles(t, s, secretCredential(t, s, res.AppID, secret)))

	s.Metrics.Reset()
	var out2 bytes.Buffer
	res2 := runOK(t, options(s, "tenantsync-secret", publicURL, "secret", &out2), &out2)
	wantStatuses(t, res2, allUnchanged())
	if w := writes(s); len(w) != 0 {
		t.Errorf("second run wrote: %v", w)
	}
	if chk.secret("app-client-secret") != secret || strings.Contains(out2.String(), secret) {
		t.Error("second run replaced or printed the secret")
	}
	if !strings.Contains(out2.String(), "Warning: the client secret expires") {
		t.Errorf("second run does not warn about the expiry:\n%s", out2.String())
	}
}

// TestExistingApp: the demo scenario's pre-registered "tenantsync" (local redirect URIs, Graph
// permissions only, a client secret) is found by name and brought in line; its secret stays.
func TestExistingApp(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	var out bytes.Buffer
	s.Metrics.Reset()
	res := runOK(t, options(s, "", publicURL, "certificate", &out), &out)
	if res.AppID != scenario.DemoAppID {
		t.Fatalf("found app %s, want the demo app %s", res.AppID, scenario.DemoAppID)
	}
	wantStatuses(t, res, map[string]register.Status{
		register.ItemApp: register.Unchanged, register.ItemAudience: register.Unchanged, register.ItemRedirects: register.Updated,
		register.ItemPermissions: register.Updated, register.ItemCredential: register.Created, register.ItemVault: register.Created,
		register.ItemSP: register.Unchanged, register.ItemConsent: register.Unchanged, register.ItemMailGrant: register.Unchanged, register.ItemSignIn: register.Updated,
	})
	if d, _ := res.Item(register.ItemPermissions); d.Detail != "+Partner Center user_impersonation" {
		t.Errorf("permissions detail %q", d.Detail)
	}
	w := writes(s)
	if w["graph POST /applications"] != 0 || w["graph POST /servicePrincipals"] != 0 || w["graph PATCH /applications/{id}"] != 2 {
		t.Errorf("writes %v: want two PATCHes (properties, certificate), no creation", w)
	}
	chk := newChecker(t, s)
	chk.checkApp(scenario.DemoAppID, publicURL)
	chk.checkConsent(scenario.DemoAppID)
	// The scenario's client secret is untouched and still works next to the new certificate.
	wantAllRoles(t, appOnlyRoles(t, s, secretCredential(t, s, scenario.DemoAppID, scenario.DemoSecretValue)))
	wantAllRoles(t, appOnlyRoles(t, s, certCredential(t, s, scenario.DemoAppID, chk.secret("app-certificate"))))

	// By app id, with another display name given: the same app, nothing to do.
	s.Metrics.Reset()
	var out2 bytes.Buffer
	o := options(s, "some other name", publicURL, "certificate", &out2)
	o.AppID = strings.ToUpper(scenario.DemoAppID)
	res2 := runOK(t, o, &out2)
	wantStatuses(t, res2, allUnchanged())
	if len(writes(s)) != 0 || res2.AppName != "tenantsync" {
		t.Errorf("by app id: writes %v, name %q", writes(s), res2.AppName)
	}
}

// TestGrantsMissingPermissions: an app whose service principal holds only some of the Graph
// permissions (and one it does not need) gets exactly the missing ones granted.
func TestGrantsMissingPermissions(t *testing.T) {
	t.Parallel()
	now := time.Now()
	f := scenario.DemoFile(now)
	f.App.Roles = []string{"User.Read.All", "Mail.Send", "Application.ReadWrite.All"}
	w, err := scenario.New(f, now)
	if err != nil {
		t.Fatal(err)
	}
	s := startSim(t, w)
	s.Metrics.Reset()
	var out bytes.Buffer
	res := runOK(t, options(s, "tenantsync", publicURL, "certificate", &out), &out)
	if st := statuses(res); st[register.ItemConsent] != register.Updated || st[register.ItemSP] != register.Unchanged || st[register.ItemPermissions] != register.Updated {
		t.Errorf("items %v", res.Items)
	}
	var grants int64
	for k, n := range writes(s) {
		if strings.HasSuffix(k, "/appRoleAssignedTo") {
			grants += n
		}
	}
	if want := int64(len(appperms.Graph) + len(appperms.PartnerApp) - 2); grants != want {
		t.Errorf("%d app role assignments created, want %d", grants, want)
	}
	d, _ := res.Item(register.ItemConsent)
	if strings.Contains(d.Detail, "User.Read.All") || !strings.Contains(d.Detail, "Group.Read.All") || !strings.Contains(d.Detail, "other 2 were granted") {
		t.Errorf("consent detail %q", d.Detail)
	}
	if !strings.Contains(out.String(), "Warning: the app also holds Graph permissions tenantsync does not need in the partner tenant: Application.ReadWrite.All") {
		t.Errorf("no warning about the extra permission:\n%s", out.String())
	}
	chk := newChecker(t, s)
	wantAllRoles(t, appOnlyRoles(t, s, certCredential(t, s, res.AppID, chk.secret("app-certificate"))))

	s.Metrics.Reset()
	var out2 bytes.Buffer
	res2 := runOK(t, options(s, "tenantsync", publicURL, "certificate", &out2), &out2)
	wantStatuses(t, res2, allUnchanged())
	if len(writes(s)) != 0 {
		t.Errorf("second run wrote %v", writes(s))
	}
}

// TestDeniedNamesTheRole: a token that may not manage apps gets Graph's 403; the error says
// which Entra role the admin needs, and nothing is written.
func TestDeniedNamesTheRole(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	s.Metrics.Reset()
	var out bytes.Buffer
	o := options(s, "tenantsync-denied", publicURL, "certificate", &out)
	o.GraphScopes = []string{"User.Read"}
	res, err := register.Run(ctxT(t), o)
	if err == nil {
		t.Fatalf("no error: %+v", res)
	}
	for _, w := range []string{"reading the app registrations", "Authorization_RequestDenied", "Application Administrator or Cloud Application Administrator"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
	if w := writes(s); len(w) != 0 {
		t.Errorf("a denied run wrote %v", w)
	}
}

// TestDuplicateNames: two registrations with the name: the run asks for --app-id and writes
// nothing.
func TestDuplicateNames(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	chk := newChecker(t, s)
	var ids []string
	for range 2 {
		app := models.NewApplication()
		name := "tenantsync-twice"
		app.SetDisplayName(&name)
		created, err := chk.graph.Applications().Post(ctxT(t), app, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *created.GetAppId())
	}
	s.Metrics.Reset()
	var out bytes.Buffer
	_, err := register.Run(ctxT(t), options(s, "tenantsync-twice", publicURL, "", &out))
	if err == nil || !strings.Contains(err.Error(), "2 app registrations are named \"tenantsync-twice\"") ||
		!strings.Contains(err.Error(), ids[0]) || !strings.Contains(err.Error(), ids[1]) || !strings.Contains(err.Error(), "--app-id") {
		t.Errorf("error %v", err)
	}
	if w := writes(s); len(w) != 0 {
		t.Errorf("wrote %v", w)
	}
	// An app id that does not exist is an error too, not a new registration.
	o := options(s, "tenantsync", publicURL, "", &out)
	o.AppID = "00000000-0000-0000-0000-000000000001"
	if _, err := register.Run(ctxT(t), o); err == nil || !strings.Contains(err.Error(), "no app registration with app id 00000000-0000-0000-0000-000000000001") {
		t.Errorf("unknown app id: %v", err)
	}
}

// TestSignInFailures: a cancelled sign-in and one blocked by Conditional Access end the run
// with Entra's reason and what to do, before anything is read or written.
func TestSignInFailures(t *testing.T) {
	t.Parallel()
	s := startSim(t, nil)
	for name, c := range map[string]struct {
		prompt func(context.Context, azidentity.DeviceCodeMessage) error
		want   []string
	}{
		"declined": {func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			return s.Entra.DeclineDeviceCode(m.UserCode)
		}, []string{"sign-in failed: the sign-in was cancelled", "AADSTS70020"}},
		"conditional access": {func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			return s.Entra.ApproveDeviceCode(m.UserCode, scenario.DemoBlockedUPN, true)
		}, []string{"Conditional Access blocked the sign-in", "AADSTS53003"}},
	} {
		t.Run(name, func(t *testing.T) {
			s.Metrics.Reset()
			var out bytes.Buffer
			o := options(s, "tenantsync", publicURL, "", &out)
			o.Prompt = c.prompt
			_, err := register.Run(ctxT(t), o)
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v lacks %q", err, w)
				}
			}
			if n := s.Metrics.Total("graph", "").Requests + s.Metrics.Total("keyvault", "").Requests; n != 0 {
				t.Errorf("%d Graph and Key Vault requests after a failed sign-in", n)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	good := register.Options{PartnerTenantID: scenario.DemoPartnerTenantID, PublicURL: publicURL, VaultURL: "https://kv.vault.azure.net/",
		Prompt: func(context.Context, azidentity.DeviceCodeMessage) error {
			t.Error("validation failures must not start a sign-in")
			return context.Canceled
		}}
	for name, c := range map[string]struct {
		edit func(*register.Options)
		want string
	}{
		"no tenant":       {func(o *register.Options) { o.PartnerTenantID = "" }, "partner tenant id is required"},
		"tenant not GUID": {func(o *register.Options) { o.PartnerTenantID = "contoso.onmicrosoft.com" }, "is not a GUID"},
		"no public URL":   {func(o *register.Options) { o.PublicURL = "" }, "--public-url"},
		"http public URL": {func(o *register.Options) { o.PublicURL = "http://tenantsync.example.com" }, "must use https"},
		"query in URL":    {func(o *register.Options) { o.PublicURL = publicURL + "?x=1" }, "must not carry a query"},
		"no vault":        {func(o *register.Options) { o.VaultURL = "" }, "--vault-url"},
		"http vault":      {func(o *register.Options) { o.VaultURL = "http://kv.vault.azure.net" }, "must be an https URL"},
		"bad credential":  {func(o *register.Options) { o.Credential = "password" }, `--credential must be "certificate"`},
		"bad app id":      {func(o *register.Options) { o.AppID = "tenantsync" }, "app id \"tenantsync\" is not a GUID"},
		"http authority":  {func(o *register.Options) { o.Endpoints.AuthorityHost = "http://login.example" }, "authority host"},
	} {
		t.Run(name, func(t *testing.T) {
			o := good
			c.edit(&o)
			_, err := register.Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestRedirectURIs(t *testing.T) {
	got := register.RedirectURIs("https://x.example")
	if !slices.Equal(got, []string{"https://x.example/api/connect/callback", "https://x.example/api/consent/callback", "https://x.example/.auth/login/aad/callback"}) {
		t.Errorf("%v", got)
	}
}

// The federated credential: created once, unchanged on a re-run, and it lets the Function App's
// managed identity sign the app in, with nothing stored in Key Vault.
func TestRegisterFederatedCredential(t *testing.T) {
	s := startSim(t, nil)
	var out bytes.Buffer
	o := options(s, "tenantsync-fed", "https://tsync.example.net", register.CredentialFederated, &out)
	o.FederatedSubject = s.Endpoints().ManagedIdentityObjectID
	res := runOK(t, o, &out)
	if it, ok := res.Item(register.ItemCredential); !ok || it.Status != register.Created || !strings.Contains(it.Detail, "federated") {
		t.Fatalf("credential item %+v\n%s", it, out.String())
	}
	if strings.Contains(out.String(), "BEGIN") {
		t.Error("a federated run printed key material")
	}
	before := writes(s)
	res2 := runOK(t, o, &out)
	if it, _ := res2.Item(register.ItemCredential); it.Status != register.Unchanged {
		t.Errorf("second run: credential %+v", it)
	}
	for k, n := range writes(s) {
		if n != before[k] {
			t.Errorf("second run wrote %s", k)
		}
	}
	// The managed identity's token is now the app's credential.
	ep := s.Endpoints()
	t.Setenv("IDENTITY_ENDPOINT", ep.ManagedIdentityEndpoint)
	t.Setenv("IDENTITY_HEADER", ep.ManagedIdentityHeader)
	mi, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := endpoints(s).ClientOptions()
	assert := func(ctx context.Context) (string, error) {
		tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"api://AzureADTokenExchange/.default"}})
		return tok.Token, err
	}
	cred, err := azidentity.NewClientAssertionCredential(ep.PartnerTenantID, res.AppID, assert, &azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	wantAllRoles(t, appOnlyRoles(t, s, cred))

	bad := options(s, "tenantsync-fed", "https://tsync.example.net", register.CredentialFederated, &out)
	if _, err := register.Run(ctxT(t), bad); err == nil || !strings.Contains(err.Error(), "--federated-identity") {
		t.Errorf("federated without an identity: %v", err)
	}
}
