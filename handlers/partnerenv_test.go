package handlers

// The partner connection's HTTP and timer surface, against Azurite and the Microsoft cloud
// simulator (real aztables, azsecrets and HTTP), through the same mux the handler serves.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

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

type partnerEnv struct {
	sim     *sim.Server
	ep      sim.Endpoints
	tables  string
	store   *store.Store
	vault   *secrets.KeyVault
	signer  *oauthstate.Signer
	svc     *partner.Service
	mux     http.Handler
	logs    *testkit.LogBuffer
	browser *http.Client
}

const adminGroup = "6a1f3c0e-2d4b-4e8f-9a7c-1b2d3e4f5a6b"

func newPartnerEnv(tb testing.TB) *partnerEnv { return newPartnerEnvOn(tb, "") }

// newPartnerEnvOn uses the Table Storage at connection string tables, or a new Azurite when empty.
func newPartnerEnvOn(tb testing.TB, tables string) *partnerEnv {
	tb.Helper()
	if tables == "" {
		az, err := devenv.StartAzurite(context.Background(), "", nil)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(az.Stop)
		tables = az.ConnectionString()
	}
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	e := &partnerEnv{sim: s, ep: s.Endpoints(), logs: &testkit.LogBuffer{}, tables: tables}
	if e.store, err = store.Open(config.Tables{ConnectionString: tables}, nil); err != nil {
		tb.Fatal(err)
	}
	opts, err := e.ep.ClientOptions()
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := azidentity.NewClientSecretCredential(e.ep.PartnerTenantID, scenario.DemoAppID, scenario.DemoSecretValue,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		tb.Fatal(err)
	}
	if e.vault, err = secrets.NewKeyVault(e.ep.KeyVaultURL, cred, e.ep.Endpoints); err != nil {
		tb.Fatal(err)
	}
	if e.signer, err = oauthstate.NewSigner([]byte("handlers-test-state-signing-key-0123456789"), nil); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.svc = partner.New(partner.Options{Store: e.store, Vault: e.vault, Signer: e.signer, Consumer: e.store, Endpoints: e.ep.Endpoints,
		PartnerTenantID: e.ep.PartnerTenantID, ClientID: scenario.DemoAppID, ClientSecret: scenario.DemoSecretValue,
		PublicBaseURL: "http://localhost:7071", Log: log})
	e.mux = New(Deps{Store: e.store, Partner: e.svc, Log: log, Now: time.Now, AdminGroupID: adminGroup, AppServiceAuth: true, PublicBaseURL: "http://localhost:7071"})
	if e.browser, err = e.ep.HTTPClient(); err != nil {
		tb.Fatal(err)
	}
	e.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return e
}

// serve sends one request through the handler's mux.
func (e *partnerEnv) serve(method, target string, header http.Header, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", strings.NewReader(body))
	u, _ := url.Parse(target)
	req.URL.Path, req.URL.RawQuery = u.Path, u.RawQuery
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	return rec
}

