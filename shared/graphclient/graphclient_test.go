package graphclient

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantsync/tenantsync/shared/cloud"
)

// fakeCredential hands out a fixed token and records the scopes asked for.
type fakeCredential struct {
	mu     sync.Mutex
	scopes []string
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes...)
	return azcore.AccessToken{Token: "graph-test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// graphServer is an httptest TLS server answering GET /v1.0/organization (after `throttle` 429s)
// and the CA file that trusts it.
func graphServer(t *testing.T, throttle int) (*httptest.Server, string, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		n := len(seen)
		mu.Unlock()
		if n <= throttle {
			w.Header().Set("Retry-After", "0.25")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if r.URL.Path != "/v1.0/organization" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":[{"id":"0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01","displayName":"Contoso"}]}`))
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca, &seen
}

// New's client calls the configured Graph base URL over TLS verified against the CA file, with a
// bearer token for the cloud's Graph scope, and goes through our RetryHandler (a fractional
// Retry-After is waited, not truncated).
func TestNewCallsTheConfiguredGraph(t *testing.T) {
	srv, ca, seen := graphServer(t, 1)
	cred := &fakeCredential{}
	var waited []time.Duration
	retry := &RetryHandler{Sleep: func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }}
	ep := cloud.Endpoints{GraphURL: srv.URL + "/v1.0", CAFile: ca}
	client, adapter, err := NewWithRetry(cred, ep, retry)
	if err != nil {
		t.Fatal(err)
	}
	if adapter.GetBaseUrl() != ep.GraphURL {
		t.Errorf("base URL %q, want %q", adapter.GetBaseUrl(), ep.GraphURL)
	}
	orgs, err := client.Organization().Get(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := orgs.GetValue(); len(v) != 1 || *v[0].GetDisplayName() != "Contoso" {
		t.Errorf("organization: %+v", v)
	}
	want := "GET /v1.0/organization Bearer graph-test-token"
	if len(*seen) != 2 || (*seen)[0] != want || (*seen)[1] != want {
		t.Errorf("requests %q, want two of %q (one throttled, one retried)", *seen, want)
	}
	if len(waited) != 1 || waited[0] != 250*time.Millisecond {
		t.Errorf("waits %v, want the 0.25 s Retry-After", waited)
	}
	if len(cred.scopes) == 0 || cred.scopes[0] != ep.GraphScope() {
		t.Errorf("token scopes %q, want %q", cred.scopes, ep.GraphScope())
	}
}

// Without the CA file the server's certificate is not trusted: TLS verification stays on. A CA
// file that is missing or holds no certificate is an error, not a silent fallback.
func TestNewVerifiesTLS(t *testing.T) {
	srv, _, seen := graphServer(t, 0)
	client, _, err := New(&fakeCredential{}, cloud.Endpoints{GraphURL: srv.URL + "/v1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Organization().Get(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted server certificate was accepted: %v", err)
	}
	if len(*seen) != 0 {
		t.Errorf("the untrusted server received %q", *seen)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ca := range []string{empty, filepath.Join(t.TempDir(), "missing.pem")} {
		if _, _, err := New(&fakeCredential{}, cloud.Endpoints{GraphURL: srv.URL + "/v1.0", CAFile: ca}); err == nil {
			t.Errorf("CA file %s accepted", ca)
		}
	}
}

func TestSleepCtx(t *testing.T) {
	if err := sleepCtx(context.Background(), time.Millisecond); err != nil {
		t.Errorf("a short sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepCtx(ctx, time.Hour); err != context.Canceled {
		t.Errorf("a cancelled sleep returned %v", err)
	}
}
