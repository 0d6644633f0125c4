package keyvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/metrics"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

const (
	vaultTenant = "5ce257ad-9315-420b-900a-9d770d9cda65"
	otherTenant = "bd2eafde-0c11-45a3-b940-a212c5b951d3"
)

type fixture struct {
	srv     *httptest.Server
	svc     *Service
	issuer  *token.Issuer
	metrics *metrics.Recorder
	clock   *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{metrics: metrics.New(), clock: &clock{t: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}}
	var err error
	if f.issuer, err = token.New("https://127.0.0.1:1", f.clock.now); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.svc.ServeHTTP(w, r) }))
	t.Cleanup(f.srv.Close)
	f.svc = New(Options{Issuer: f.issuer, Metrics: f.metrics, VaultURL: f.srv.URL + "/", TenantID: vaultTenant})
	return f
}

func (f *fixture) token(t *testing.T, tid, aud string) string {
	t.Helper()
	c := token.Claims{TenantID: tid, ObjectID: "5f0c0d8e-6b2a-4c59-9d51-3a7e2f1b0c01", IDType: "app"}
	c.Audience = []string{aud}
	raw, err := f.issuer.Sign(c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// do sends a raw request; tok "" sends none.
func (f *fixture) do(t *testing.T, method, path, tok, body string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, res.Header, m
}

func errCode(m map[string]any) (string, string) {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	return c, msg
}

// credential mints simulator tokens for whatever the challenge asked, recording the requests,
// so the real azsecrets challenge policy is exercised without the Entra face.
type credential struct {
	f      *fixture
	t      *testing.T
	tenant string // "" = the tenant from the challenge
	mu     sync.Mutex
	asked  []policy.TokenRequestOptions
}

func (c *credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.asked = append(c.asked, o)
	c.mu.Unlock()
	tid := c.tenant
	if tid == "" {
		tid = o.TenantID
	}
	aud := strings.TrimSuffix(o.Scopes[0], "/.default")
	return azcore.AccessToken{Token: c.f.token(c.t, tid, aud), ExpiresOn: c.f.clock.now().Add(time.Hour)}, nil
}

func (f *fixture) client(t *testing.T, cred azcore.TokenCredential) *azsecrets.Client {
	t.Helper()
	c, err := azsecrets.NewClient(f.srv.URL+"/", cred, &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: f.srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
		// The challenge names https://vault.azure.net while the vault listens on 127.0.0.1, so the
		// SDK's host-suffix check cannot pass; TLS is still verified by the transport.
		DisableChallengeResourceVerification: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChallengeShapeParsedByAzsecrets(t *testing.T) {
	f := newFixture(t)
	status, h, m := f.do(t, "GET", "/secrets/x?api-version=7.6", "", "")
	if status != 401 {
		t.Fatalf("status %d", status)
	}
	want := fmt.Sprintf(`Bearer authorization="%s/%s", resource="https://vault.azure.net"`, f.issuer.Authority(), vaultTenant)
	if got := h.Get("WWW-Authenticate"); got != want {
		t.Fatalf("challenge %q, want %q", got, want)
	}
	if c, msg := errCode(m); c != "Unauthorized" || !strings.Contains(msg, "AKV10000") {
		t.Fatalf("body %v", m)
	}

	cred := &credential{f: f, t: t}
	c := f.client(t, cred)
	if _, err := c.SetSecret(context.Background(), "first", azsecrets.SetSecretParameters{Value: to.Ptr("v1")}, nil); err != nil {
		t.Fatal(err)
	}
	if len(cred.asked) != 1 || cred.asked[0].TenantID != vaultTenant || len(cred.asked[0].Scopes) != 1 || cred.asked[0].Scopes[0] != "https://vault.azure.net/.default" {
		t.Fatalf("token requests %+v", cred.asked)
	}
	// The first PUT went out without a token (and without its body) and was challenged; the
	// retry succeeded, so the metrics hold one 401 and one 200 for the same endpoint.
	rows := f.metrics.Rows()
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %d/%d", r.Endpoint, r.Requests, r.Errors))
	}
	if len(rows) != 2 || rows[1].Endpoint != "PUT /secrets/{name}" || rows[1].Requests != 2 || rows[1].Errors != 1 {
		t.Fatalf("metrics %v", got)
	}
}

func TestWithoutResourceVerificationOptOutTheSDKRefuses(t *testing.T) {
	// Documents why clients need DisableChallengeResourceVerification against a loopback vault.
	f := newFixture(t)
	c, _ := azsecrets.NewClient(f.srv.URL+"/", &credential{f: f, t: t}, &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: f.srv.Client()},
	})
	_, err := c.GetSecret(context.Background(), "x", "", nil)
	if err == nil || !strings.Contains(err.Error(), "doesn't match the requested domain") {
		t.Fatalf("err %v", err)
	}
}

func TestSDKLifecycle(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, &credential{f: f, t: t})
	ctx := context.Background()
	s1, err := c.SetSecret(ctx, "refresh-token", azsecrets.SetSecretParameters{Value: to.Ptr("one"), ContentType: to.Ptr("text/plain"), Tags: map[string]*string{"tenant": to.Ptr("partner")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *s1.Value != "one" || s1.ID.Name() != "refresh-token" || len(s1.ID.Version()) != 32 || *s1.Attributes.RecoveryLevel != "Recoverable+Purgeable" || *s1.Attributes.RecoverableDays != 90 || !*s1.Attributes.Enabled {
		t.Fatalf("bundle %+v %+v", s1, s1.Attributes)
	}
	if !strings.HasPrefix(string(*s1.ID), f.srv.URL+"/secrets/refresh-token/") {
		t.Fatalf("id %s", *s1.ID)
	}
	f.clock.add(time.Minute)
	s2, err := c.SetSecret(ctx, "refresh-token", azsecrets.SetSecretParameters{Value: to.Ptr("two")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := c.GetSecret(ctx, "Refresh-Token", "", nil) // names are case-insensitive
	if err != nil || *latest.Value != "two" || latest.ID.Version() != s2.ID.Version() {
		t.Fatalf("latest %v %v", latest, err)
	}
	old, err := c.GetSecret(ctx, "refresh-token", s1.ID.Version(), nil)
	if err != nil || *old.Value != "one" || *old.ContentType != "text/plain" {
		t.Fatalf("old %v %v", old, err)
	}
	var versions int
	for p := c.NewListSecretPropertiesVersionsPager("refresh-token", nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		versions += len(page.Value)
	}
	if versions != 2 {
		t.Fatalf("versions %d", versions)
	}
	// Disable the old version: reading it is refused as Key Vault does.
	if _, err := c.UpdateSecretProperties(ctx, "refresh-token", s1.ID.Version(), azsecrets.UpdateSecretPropertiesParameters{SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)}}, nil); err != nil {
		t.Fatal(err)
	}
	var re *azcore.ResponseError
	if _, err := c.GetSecret(ctx, "refresh-token", s1.ID.Version(), nil); !errors.As(err, &re) || re.StatusCode != 403 || re.ErrorCode != "Forbidden" {
		t.Fatalf("disabled get: %v", err)
	}

	del, err := c.DeleteSecret(ctx, "refresh-token", nil)
	if err != nil {
		t.Fatal(err)
	}
	if del.Value != nil || *del.RecoveryID != f.srv.URL+"/deletedsecrets/refresh-token" || del.ScheduledPurgeDate.Sub(*del.DeletedDate) != 90*24*time.Hour {
		t.Fatalf("deleted %+v", del)
	}
	if _, err := c.GetSecret(ctx, "refresh-token", "", nil); !errors.As(err, &re) || re.StatusCode != 404 || re.ErrorCode != "SecretNotFound" {
		t.Fatalf("get after delete: %v", err)
	}
	_, err = c.SetSecret(ctx, "refresh-token", azsecrets.SetSecretParameters{Value: to.Ptr("three")}, nil)
	if !errors.As(err, &re) || re.StatusCode != 409 || re.ErrorCode != "Conflict" || !strings.Contains(err.Error(), "deleted but recoverable state") {
		t.Fatalf("set over deleted: %v", err)
	}
	if _, err := c.GetDeletedSecret(ctx, "refresh-token", nil); err != nil {
		t.Fatal(err)
	}
	rec, err := c.RecoverDeletedSecret(ctx, "refresh-token", nil)
	if err != nil || rec.ID.Version() != s2.ID.Version() {
		t.Fatalf("recover %v %v", rec, err)
	}
	if got, err := c.GetSecret(ctx, "refresh-token", "", nil); err != nil || *got.Value != "two" {
		t.Fatalf("after recover %v %v", got, err)
	}
	if _, err := c.DeleteSecret(ctx, "refresh-token", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeDeletedSecret(ctx, "refresh-token", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDeletedSecret(ctx, "refresh-token", nil); !errors.As(err, &re) || re.StatusCode != 404 || re.ErrorCode != "SecretNotFound" {
		t.Fatalf("deleted after purge: %v", err)
	}
	if _, err := c.SetSecret(ctx, "refresh-token", azsecrets.SetSecretParameters{Value: to.Ptr("fresh")}, nil); err != nil {
		t.Fatalf("set after purge: %v", err)
	}
}

func TestListPagingAndSkipTokenIntegrity(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, &credential{f: f, t: t})
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		if _, err := c.SetSecret(ctx, fmt.Sprintf("s-%02d", i), azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	pages := 0
	for p := c.NewListSecretPropertiesPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range page.Value {
			if s.ID.Version() != "" {
				t.Fatalf("list item id has a version: %s", *s.ID)
			}
			names = append(names, s.ID.Name())
		}
	}
	if pages != 2 || len(names) != 30 || names[0] != "s-00" || names[29] != "s-29" {
		t.Fatalf("pages %d names %v", pages, names)
	}

	tok := f.token(t, vaultTenant, Audience)
	status, _, m := f.do(t, "GET", "/secrets?api-version=7.6&maxresults=7", tok, "")
	next, _ := m["nextLink"].(string)
	if status != 200 || len(m["value"].([]any)) != 7 || next == "" {
		t.Fatalf("%d %v", status, m)
	}
	u, _ := url.Parse(next)
	skip := u.Query().Get("$skiptoken")
	if u.Query().Get("api-version") != "7.6" || u.Query().Get("maxresults") != "7" || skip == "" {
		t.Fatalf("nextLink %s", next)
	}
	// Flip one character of the payload: the signature no longer matches.
	forged := []byte(skip)
	if forged[0] == 'A' {
		forged[0] = 'B'
	} else {
		forged[0] = 'A'
	}
	for _, bad := range []string{string(forged), "garbage", skip + "x"} {
		q := url.Values{"api-version": {"7.6"}, "$skiptoken": {bad}}
		if status, _, m := f.do(t, "GET", "/secrets?"+q.Encode(), tok, ""); status != 400 {
			t.Fatalf("forged %q: %d %v", bad, status, m)
		} else if c, _ := errCode(m); c != "BadParameter" {
			t.Fatalf("forged: %v", m)
		}
	}
	// A token from the secrets listing is refused by another listing.
	q := url.Values{"api-version": {"7.6"}, "$skiptoken": {skip}}
	if status, _, _ := f.do(t, "GET", "/deletedsecrets?"+q.Encode(), tok, ""); status != 400 {
		t.Fatalf("cross-listing token accepted: %d", status)
	}
	for _, mr := range []string{"0", "26", "x"} {
		if status, _, _ := f.do(t, "GET", "/secrets?api-version=7.6&maxresults="+mr, tok, ""); status != 400 {
			t.Fatalf("maxresults=%s: %d", mr, status)
		}
	}
}

func TestNameValidationAndErrors(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, vaultTenant, Audience)
	for _, name := range []string{"bad_name", "dots.are.bad", strings.Repeat("a", 128)} {
		status, _, m := f.do(t, "PUT", "/secrets/"+name+"?api-version=7.6", tok, `{"value":"x"}`)
		c, msg := errCode(m)
		if status != 400 || c != "BadParameter" || msg != "The request URI contains an invalid name: "+name {
			t.Fatalf("%s: %d %v", name, status, m)
		}
	}
	if status, _, _ := f.do(t, "PUT", "/secrets/"+strings.Repeat("a", 127)+"?api-version=7.6", tok, `{"value":"x"}`); status != 200 {
		t.Fatalf("127-char name refused: %d", status)
	}
	status, _, m := f.do(t, "GET", "/secrets/missing?api-version=7.6", tok, "")
	if c, msg := errCode(m); status != 404 || c != "SecretNotFound" || !strings.HasPrefix(msg, "A secret with (name/id) missing was not found in this key vault.") {
		t.Fatalf("%d %v", status, m)
	}
	if status, _, m := f.do(t, "GET", "/secrets/missing", tok, ""); status != 400 {
		t.Fatalf("no api-version: %d %v", status, m)
	} else if c, _ := errCode(m); c != "BadParameter" {
		t.Fatalf("no api-version: %v", m)
	}
	if status, _, _ := f.do(t, "GET", "/secrets/missing?api-version=2026-04-01", tok, ""); status != 404 {
		t.Fatalf("date api-version refused: %d", status)
	}
	if status, _, _ := f.do(t, "GET", "/secrets/missing?api-version=1.0", tok, ""); status != 400 {
		t.Fatalf("bad api-version accepted: %d", status)
	}
	if status, _, m := f.do(t, "PUT", "/secrets/novalue?api-version=7.6", tok, `{"contentType":"x"}`); status != 400 {
		t.Fatalf("no value: %d %v", status, m)
	}
	// A body that is not JSON is refused without echoing it (it may hold a secret).
	if status, _, m := f.do(t, "PUT", "/secrets/broken?api-version=7.6", tok, `{"value":"hunter2`); status != 400 || strings.Contains(fmt.Sprint(m), "hunter2") {
		t.Fatalf("broken body: %d %v", status, m)
	}
	if status, _, m := f.do(t, "POST", "/deletedsecrets/missing/recover?api-version=7.6", tok, ""); status != 404 {
		t.Fatalf("recover missing: %d %v", status, m)
	} else if _, msg := errCode(m); msg != "Deleted Secret not found: missing" {
		t.Fatalf("recover missing: %v", m)
	}
}

func TestTokenValidation(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, tok, want string
	}{
		{"wrong tenant", f.token(t, otherTenant, Audience), "AKV10032: Invalid issuer"},
		{"wrong audience", f.token(t, vaultTenant, "https://graph.microsoft.com"), "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://graph.microsoft.com."},
		{"garbage", "not.a.jwt", "Error validating token"},
	}
	for _, tc := range cases {
		status, h, m := f.do(t, "GET", "/secrets?api-version=7.6", tc.tok, "")
		c, msg := errCode(m)
		if status != 401 || c != "Unauthorized" || !strings.Contains(msg, tc.want) || h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %v %q", tc.name, status, m, h.Get("WWW-Authenticate"))
		}
	}
	// The vault's app id is an accepted audience too (v1 tokens).
	if status, _, _ := f.do(t, "GET", "/secrets?api-version=7.6", f.token(t, vaultTenant, AppID), ""); status != 200 {
		t.Fatalf("app-id audience: %d", status)
	}
	// Expired tokens.
	old := f.token(t, vaultTenant, Audience)
	f.clock.add(2 * time.Hour)
	if status, _, m := f.do(t, "GET", "/secrets?api-version=7.6", old, ""); status != 401 {
		t.Fatalf("expired: %d %v", status, m)
	}

	// Through the SDK: a credential that ignores the challenge's tenant gets Key Vault's 401.
	c := f.client(t, &credential{f: f, t: t, tenant: otherTenant})
	_, err := c.GetSecret(context.Background(), "x", "", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 401 || re.ErrorCode != "Unauthorized" {
		t.Fatalf("wrong-tenant SDK call: %v", err)
	}
}

func TestSoftDeleteExpiresAfterRetention(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, vaultTenant, Audience)
	f.do(t, "PUT", "/secrets/temp?api-version=7.6", tok, `{"value":"x"}`)
	if status, _, _ := f.do(t, "DELETE", "/secrets/temp?api-version=7.6", tok, ""); status != 200 {
		t.Fatal(status)
	}
	f.clock.add(91 * 24 * time.Hour)
	tok = f.token(t, vaultTenant, Audience)
	if status, _, _ := f.do(t, "GET", "/deletedsecrets/temp?api-version=7.6", tok, ""); status != 404 {
		t.Fatalf("deleted secret outlived its retention: %d", status)
	}
	if status, _, _ := f.do(t, "PUT", "/secrets/temp?api-version=7.6", tok, `{"value":"y"}`); status != 200 {
		t.Fatalf("name not reusable after purge: %d", status)
	}
}
