package consent_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
	"github.com/tenantsync/tenantsync/shared/localdev/testkit"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/store"
)

// The package's tests share one empty storage account of the process-wide Azurite
// (devenv.AcquireAccount); each test empties it first, so every test sees only its own rows
// (tests here do not run in parallel).
var azuriteConn string

func TestMain(m *testing.M) { os.Exit(runWithAzurite(m)) }

func runWithAzurite(m *testing.M) int {
	acct, release, err := devenv.AcquireAccount(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "consent tests need Azurite:", err)
		return 1
	}
	defer release()
	azuriteConn = acct.ConnectionString()
	return m.Run()
}

const (
	mailFrom  = scenario.DemoServiceAccountUPN
	customer  = "admin@adventureworks.onmicrosoft.com"
	requester = "Alex Tech"
)

// signingKey is this test run's state key (random, so forged states cannot guess it).
var signingKey = func() []byte {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}()

// clock is a settable clock shared by the signer and the service.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time        { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) shift(d time.Duration) { c.off.Store(int64(d)) }
func (c *clock) reset()                { c.off.Store(0) }

// recordingCreds hands out the app's real credentials and remembers every token they issue, so
// tests can check a verification used a real app-only token and scan for leaked tokens.
type recordingCreds struct {
	inner identity.Credentials
	mu    sync.Mutex
	toks  []string
}

func (r *recordingCreds) For(tenantID string) (azcore.TokenCredential, error) {
	c, err := r.inner.For(tenantID)
	if err != nil {
		return nil, err
	}
	return recordingCred{c, r}, nil
}

// Forget passes through to the real credentials (identity.Forgetter).
func (r *recordingCreds) Forget(tenantID string) {
	if f, ok := r.inner.(identity.Forgetter); ok {
		f.Forget(tenantID)
	}
}

func (r *recordingCreds) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.toks...)
}

type recordingCred struct {
	c azcore.TokenCredential
	r *recordingCreds
}

func (c recordingCred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.c.GetToken(ctx, o)
	if err == nil {
		c.r.mu.Lock()
		c.r.toks = append(c.r.toks, tok.Token)
		c.r.mu.Unlock()
	}
	return tok, err
}

type env struct {
	t        testing.TB
	ctx      context.Context
	sim      *sim.Server
	ep       cloud.Endpoints
	st       *store.Store
	svc      *consent.Service
	opts     consent.Options
	q        *testkit.Queue
	logs     *testkit.LogBuffer
	creds    *recordingCreds
	clock    *clock
	pcTokens *[]string
	// graphToken is the service account's delegated Graph token for a customer tenant.
	graphToken consent.TenantTokenFunc
	report     *discovery.Report // the last discovery's
	public     string
	answers    []any // everything the flows answered, for the secret scan
}

type envOptions struct {
	noPartnerToken bool
	mailFrom       *string
}

func newEnv(t testing.TB) *env { return newEnvWith(t, envOptions{}) }

