package partner_test

// The harness runs the partner connection against the real parts: Azurite (Table Storage through
// aztables), the Microsoft cloud simulator (Entra's authorize page and token endpoint, Key Vault
// through azsecrets) and plain HTTP, exactly as cmd/handler wires it. Each test gets its own
// empty Azurite storage account and simulator, so the single partner record and the vault are the
// test's own.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/testkit"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/partner"
	"github.com/tenantsync/tenantsync/shared/secrets"
	"github.com/tenantsync/tenantsync/shared/store"
)

// publicBaseURL is PUBLIC_BASE_URL of local.settings.sample.json; the demo app registers
// publicBaseURL + /api/connect/callback.
const publicBaseURL = "http://localhost:7071"

// clock is the service's and the signer's clock: real time plus an offset tests move forward
// (the simulator keeps real time, so tokens it issues stay valid).
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// countingTransport counts the service's requests to Entra's token endpoint.
type countingTransport struct {
	next  http.RoundTripper
	token atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		c.token.Add(1)
	}
	return c.next.RoundTrip(r)
}

type harness struct {
	t       *testing.T
	sim     *sim.Server
	ep      sim.Endpoints
	tables  string // connection string
	store   *store.Store
	vault   *secrets.KeyVault
	kv      *azsecrets.Client
	signer  *oauthstate.Signer
	clock   *clock
	logs    *testkit.LogBuffer
	svc     *partner.Service
	redeems *countingTransport
	browser *http.Client // follows nothing: each redirect is inspected

	mu      sync.Mutex
	answers []string // everything the flows answered (URLs, records, errors), for the secret scan
	access  []string // every access token Token returned
}

// signingKey is 32 bytes, like STATE_SIGNING_KEY.
var signingKey = []byte("partner-test-state-signing-key-0123456789")

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	az, release, err := devenv.AcquireAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	h := &harness{t: t, sim: s, ep: s.Endpoints(), tables: az.ConnectionString(), clock: &clock{}, logs: &testkit.LogBuffer{}}
	if h.store, err = store.Open(config.Tables{ConnectionString: h.tables}, nil); err != nil {
		t.Fatal(err)
	}
	// The vault accepts tokens of the partner tenant for https://vault.azure.net: the app's own
	// client-secret credential there (in Azure it is the Function App's managed identity).
	opts, err := h.ep.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewClientSecretCredential(h.ep.PartnerTenantID, scenario.DemoAppID, scenario.DemoSecretValue,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	if h.vault, err = secrets.NewKeyVault(h.ep.KeyVaultURL, cred, h.ep.Endpoints); err != nil {
		t.Fatal(err)
	}
	if h.kv, err = azsecrets.NewClient(h.ep.KeyVaultURL, cred, &azsecrets.ClientOptions{ClientOptions: opts, DisableChallengeResourceVerification: true}); err != nil {
		t.Fatal(err)
	}
	if h.signer, err = oauthstate.NewSigner(signingKey, h.clock.Now); err != nil {
		t.Fatal(err)
	}
	hc, err := h.ep.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	h.redeems = &countingTransport{next: hc.Transport}
	h.svc = partner.New(partner.Options{Store: h.store, Vault: h.vault, Signer: h.signer, Consumer: h.store, Endpoints: h.ep.Endpoints,
		PartnerTenantID: h.ep.PartnerTenantID, ClientID: scenario.DemoAppID, ClientSecret: scenario.DemoSecretValue,
		PublicBaseURL: publicBaseURL, Now: h.clock.Now, Log: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTPClient: &http.Client{Transport: h.redeems, Timeout: time.Minute}})
	if h.browser, err = h.ep.HTTPClient(); err != nil {
		t.Fatal(err)
	}
	h.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log (tokens redacted):\n%s", redact(h.logs.String()))
		}
	})
	return h
}

func (h *harness) answer(v any) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case error:
		s = x.Error()
	default:
		b, _ := json.Marshal(x)
		s = string(b)
	}
	h.mu.Lock()
	h.answers = append(h.answers, s)
	h.mu.Unlock()
}

// connectURL is the service's /api/connect redirect target.
func (h *harness) connectURL() string {
	h.t.Helper()
	u, err := h.svc.ConnectURL(context.Background(), "admin@contosomsp.onmicrosoft.com")
	if err != nil {
		h.t.Fatal(err)
	}
	h.answer(u)
	return u
}

