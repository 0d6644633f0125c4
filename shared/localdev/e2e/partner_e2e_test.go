package e2e

// The partner connection end to end through the real processes: the funchost binary (the local
// Functions host) starting the handler binary, Azurite, and the Microsoft cloud simulator (Entra's
// authorize page and token endpoint, Key Vault reached with the managed identity). The browser's
// part is played by following the redirects by hand. No sleeps: every step waits on an answer.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/secrets"
	"github.com/tenantsync/tenantsync/shared/store"
)

type partnerStack struct {
	*stack
	vault   *secrets.KeyVault
	kv      *azsecrets.Client
	browser *http.Client

	mu      sync.Mutex
	answers []string
}

// startPartnerStack is startStack with JSON debug logs (scanned for tokens), plus the clients the
// test reads the vault and drives the browser with. PUBLIC_BASE_URL stays the sample's
// http://localhost:7071, the redirect URI registered on the demo app.
func startPartnerStack(t *testing.T) *partnerStack {
	t.Helper()
	st := startStackWith(t, stackOptions{settings: map[string]string{config.SettingLogFormat: "json", config.SettingLogLevel: "debug"}})
	s := &partnerStack{stack: st}
	ep := s.ep

	// The test reads the vault as an operator would: azsecrets with a credential the vault
	// accepts (the app's own, in the partner tenant).
	opts, err := ep.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewClientSecretCredential(ep.PartnerTenantID, scenario.DemoAppID, scenario.DemoSecretValue,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.vault, err = secrets.NewKeyVault(ep.KeyVaultURL, cred, ep.Endpoints); err != nil {
		t.Fatal(err)
	}
	if s.kv, err = azsecrets.NewClient(ep.KeyVaultURL, cred, &azsecrets.ClientOptions{ClientOptions: opts, DisableChallengeResourceVerification: true}); err != nil {
		t.Fatal(err)
	}
	if s.browser, err = ep.HTTPClient(); err != nil {
		t.Fatal(err)
	}
	s.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return s
}

// get calls the host (with the function key unless anonymous) without following redirects and
// keeps the answer for the secret scan.
func (s *partnerStack) request(method, path, body string, withKey bool) (int, http.Header, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if withKey {
		req.Header.Set("x-functions-key", s.key)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 2 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s.mu.Lock()
	s.answers = append(s.answers, resp.Header.Get("Location")+"\n"+string(b))
	s.mu.Unlock()
	return resp.StatusCode, resp.Header, string(b)
}

// signIn takes /api/connect's redirect to the simulator's authorize page, signs in as upn (with
// extra parameters such as sim_mfa) and returns the path and query Entra sent the browser back
// with, to be called on the host.
func (s *partnerStack) signIn(upn string, extra url.Values) string {
	s.t.Helper()
	status, h, body := s.request("GET", "/api/connect", "", true)
	if status != http.StatusFound {
		s.t.Fatalf("GET /api/connect: %d %s", status, body)
	}
	u, err := url.Parse(h.Get("Location"))
	if err != nil || !strings.HasPrefix(u.String(), strings.TrimRight(s.ep.AuthorityHost, "/")+"/"+s.ep.PartnerTenantID+"/oauth2/v2.0/authorize?") {
		s.t.Fatalf("GET /api/connect redirected to %q", h.Get("Location"))
	}
	q := u.Query()
	q.Set("sim_user", upn)
	for k, v := range extra {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	resp, err := s.browser.Get(u.String())
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || back.Scheme+"://"+back.Host+back.Path != "http://localhost:7071/api/connect/callback" {
		s.t.Fatalf("authorize as %s: %d to %q", upn, resp.StatusCode, resp.Header.Get("Location"))
	}
	return back.RequestURI()
}

func (s *partnerStack) partner() store.PartnerConnection {
	s.t.Helper()
	status, _, body := s.request("GET", "/api/partner", "", true)
	var pc store.PartnerConnection
	if status != http.StatusOK || json.Unmarshal([]byte(body), &pc) != nil {
		s.t.Fatalf("GET /api/partner: %d %s", status, body)
	}
	return pc
}

func (s *partnerStack) keepAlive() (int, string) {
	s.t.Helper()
	status, _, body := s.request("POST", "/admin/functions/PartnerKeepAlive?wait=true", `{"input":""}`, true)
	return status, body
}

// refreshTokens are every version of the stored refresh token (none: nil).
func (s *partnerStack) refreshTokens() []string {
	s.t.Helper()
	ctx := context.Background()
	var out []string
	pager := s.kv.NewListSecretPropertiesVersionsPager(identity.PartnerRefreshTokenSecret, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil
		}
		if err != nil {
			s.t.Fatal(err)
		}
		for _, p := range page.Value {
			v, err := s.kv.GetSecret(ctx, identity.PartnerRefreshTokenSecret, p.ID.Version(), nil)
			if err != nil {
				s.t.Fatal(err)
			}
			out = append(out, *v.Value)
		}
	}
	return out
}

// tokenShapedRe: JWTs (access and id tokens) and the simulator's refresh tokens.
var tokenShapedRe = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+|1\.A[A-Za-z0-9_-]{40,}`)

// scanForTokens fails when a refresh token (any version ever stored) or anything token-shaped
// appears in the host's and handler's output, in any row of any table of this test's Azurite,
// or in any answer the host gave.
func (s *partnerStack) scanForTokens() {
	s.t.Helper()
	rts := s.refreshTokens()
	if len(rts) == 0 {
		s.t.Fatal("scan: no refresh token was ever stored")
	}
	places := map[string]string{"host and handler output": s.output()}
	s.mu.Lock()
	for i, a := range s.answers {
		places["answer "+strconv.Itoa(i)] = a
	}
	s.mu.Unlock()
	ctx := context.Background()
	svc, err := aztables.NewServiceClientFromConnectionString(s.az, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	tables := 0
	tp := svc.NewListTablesPager(nil)
	for tp.More() {
		page, err := tp.NextPage(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, tb := range page.Tables {
			tables++
			var rows []string
			ep := svc.NewClient(*tb.Name).NewListEntitiesPager(nil)
			for ep.More() {
				p, err := ep.NextPage(ctx)
				if err != nil {
					s.t.Fatal(err)
				}
				for _, e := range p.Entities {
					rows = append(rows, string(e))
				}
			}
			places["table "+*tb.Name] = strings.Join(rows, "\n")
		}
	}
	if tables == 0 {
		s.t.Fatal("scan: Azurite has no tables")
	}
	for where, text := range places {
		for _, rt := range rts {
			if strings.Contains(text, rt) {
				s.t.Errorf("a refresh token appears in %s", where)
			}
		}
		if m := tokenShapedRe.FindString(text); m != "" {
			s.t.Errorf("something token-shaped (%d chars) appears in %s", len(m), where)
		}
	}
}

func TestPartnerConnectThroughHost(t *testing.T) {
	s := startPartnerStack(t)
	ctx := context.Background()

	// /api/connect needs the function key; the callback is anonymous and relies on the state.
	if status, _, _ := s.request("GET", "/api/connect", "", false); status != http.StatusUnauthorized {
		t.Errorf("GET /api/connect without a key: %d, want 401", status)
	}
	if pc := s.partner(); pc.Connected {
		t.Fatalf("connected before anyone signed in: %+v", pc)
	}

	// Rejected sign-ins store nothing: no MFA, a forged state.
	status, _, body := s.request("GET", s.signIn(scenario.DemoServiceAccountUPN, url.Values{"sim_mfa": {"false"}}), "", false)
	if status != http.StatusBadRequest || !strings.Contains(body, "multi-factor") {
		t.Errorf("callback without MFA: %d\n%s", status, body)
	}
	back := s.signIn(scenario.DemoServiceAccountUPN, nil)
	bu, _ := url.Parse(back)
	forged := bu.Query()
	forged.Set("state", "eyJwIjoiY29ubmVjdCJ9.AAAA")
	status, _, body = s.request("GET", bu.Path+"?"+forged.Encode(), "", false)
	if status != http.StatusBadRequest || !strings.Contains(body, "forged or altered") {
		t.Errorf("callback with a forged state: %d\n%s", status, body)
	}
	if rts := s.refreshTokens(); len(rts) != 0 {
		t.Errorf("%d refresh token(s) stored by rejected callbacks", len(rts))
	}
	if pc := s.partner(); pc.Connected {
		t.Errorf("connected by rejected callbacks: %+v", pc)
	}

	// The real sign-in: the page names the account, the refresh token is in Key Vault (read back
	// through azsecrets), the record says who and when.
	before := time.Now().Add(-time.Second)
	status, h, body := s.request("GET", back, "", false)
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, scenario.DemoServiceAccountUPN) {
		t.Fatalf("callback: %d %s\n%s", status, h.Get("Content-Type"), body)
	}
	rt1, err := s.vault.Get(ctx, identity.PartnerRefreshTokenSecret)
	if err != nil || rt1 == "" {
		t.Fatalf("refresh token in Key Vault: %v", err)
	}
	pc := s.partner()
	if !pc.Connected || pc.ConnectedBy != scenario.DemoServiceAccountUPN || pc.ConnectedAt.Before(before) || pc.ErrorCode != "" {
		t.Errorf("GET /api/partner after connecting: %+v", pc)
	}
	// Replaying the same callback is refused.
	if status, _, body := s.request("GET", back, "", false); status != http.StatusBadRequest || !strings.Contains(body, "already used") {
		t.Errorf("replayed callback: %d\n%s", status, body)
	}

	// The weekly timer rotates the refresh token.
	if status, body := s.keepAlive(); status != http.StatusOK {
		t.Fatalf("PartnerKeepAlive: %d %s", status, body)
	}
	rt2, _ := s.vault.Get(ctx, identity.PartnerRefreshTokenSecret)
	if rt2 == "" || rt2 == rt1 {
		t.Error("PartnerKeepAlive did not rotate the refresh token")
	}
	if pc := s.partner(); !pc.Connected || !pc.LastRefreshAt.After(pc.ConnectedAt) {
		t.Errorf("record after the keep-alive: %+v", pc)
	}

	// Revoked sessions (AADSTS50173): the timer fails and the record says to reconnect.
	if err := s.sim.Entra.RevokeUserSessions(scenario.DemoServiceAccountUPN); err != nil {
		t.Fatal(err)
	}
	status, body = s.keepAlive()
	if status != http.StatusInternalServerError || !strings.Contains(body, `"succeeded":false`) {
		t.Errorf("PartnerKeepAlive after revocation: %d %s, want a failed invocation", status, body)
	}
	pc = s.partner()
	if pc.Connected || pc.ErrorCode != "AADSTS50173" || !strings.Contains(pc.Remediation, "reconnect the partner account (/api/connect)") {
		t.Errorf("GET /api/partner after revocation: %+v", pc)
	}

	// Reconnecting recovers.
	if status, _, body := s.request("GET", s.signIn(scenario.DemoServiceAccountUPN, nil), "", false); status != http.StatusOK {
		t.Fatalf("reconnect: %d\n%s", status, body)
	}
	if pc := s.partner(); !pc.Connected || pc.ErrorCode != "" {
		t.Errorf("GET /api/partner after reconnecting: %+v", pc)
	}

	// Stopped, the host has relayed every line: the failed keep-alive says why and what to do,
	// and no token appears anywhere.
	s.stop()
	if out := s.output(); !strings.Contains(out, "ERROR: PartnerKeepAlive: AADSTS50173") || !strings.Contains(out, "reconnect the partner account (/api/connect)") {
		t.Error("the failed keep-alive's log does not say AADSTS50173 and to reconnect the partner account")
	}
	s.scanForTokens()
}