// signIn follows an authorize URL through the simulator's non-interactive sign-in and returns
// the path and query of the redirect back to our callback.
func (e *partnerEnv) signIn(tb testing.TB, authorizeURL, upn string) string {
	tb.Helper()
	resp, err := e.browser.Get(authorizeURL + "&sim_user=" + url.QueryEscape(upn))
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Path != "/api/connect/callback" {
		tb.Fatalf("authorize as %s: %d to %q", upn, resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.RequestURI()
}

func principal(name string, groups ...string) string {
	claims := []map[string]string{{"typ": "name", "val": name}}
	for _, g := range groups {
		claims = append(claims, map[string]string{"typ": "groups", "val": g})
	}
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": "name", "claims": claims})
	return base64.StdEncoding.EncodeToString(b)
}

// connectPartner signs the demo service account in (GET /api/connect, the simulator's sign-in,
// the callback) and returns the answers, for noTokens.
func (e *partnerEnv) connectPartner(tb testing.TB) []string {
	tb.Helper()
	r := e.serve("GET", "/api/connect", nil, "")
	back := e.signIn(tb, r.Header().Get("Location"), scenario.DemoServiceAccountUPN)
	cb := e.serve("GET", back, nil, "")
	if cb.Code != http.StatusOK {
		tb.Fatalf("callback: %d %s", cb.Code, cb.Body)
	}
	return []string{r.Header().Get("Location"), cb.Body.String()}
}

// noTokens fails if one of tokens, or anything shaped like a JWT or an Entra refresh token,
// appears in the answers or the logs.
func (e *partnerEnv) noTokens(tb testing.TB, answers []string, tokens ...string) {
	tb.Helper()
	for i, a := range append(answers, e.logs.String()) {
		for _, tok := range tokens {
			if tok != "" && strings.Contains(a, tok) {
				tb.Errorf("answer %d contains a refresh token", i)
			}
		}
		if m := tokenShapes.FindString(a); m != "" {
			tb.Errorf("answer %d contains something token-shaped (%d chars)", i, len(m))
		}
	}
}

// consoleAdmin is App Service Authentication's principal header for a console user: the console
// needs the object id (oid) as well as the name.
func consoleAdmin(name string, groups ...string) http.Header {
	claims := []map[string]string{{"typ": "oid", "val": "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"}, {"typ": "name", "val": name}}
	for _, g := range groups {
		claims = append(claims, map[string]string{"typ": "groups", "val": g})
	}
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": "name", "claims": claims})
	return http.Header{"X-Ms-Client-Principal": {base64.StdEncoding.EncodeToString(b)}}
}

var tokenShapes = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+|1\.A[A-Za-z0-9_-]{40,}`)

func stateOf(tb testing.TB, location string) (string, oauthstate.Claims) {
	tb.Helper()
	u, err := url.Parse(location)
	if err != nil {
		tb.Fatal(err)
	}
	st := u.Query().Get("state")
	payload, _, _ := strings.Cut(st, ".")
	b, _ := base64.RawURLEncoding.DecodeString(payload)
	var c oauthstate.Claims
	_ = json.Unmarshal(b, &c)
	return st, c
}

// fuzzTablesEnv hands the coordinator's Azurite to the fuzz workers (they inherit its environment).
const fuzzTablesEnv = "TENANTSYNC_FUZZ_PARTNER_TABLES"

// FuzzConnectCallback feeds arbitrary query strings to the anonymous callback: it never panics,
// never answers 200, never echoes markup unescaped, and never connects the partner account or
// stores a refresh token.
func FuzzConnectCallback(f *testing.F) {
	// Fuzz workers are separate processes that can be stopped without running cleanups: they
	// share the Azurite the first process (the coordinator, or the only one under go test)
	// started, instead of each leaving an orphaned Azurite behind. Each has its own simulator
	// (in process). The invariant holds for the shared partner record just the same.
	tables := os.Getenv(fuzzTablesEnv)
	e := newPartnerEnvOn(f, tables)
	if tables == "" {
		f.Setenv(fuzzTablesEnv, e.tables)
	}
	fresh := func() (string, string) {
		r := e.serve("GET", "/api/connect", nil, "")
		u, _ := url.Parse(r.Header().Get("Location"))
		return u.String(), u.Query().Get("state")
	}
	// Seeds: valid states with a made-up code, with a real code of a sign-in without MFA, with an
	// Entra error; forged, truncated and repeated states; hostile encodings.
	_, st1 := fresh()
	f.Add("code=made-up&state=" + url.QueryEscape(st1))
	authz, _ := fresh()
	nomfa := e.signIn(f, authz, scenario.DemoNoMFAUPN)
	f.Add(strings.TrimPrefix(nomfa[strings.IndexByte(nomfa, '?'):], "?"))
	_, st3 := fresh()
	f.Add("error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=" + url.QueryEscape(st3))
	_, st4 := fresh()
	f.Add("code=x&state=" + url.QueryEscape(st4[:len(st4)-2]))
	f.Add("code=x&state=" + url.QueryEscape(st4) + "&state=" + url.QueryEscape(st4))
	f.Add("")
	f.Add("state=")
	f.Add("code=&state=&error=")
	f.Add("state=%ZZ&code=%00")
	f.Add("error=%3Cimg%20src=x%3E&state=a.b")
	f.Add(strings.Repeat("a=b&", 500))
	f.Add("state=" + strings.Repeat("A", 3000) + ".x")
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/api/connect/callback", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		e.mux.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d for %q, want 400:\n%s", rec.Code, raw, body)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("content type %q", rec.Header().Get("Content-Type"))
		}
		if bytes.Contains(bytes.ToLower(body), []byte("<script")) || bytes.Contains(bytes.ToLower(body), []byte("<img")) {
			t.Fatalf("markup from the query reached the page unescaped:\n%s", body)
		}
		ctx := context.Background()
		if st, err := e.svc.Status(ctx); err != nil || st.Connected {
			t.Fatalf("partner connected (%v) after %q", err, raw)
		}
		if _, err := e.vault.Get(ctx, identity.PartnerRefreshTokenSecret); err == nil {
			t.Fatalf("a refresh token was stored after %q", raw)
		}
	})
}