// authorize drives the simulator's authorize page non-interactively (sim_user, sim_mfa) as the
// browser would and returns the query Entra redirected back to our callback with.
func (h *harness) authorize(authorizeURL, upn string, extra url.Values) url.Values {
	h.t.Helper()
	u, err := url.Parse(authorizeURL)
	if err != nil {
		h.t.Fatal(err)
	}
	q := u.Query()
	q.Set("sim_user", upn)
	for k, v := range extra {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	resp, err := h.browser.Get(u.String())
	if err != nil {
		h.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		h.t.Fatalf("authorize as %s: %d, want a 302 back to the app:\n%.800s", upn, resp.StatusCode, body)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		h.t.Fatal(err)
	}
	if got := back.Scheme + "://" + back.Host + back.Path; got != publicBaseURL+partner.CallbackPath {
		h.t.Fatalf("Entra redirected to %s, want the callback %s", got, publicBaseURL+partner.CallbackPath)
	}
	return back.Query()
}

// callback calls the service's Callback and records what it answered.
func (h *harness) callback(q url.Values) (store.PartnerConnection, error) {
	h.t.Helper()
	rec, err := h.svc.Callback(context.Background(), q)
	h.answer(rec)
	if err != nil {
		h.answer(err)
	}
	return rec, err
}

// connect runs the whole connect flow as upn and requires success.
func (h *harness) connect(upn string) store.PartnerConnection {
	h.t.Helper()
	rec, err := h.callback(h.authorize(h.connectURL(), upn, nil))
	if err != nil {
		h.t.Fatalf("connect as %s: %v", upn, err)
	}
	return rec
}

// token calls Token and keeps the access token for the scan.
func (h *harness) token(scope string) (string, error) {
	tok, err := h.svc.Token(context.Background(), scope)
	if err != nil {
		h.answer(err)
	} else {
		h.mu.Lock()
		h.access = append(h.access, tok)
		h.mu.Unlock()
	}
	return tok, err
}

// refreshToken reads the stored refresh token back through secrets.KeyVault (azsecrets).
func (h *harness) refreshToken() (string, error) {
	return h.vault.Get(context.Background(), identity.PartnerRefreshTokenSecret)
}

// refreshTokenVersions are every value the vault ever held for the refresh token, oldest last.
func (h *harness) refreshTokenVersions() []string {
	h.t.Helper()
	ctx := context.Background()
	var out []string
	pager := h.kv.NewListSecretPropertiesVersionsPager(identity.PartnerRefreshTokenSecret, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil
		}
		if err != nil {
			h.t.Fatal(err)
		}
		for _, p := range page.Value {
			s, err := h.kv.GetSecret(ctx, identity.PartnerRefreshTokenSecret, p.ID.Version(), nil)
			if err != nil {
				h.t.Fatal(err)
			}
			out = append(out, *s.Value)
		}
	}
	return out
}

// record reads the partner record.
func (h *harness) record() store.PartnerConnection {
	h.t.Helper()
	rec, err := h.svc.Status(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	h.answer(rec)
	return rec
}

// tableRows returns every row of every table in this test's Azurite, as raw JSON.
func (h *harness) tableRows() map[string][]string {
	h.t.Helper()
	ctx := context.Background()
	svc, err := aztables.NewServiceClientFromConnectionString(h.tables, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	rows := map[string][]string{}
	tp := svc.NewListTablesPager(nil)
	for tp.More() {
		page, err := tp.NextPage(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, tb := range page.Tables {
			name := *tb.Name
			rows[name] = []string{}
			ep := svc.NewClient(name).NewListEntitiesPager(nil)
			for ep.More() {
				p, err := ep.NextPage(ctx)
				if err != nil {
					h.t.Fatal(err)
				}
				for _, e := range p.Entities {
					rows[name] = append(rows[name], string(e))
				}
			}
		}
	}
	return rows
}

// assertNothingStored: no refresh token in the vault, no partner record, and (when a code was
// never to be redeemed) no request to the token endpoint.
func (h *harness) assertNothingStored(redeemsBefore int64, redeemAllowed bool) {
	h.t.Helper()
	if v := h.refreshTokenVersions(); len(v) != 0 {
		h.t.Errorf("the vault holds %d refresh token version(s) after a rejected callback", len(v))
	}
	if rows := h.tableRows()[store.TablePartner]; len(rows) != 0 {
		h.t.Errorf("the Partner table has %d row(s) after a rejected callback", len(rows))
	}
	if rec := h.record(); rec.Connected {
		h.t.Errorf("partner marked connected after a rejected callback: %+v", rec)
	}
	if n := h.redeems.token.Load() - redeemsBefore; !redeemAllowed && n != 0 {
		h.t.Errorf("the service called the token endpoint %d time(s) for a callback it must refuse first", n)
	}
}

// jwtRe finds anything shaped like a JWT (access and id tokens).
var jwtRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+`)

// refreshShapeRe finds the simulator's refresh tokens ("1.A" and 96 base64url characters).
var refreshShapeRe = regexp.MustCompile(`1\.A[A-Za-z0-9_-]{40,}`)

// redact hides token-shaped text in failure output.
func redact(s string) string {
	return refreshShapeRe.ReplaceAllString(jwtRe.ReplaceAllString(s, "[jwt redacted]"), "[token redacted]")
}

// scanForSecrets fails the test when a refresh token (every version the vault ever held), an
// access token Token returned, or anything JWT-shaped appears in the service's logs, in any row
// of any table of this test's Azurite, or in any answer the flows gave.
func (h *harness) scanForSecrets() {
	h.t.Helper()
	h.mu.Lock()
	secretsSeen := append(h.refreshTokenVersions(), h.access...)
	answers := append([]string(nil), h.answers...)
	h.mu.Unlock()
	if len(secretsSeen) == 0 {
		h.t.Fatal("scan: no secrets to look for (the test never connected)")
	}
	places := map[string]string{"service log": h.logs.String()}
	for i, a := range answers {
		places["answer "+strconv.Itoa(i)] = a
	}
	for table, rows := range h.tableRows() {
		places["table "+table] = strings.Join(rows, "\n")
	}
	for where, text := range places {
		for _, sec := range secretsSeen {
			if sec != "" && strings.Contains(text, sec) {
				h.t.Errorf("a token (%d chars) appears in %s", len(sec), where)
			}
		}
		if m := jwtRe.FindString(text); m != "" {
			h.t.Errorf("a JWT (%d chars) appears in %s", len(m), where)
		}
		if m := refreshShapeRe.FindString(text); m != "" {
			h.t.Errorf("something shaped like a refresh token (%d chars) appears in %s", len(m), where)
		}
	}
}

// stateClaims decodes a state's (signed, not secret) payload.
func stateClaims(t *testing.T, state string) oauthstate.Claims {
	t.Helper()
	payload, _, _ := strings.Cut(state, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var c oauthstate.Claims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// jwtPayload decodes a JWT's claims (for assertions on what Entra issued).
func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT (%d parts)", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