func newEnvWith(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resetTables(t, ctx)
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := &env{t: t, ctx: ctx, sim: s, ep: s.Endpoints().Endpoints, q: &testkit.Queue{}, logs: &testkit.LogBuffer{}, clock: &clock{}, public: "http://localhost:7071"}
	if e.st, err = store.Open(config.Tables{ConnectionString: azuriteConn}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	e.creds = &recordingCreds{inner: &identity.AppCredentials{ClientID: scenario.DemoAppID, Secret: scenario.DemoSecretValue, Endpoints: e.ep}}
	hc, err := e.ep.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	var pcToks []string
	e.pcTokens = &pcToks
	pc := &pcclient.Client{BaseURL: e.ep.PartnerCenterURL, HTTP: hc, Token: e.delegatedToken(t)}
	if o.noPartnerToken {
		pc.Token = func(context.Context) (string, error) {
			return "", fmt.Errorf("partner connection: not connected")
		}
	}
	signer, err := oauthstate.NewSigner(signingKey, e.clock.now)
	if err != nil {
		t.Fatal(err)
	}
	from := mailFrom
	if o.mailFrom != nil {
		from = *o.mailFrom
	}
	e.opts = consent.Options{
		Store: e.st, Queue: e.q, Credentials: e.creds, PartnerCenter: pc, Signer: signer, Consumer: e.st, Endpoints: e.ep,
		ClientID: scenario.DemoAppID, PartnerTenantID: scenario.DemoPartnerTenantID, PublicBaseURL: e.public, MailFrom: from, PartnerGraphToken: e.graphToken,
		LinkTTL: 7 * 24 * time.Hour, Now: e.clock.now, Log: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		VerifyAttempts: 3, VerifyBackoff: 10 * time.Millisecond,
	}
	e.svc = consent.New(e.opts)
	return e
}

// delegatedToken signs the partner's MFA service account in with azidentity's device code flow
// (approved on the simulator as the user would on their phone) and returns the Partner Center
// token source: what partner.Service.Token gives the handler once the partner is connected.
func (e *env) delegatedToken(t testing.TB) pcclient.TokenSource {
	opts, err := e.ep.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: opts, TenantID: scenario.DemoPartnerTenantID, ClientID: scenario.DemoAppID, DisableInstanceDiscovery: true,
		AdditionallyAllowedTenants: []string{"*"},
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			return e.sim.Entra.ApproveDeviceCode(m.UserCode, scenario.DemoServiceAccountUPN, true)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	// The same signed-in service account's delegated Graph token for a customer tenant (its
	// refresh token redeemed at that tenant), what partner.Service.TokenIn gives the handler.
	e.graphToken = func(ctx context.Context, tenantID string) (string, error) {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cloud.GraphScope}, TenantID: tenantID})
		if err != nil {
			return "", err
		}
		mu.Lock()
		*e.pcTokens = append(*e.pcTokens, tok.Token)
		mu.Unlock()
		return tok.Token, nil
	}
	return func(ctx context.Context) (string, error) {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cloud.PartnerCenterScope}})
		if err != nil {
			return "", err
		}
		mu.Lock()
		*e.pcTokens = append(*e.pcTokens, tok.Token)
		mu.Unlock()
		return tok.Token, nil
	}
}

// resetTables deletes every table of the shared Azurite, so the test starts empty.
func resetTables(t testing.TB, ctx context.Context) {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(azuriteConn, nil)
	if err != nil {
		t.Fatal(err)
	}
	pager := svc.NewListTablesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range page.Tables {
			if _, err := svc.DeleteTable(ctx, *tb.Name, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// discover runs the real discovery against the simulator, which fills the Tenants table.
func (e *env) discover() {
	e.t.Helper()
	hc, err := e.ep.HTTPClient()
	if err != nil {
		e.t.Fatal(err)
	}
	appPC := &pcclient.Client{BaseURL: e.ep.PartnerCenterURL, HTTP: hc, Token: func(ctx context.Context) (string, error) {
		cred, err := e.creds.For(scenario.DemoPartnerTenantID)
		if err != nil {
			return "", err
		}
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cloud.PartnerCenterAppScope}})
		return tok.Token, err
	}}
	d := &discovery.Discoverer{Store: e.st, Credentials: e.creds, Endpoints: e.ep, PartnerTenantID: scenario.DemoPartnerTenantID, PartnerCenter: appPC, Log: e.opts.Log,
		PartnerGraph: e.graphToken}
	rep, err := d.Run(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	e.report = rep
}

func (e *env) tenant(id string) domain.Tenant {
	e.t.Helper()
	tn, err := e.st.GetTenant(e.ctx, id)
	if err != nil {
		e.t.Fatalf("tenant %s: %v", id, err)
	}
	return tn
}

// rows snapshots every entity of every table (for "nothing stored" and the secret scan).
func (e *env) rows() map[string]string {
	e.t.Helper()
	return allRows(e.t, e.ctx)
}

func allRows(t testing.TB, ctx context.Context) map[string]string {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(azuriteConn, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	pager := svc.NewListTablesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range page.Tables {
			ep := svc.NewClient(*tb.Name).NewListEntitiesPager(nil)
			for ep.More() {
				p, err := ep.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, raw := range p.Entities {
					var m map[string]any
					_ = json.Unmarshal(raw, &m)
					out[fmt.Sprintf("%s/%v/%v", *tb.Name, m["PartitionKey"], m["RowKey"])] = string(raw)
				}
			}
		}
	}
	return out
}

func sameRows(t testing.TB, before, after map[string]string, what string) {
	t.Helper()
	if len(before) != len(after) {
		var added []string
		for k := range after {
			if _, ok := before[k]; !ok {
				added = append(added, k)
			}
		}
		sort.Strings(added)
		t.Errorf("%s stored something: %d rows before, %d after; new: %v", what, len(before), len(after), added)
		return
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed row %s:\nbefore %s\nafter  %s", what, k, v, after[k])
		}
	}
}

