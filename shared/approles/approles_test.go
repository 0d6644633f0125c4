package approles

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
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

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/cloud"
)

const (
	customer     = "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01"
	appID        = "5f0c6a4e-2f0b-4c5e-9b1a-0d2c3e4f5a6b"
	graphSPID    = "11111111-1111-4111-8111-111111111111"
	appSPID      = "22222222-2222-4222-8222-222222222222"
	partnerToken = "delegated-partner-token"
)

func jwt(claims any) string {
	b, _ := json.Marshal(claims)
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

type tokenCred struct {
	token string
	got   policy.TokenRequestOptions
}

func (c *tokenCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.got = o
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TokenRoles asks for the configured cloud's Graph scope in the customer tenant (CAE on, as kiota
// asks) and reads the roles claim; fresh adds an nbf claims request so the cache is bypassed.
func TestTokenRoles(t *testing.T) {
	ep := cloud.Public()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	cred := &tokenCred{token: jwt(map[string]any{"roles": []string{"User.Read.All", "Group.Read.All"}, "tid": customer})}
	roles, err := TokenRoles(context.Background(), cred, ep, customer, false, now)
	if err != nil || strings.Join(roles, ",") != "User.Read.All,Group.Read.All" {
		t.Fatalf("roles %v %v", roles, err)
	}
	if o := cred.got; len(o.Scopes) != 1 || o.Scopes[0] != ep.GraphScope() || o.TenantID != customer || !o.EnableCAE || o.Claims != "" {
		t.Errorf("token request %+v", o)
	}
	if _, err := TokenRoles(context.Background(), cred, ep, customer, true, now); err != nil {
		t.Fatal(err)
	}
	if want := `{"access_token":{"nbf":{"essential":true,"value":"1796644800"}}}`; cred.got.Claims != want {
		t.Errorf("fresh claims %q, want %q", cred.got.Claims, want)
	}
	if roles, err := TokenRoles(context.Background(), &tokenCred{token: jwt(map[string]any{"tid": customer})}, ep, customer, false, now); err != nil || len(roles) != 0 {
		t.Errorf("a token without roles: %v %v", roles, err)
	}
	for _, bad := range []string{"opaque-token", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c"} {
		if _, err := TokenRoles(context.Background(), &tokenCred{token: bad}, ep, customer, false, now); err == nil {
			t.Errorf("token %q read without error", bad)
		}
	}
}

// fakeGraph answers the two service principal lookups and records the role assignments posted
// (https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto: 201 with the
// assignment). forbid answers every assignment 403, as Graph does without Privileged Role
// Administrator.
type fakeGraph struct {
	mu       sync.Mutex
	auth     []string
	assigned []map[string]string
	forbid   bool
}

func (g *fakeGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.auth = append(g.auth, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "GET" && r.URL.Path == "/v1.0/servicePrincipals":
		ids := map[string]string{"appId eq '" + appperms.GraphAppID + "'": graphSPID, "appId eq '" + appID + "'": appSPID}
		id, ok := ids[r.URL.Query().Get("$filter")]
		if !ok {
			_, _ = io.WriteString(w, `{"value":[]}`)
			return
		}
		_, _ = io.WriteString(w, `{"value":[{"id":"`+id+`","appId":"x"}]}`)
	case r.Method == "POST" && r.URL.Path == "/v1.0/servicePrincipals/"+graphSPID+"/appRoleAssignedTo":
		if g.forbid {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}`)
			return
		}
		// kiota's CompressionHandler gzips request bodies.
		var in io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			in = zr
		}
		var body map[string]string
		if err := json.NewDecoder(in).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		g.assigned = append(g.assigned, body)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(body)
	default:
		http.NotFound(w, r)
	}
}

func graphEndpoints(t *testing.T, g http.Handler) cloud.Endpoints {
	t.Helper()
	srv := httptest.NewTLSServer(g)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cloud.Endpoints{GraphURL: srv.URL + "/v1.0", CAFile: ca}
}

// Assign finds Graph's and tenantsync's service principals in the customer tenant and posts one
// assignment per missing role, with the partner's delegated token for that tenant.
func TestAssign(t *testing.T) {
	g := &fakeGraph{}
	var asked []string
	a := &Assigner{ClientID: appID, Endpoints: graphEndpoints(t, g), Token: func(_ context.Context, tenantID string) (string, error) {
		asked = append(asked, tenantID)
		return partnerToken, nil
	}}
	missing := []appperms.Permission{appperms.Graph[0], appperms.Graph[1]}
	if err := a.Assign(context.Background(), customer, missing); err != nil {
		t.Fatal(err)
	}
	if len(g.assigned) != 2 {
		t.Fatalf("assignments %v, want 2", g.assigned)
	}
	for i, m := range missing {
		if got := g.assigned[i]; got["principalId"] != appSPID || got["resourceId"] != graphSPID || got["appRoleId"] != m.ID {
			t.Errorf("assignment %d: %v, want %s to %s on %s", i, got, m.ID, appSPID, graphSPID)
		}
	}
	for _, h := range g.auth {
		if h != "Bearer "+partnerToken {
			t.Errorf("Graph got Authorization %q", h)
		}
	}
	if len(asked) == 0 || asked[0] != customer {
		t.Errorf("delegated token asked for tenants %v", asked)
	}

	g.forbid = true
	if err := a.Assign(context.Background(), customer, missing[:1]); err == nil || !strings.Contains(err.Error(), "Insufficient privileges") && !strings.Contains(err.Error(), "403") {
		t.Errorf("403 from Graph: %v", err)
	}
	bad := appperms.Permission{Value: "Bad.Role", ID: "not-a-guid"}
	g.forbid = false
	if err := a.Assign(context.Background(), customer, []appperms.Permission{bad}); err == nil || !strings.Contains(err.Error(), "Bad.Role") {
		t.Errorf("a role id that is not a GUID: %v", err)
	}
	other := &Assigner{ClientID: "33333333-3333-4333-8333-333333333333", Endpoints: a.Endpoints, Token: a.Token}
	if err := other.Assign(context.Background(), customer, missing); err == nil || !strings.Contains(err.Error(), "no service principal") {
		t.Errorf("app without a service principal in the tenant: %v", err)
	}
	failing := &Assigner{ClientID: appID, Endpoints: a.Endpoints, Token: func(context.Context, string) (string, error) { return "", errors.New("partner not connected") }}
	if err := failing.Assign(context.Background(), customer, missing); err == nil || !strings.Contains(err.Error(), "partner not connected") {
		t.Errorf("token source failing: %v", err)
	}
	var none *Assigner
	if err := none.Assign(context.Background(), customer, missing); !errors.Is(err, ErrNoToken) {
		t.Errorf("nil assigner: %v", err)
	}
	if err := (&Assigner{}).Assign(context.Background(), customer, missing); !errors.Is(err, ErrNoToken) {
		t.Errorf("no token source: %v", err)
	}
}
