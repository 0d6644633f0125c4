package sim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// kvExchange is one request the SDK sent to the vault and the answer it got.
type kvExchange struct {
	method, path string
	authorized   bool
	status       int
	challenge    string
}

// kvRecorder is an azcore transport that records exchanges (never bodies: they hold secrets).
type kvRecorder struct {
	next policy.Transporter
	mu   sync.Mutex
	log  []kvExchange
}

func (r *kvRecorder) Do(req *http.Request) (*http.Response, error) {
	res, err := r.next.Do(req)
	if err == nil {
		r.mu.Lock()
		r.log = append(r.log, kvExchange{req.Method, req.URL.Path, req.Header.Get("Authorization") != "", res.StatusCode, res.Header.Get("WWW-Authenticate")})
		r.mu.Unlock()
	}
	return res, err
}

func (r *kvRecorder) exchanges() []kvExchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kvExchange(nil), r.log...)
}

// kvClient is an azsecrets client as the product builds one against the simulator.
//
// DisableChallengeResourceVerification: azsecrets requires the challenge's resource host
// (vault.azure.net) to be a suffix of the vault's host; the simulated vault is 127.0.0.1, so the
// check cannot pass. It only decides which resource a token is requested for (always
// https://vault.azure.net here); the TLS connection is still verified against the simulator's CA.
func kvClient(t *testing.T, s *sim.Server, cred azcore.TokenCredential) (*azsecrets.Client, *kvRecorder) {
	t.Helper()
	o := clientOptions(t, s)
	rec := &kvRecorder{next: o.Transport}
	o.Transport = rec
	c, err := azsecrets.NewClient(s.Endpoints().KeyVaultURL, cred, &azsecrets.ClientOptions{ClientOptions: o, DisableChallengeResourceVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestKeyVaultSecretsThroughAzsecrets(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	c, rec := kvClient(t, s, secretCredential(t, s, s.Endpoints().PartnerTenantID))

	s1, err := c.SetSecret(ctx, "partner-refresh-token", azsecrets.SetSecretParameters{
		Value: to.Ptr("rt-one"), ContentType: to.Ptr("text/plain"), Tags: map[string]*string{"kind": to.Ptr("refresh-token")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The fresh client's first request went out without a token and was answered with the
	// challenge; the SDK then asked Entra for a vault token and repeated the request.
	ex := rec.exchanges()
	wantChallenge := fmt.Sprintf(`Bearer authorization="%s/%s", resource="https://vault.azure.net"`, s.Issuer.Authority(), s.Endpoints().PartnerTenantID)
	if len(ex) != 2 || ex[0].authorized || ex[0].status != 401 || ex[0].challenge != wantChallenge || !ex[1].authorized || ex[1].status != 200 {
		t.Fatalf("exchanges %+v (want challenge %q)", ex, wantChallenge)
	}
	if *s1.Value != "rt-one" || s1.ID.Name() != "partner-refresh-token" || !strings.HasPrefix(string(*s1.ID), s.Endpoints().KeyVaultURL+"secrets/partner-refresh-token/") {
		t.Fatalf("set: %+v", s1)
	}
	s2, err := c.SetSecret(ctx, "partner-refresh-token", azsecrets.SetSecretParameters{Value: to.Ptr("rt-two")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetSecret(ctx, "partner-refresh-token", "", nil); err != nil || *got.Value != "rt-two" || got.ID.Version() != s2.ID.Version() {
		t.Fatalf("get latest: %v %v", got, err)
	}
	if got, err := c.GetSecret(ctx, "partner-refresh-token", s1.ID.Version(), nil); err != nil || *got.Value != "rt-one" || *got.ContentType != "text/plain" {
		t.Fatalf("get version: %v %v", got, err)
	}
	for i := 0; i < 27; i++ { // more than one page (Key Vault pages by 25)
		if _, err := c.SetSecret(ctx, fmt.Sprintf("client-secret-%02d", i), azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
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
		for _, it := range page.Value {
			names = append(names, it.ID.Name())
		}
	}
	if len(names) != 28 || pages != 2 {
		t.Fatalf("listed %d secrets in %d pages", len(names), pages)
	}
	var versions []string
	for p := c.NewListSecretPropertiesVersionsPager("partner-refresh-token", nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Value {
			versions = append(versions, it.ID.Version())
		}
	}
	if len(versions) != 2 {
		t.Fatalf("versions %v", versions)
	}

	del, err := c.DeleteSecret(ctx, "partner-refresh-token", nil)
	if err != nil || del.RecoveryID == nil || del.ScheduledPurgeDate == nil || del.DeletedDate == nil {
		t.Fatalf("delete: %+v %v", del, err)
	}
	var re *azcore.ResponseError
	if _, err := c.GetSecret(ctx, "partner-refresh-token", "", nil); !errors.As(err, &re) || re.StatusCode != 404 || re.ErrorCode != "SecretNotFound" {
		t.Fatalf("get deleted secret: %v", err)
	}
	if _, err := c.SetSecret(ctx, "partner-refresh-token", azsecrets.SetSecretParameters{Value: to.Ptr("x")}, nil); !errors.As(err, &re) || re.StatusCode != 409 || !strings.Contains(err.Error(), "deleted but recoverable state") {
		t.Fatalf("set over soft-deleted: %v", err)
	}
	if _, err := c.GetDeletedSecret(ctx, "partner-refresh-token", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecoverDeletedSecret(ctx, "partner-refresh-token", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetSecret(ctx, "partner-refresh-token", "", nil); err != nil || *got.Value != "rt-two" {
		t.Fatalf("after recover: %v %v", got, err)
	}
	if _, err := c.DeleteSecret(ctx, "partner-refresh-token", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeDeletedSecret(ctx, "partner-refresh-token", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDeletedSecret(ctx, "partner-refresh-token", nil); !errors.As(err, &re) || re.StatusCode != 404 {
		t.Fatalf("deleted after purge: %v", err)
	}
	if _, err := c.SetSecret(ctx, "partner-refresh-token", azsecrets.SetSecretParameters{Value: to.Ptr("rt-three")}, nil); err != nil {
		t.Fatalf("set after purge: %v", err)
	}
	if _, err := c.SetSecret(ctx, "bad_name", azsecrets.SetSecretParameters{Value: to.Ptr("x")}, nil); !errors.As(err, &re) || re.StatusCode != 400 || re.ErrorCode != "BadParameter" {
		t.Fatalf("bad name: %v", err)
	}
	// Only the first request of the client was unauthenticated; the token was reused after.
	n401 := 0
	for _, e := range rec.exchanges() {
		if e.status == 401 {
			n401++
		}
	}
	if n401 != 1 {
		t.Fatalf("%d challenges", n401)
	}
	if got := s.Metrics.Total("keyvault", ""); got.Requests == 0 {
		t.Fatal("vault requests not counted")
	}
}

// kvTenantPinned asks its credential for a token in a fixed tenant whatever the challenge says: a
// misconfigured client that sends a customer tenant's token to the partner's vault.
type kvTenantPinned struct {
	inner  azcore.TokenCredential
	tenant string
}

func (p kvTenantPinned) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	o.TenantID = p.tenant
	return p.inner.GetToken(ctx, o)
}

// kvMinted signs tokens with the simulator's key directly (the token endpoint is not involved).
type kvMinted struct {
	s      *sim.Server
	tenant string
}

func (m kvMinted) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c := token.Claims{TenantID: m.tenant, AppID: scenario.DemoAppID, IDType: "app", ObjectID: "0b6bb1a2-90a4-4cf9-9ac6-79e5bdf7d5a1"}
	c.Audience = []string{strings.TrimSuffix(o.Scopes[0], "/.default")}
	raw, err := m.s.Issuer.Sign(c, time.Hour)
	return azcore.AccessToken{Token: raw, ExpiresOn: m.s.Issuer.Now().Add(time.Hour)}, err
}

func TestKeyVaultRejectsOtherTenantsTokens(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	for name, cred := range map[string]azcore.TokenCredential{
		// A real Entra token for a consented customer tenant.
		"entra":    kvTenantPinned{secretCredential(t, s, scenario.DemoContosoDental), scenario.DemoContosoDental},
		"kvMinted": kvMinted{s, scenario.DemoWoodgroveBank},
	} {
		c, rec := kvClient(t, s, cred)
		_, err := c.GetSecret(ctx, "anything", "", nil)
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 401 || re.ErrorCode != "Unauthorized" || !strings.Contains(err.Error(), "AKV10032: Invalid issuer") {
			t.Fatalf("%s: %v", name, err)
		}
		if ex := rec.exchanges(); len(ex) < 2 || !ex[len(ex)-1].authorized {
			t.Fatalf("%s: the token was never presented: %+v", name, ex)
		}
	}
	// The partner tenant's token kvMinted the same way is accepted: the refusal was the tenant.
	c, _ := kvClient(t, s, kvMinted{s, s.Endpoints().PartnerTenantID})
	var re *azcore.ResponseError
	if _, err := c.GetSecret(ctx, "anything", "", nil); !errors.As(err, &re) || re.StatusCode != 404 {
		t.Fatalf("partner token: %v", err)
	}
}