// outbox is the simulator's sent mail.
func (e *env) outbox() []mailOut {
	var out []mailOut
	for _, m := range e.sim.Graph.Outbox() {
		out = append(out, mailOut{TenantID: m.TenantID, From: m.From, To: m.To, Subject: m.Subject, HTML: m.HTML, Text: m.Text})
	}
	return out
}

type mailOut struct {
	TenantID, From, Subject, HTML, Text string
	To                                  []string
}

var linkRe = regexp.MustCompile(`https://[^\s"<>()]+/adminconsent\?[^\s"<>()]+`)

// link is the admin-consent link in a mail's text.
func (e *env) link(m mailOut) string {
	e.t.Helper()
	l := linkRe.FindString(m.Text)
	if l == "" {
		e.t.Fatalf("no admin-consent link in the mail's text:\n%s", m.Text)
	}
	return l
}

// follow opens the consent link as the customer's admin would, choosing approve or deny
// non-interactively, and returns the query Entra redirects back to our callback with.
func (e *env) follow(link, action string) url.Values {
	e.t.Helper()
	hc, err := e.ep.HTTPClient()
	if err != nil {
		e.t.Fatal(err)
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(link + "&sim_action=" + action)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("consent page answered %d, want 302 back to the callback", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	if want := e.public + consent.CallbackPath; loc.Scheme+"://"+loc.Host+loc.Path != want {
		e.t.Fatalf("redirect to %s, want %s", loc, want)
	}
	return loc.Query()
}

// answer records something a flow answered, for the secret scan.
func (e *env) answer(v any) { e.answers = append(e.answers, v) }

var jwtRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+`)

// leaks lists the secrets found in text: the app secret, the state signing key, any token
// issued during the test, and anything shaped like a JWT.
func (e *env) leaks(where, text string) []string {
	secrets := map[string]string{
		"the app's client secret":     scenario.DemoSecretValue,
		"the state signing key":       base64.StdEncoding.EncodeToString(signingKey),
		"the state signing key (raw)": string(signingKey),
	}
	for i, tok := range e.creds.tokens() {
		secrets[fmt.Sprintf("app-only token #%d", i)] = tok
	}
	for i, tok := range *e.pcTokens {
		secrets[fmt.Sprintf("delegated Partner Center token #%d", i)] = tok
	}
	var out []string
	for name, v := range secrets {
		if v != "" && strings.Contains(text, v) {
			out = append(out, where+" contains "+name)
		}
	}
	if m := jwtRe.FindString(text); m != "" {
		out = append(out, where+" contains a JWT ("+m[:min(len(m), 24)]+"...)")
	}
	return out
}

// scanSecrets fails the test if a secret appears in the captured logs, any Table Storage row,
// or an answer the flows gave.
func (e *env) scanSecrets() {
	e.t.Helper()
	if len(e.creds.tokens()) == 0 {
		e.t.Error("no app-only token was issued during the test: the scan would prove nothing")
	}
	var found []string
	found = append(found, e.leaks("the logs", e.logs.String())...)
	for k, v := range e.rows() {
		found = append(found, e.leaks("table row "+k, v)...)
	}
	for i, a := range e.answers {
		b, _ := json.Marshal(a)
		found = append(found, e.leaks(fmt.Sprintf("answer #%d", i), string(b)+fmt.Sprintf("%+v", a))...)
	}
	for _, f := range found {
		e.t.Error("secret leaked: " + f)
	}
}

// claims verifies a token with the simulator's issuer.
func (e *env) claims(raw string) *token.Claims {
	e.t.Helper()
	c, err := e.sim.Issuer.Verify(raw)
	if err != nil {
		e.t.Fatalf("token does not verify: %v", err)
	}
	return c
}

// appTokenFor says whether an app-only Graph token for tenantID was issued through the
// service's credentials.
func (e *env) appTokenFor(tenantID string) bool {
	for _, raw := range e.creds.tokens() {
		c := e.claims(raw)
		if strings.EqualFold(c.TenantID, tenantID) && c.IsApp() && c.AudienceMatches(scenario.GraphAudience, scenario.GraphAppID) {
			return true
		}
	}
	return false
}
