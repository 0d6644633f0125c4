package sim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// pcDelegated mints the App+User token Entra gives the partner's MFA service account for
// Partner Center (same signing key as the token endpoint); edit adjusts it for negative cases.
func pcDelegated(t *testing.T, s *sim.Server, edit ...func(*token.Claims)) string {
	t.Helper()
	c := token.Claims{
		TenantID: s.Endpoints().PartnerTenantID, ObjectID: scenario.DemoServiceAccountID, UPN: scenario.DemoServiceAccountUPN,
		AppID: scenario.DemoAppID, AZP: scenario.DemoAppID, Scope: "user_impersonation", AMR: []string{"pwd", "mfa"},
	}
	c.Audience = []string{scenario.PartnerAudience}
	for _, e := range edit {
		e(&c)
	}
	raw, err := s.Issuer.Sign(c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

type pcResult struct {
	status int
	header http.Header
	body   map[string]any
}

// code and description of a Partner Center error body, checking its shape.
func (a pcResult) pcError(t *testing.T) (int, string) {
	t.Helper()
	if a.body["source"] != "PartnerFD" {
		t.Fatalf("%d: not a Partner Center error: %v", a.status, a.body)
	}
	if d, ok := a.body["data"].([]any); !ok || len(d) != 0 {
		t.Fatalf("data: %v", a.body)
	}
	code, _ := a.body["code"].(float64)
	desc, _ := a.body["description"].(string)
	return int(code), desc
}

func pcCall(t *testing.T, s *sim.Server, c *http.Client, method, path, tok, body string, hdr ...string) pcResult {
	t.Helper()
	req, err := http.NewRequest(method, s.Endpoints().PartnerCenterURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return pcResult{res.StatusCode, res.Header, m}
}

func pcConsentBody(appID string) string {
	return `{"applicationId":"` + appID + `","applicationGrants":[{"enterpriseApplicationId":"00000003-0000-0000-c000-000000000000","scope":"Directory.Read.All,User.Read.All,Group.Read.All"}],"displayName":"tenantsync"}`
}

// pcListCustomers pages through GET /v1/customers with MS-ContinuationToken.
func pcListCustomers(t *testing.T, s *sim.Server, c *http.Client, tok string, size string) (ids []string, pages int) {
	t.Helper()
	cont := ""
	for {
		hdr := []string{"MS-RequestId", "4f6a9c2e-1111-4c1a-9d3e-5b2f0a7c8d9e", "MS-CorrelationId", "7e1d2c3b-2222-4a5b-8c6d-0e9f8a7b6c5d"}
		if cont != "" {
			hdr = append(hdr, "MS-ContinuationToken", cont)
		}
		a := pcCall(t, s, c, "GET", "/v1/customers?size="+size, tok, "", hdr...)
		if a.status != 200 {
			t.Fatalf("customers: %d %v", a.status, a.body)
		}
		if a.header.Get("MS-CorrelationId") != "7e1d2c3b-2222-4a5b-8c6d-0e9f8a7b6c5d" || a.header.Get("MS-RequestId") != "4f6a9c2e-1111-4c1a-9d3e-5b2f0a7c8d9e" {
			t.Fatalf("ids not echoed: %v", a.header)
		}
		pages++
		if a.body["attributes"].(map[string]any)["objectType"] != "Collection" {
			t.Fatalf("collection: %v", a.body)
		}
		for _, it := range a.body["items"].([]any) {
			m := it.(map[string]any)
			if m["relationshipToPartner"] != "reseller" || m["companyProfile"].(map[string]any)["tenantId"] != m["id"] {
				t.Fatalf("customer %v", m)
			}
			ids = append(ids, m["id"].(string))
		}
		next, _ := a.body["links"].(map[string]any)["next"].(map[string]any)
		if next == nil {
			return ids, pages
		}
		h := next["headers"].([]any)[0].(map[string]any)
		if h["key"] != "MS-ContinuationToken" || next["method"] != "GET" {
			t.Fatalf("next link %v", next)
		}
		cont = h["value"].(string)
	}
}

func TestPartnerCenterCustomersPaging(t *testing.T) {
	s := startSim(t)
	c := httpClient(t, s)
	want := map[string]bool{}
	for i := 0; i < s.World.TenantCount(); i++ {
		if tn := s.World.TenantAt(i); tn.CSP && !tn.Deleted {
			want[strings.ToLower(tn.ID)] = true
		}
	}
	ids, pages := pcListCustomers(t, s, c, pcDelegated(t, s), "3")
	if len(ids) != len(want) || pages != (len(want)+2)/3 {
		t.Fatalf("%d customers in %d pages; the scenario has %d CSP customers", len(ids), pages, len(want))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !want[id] || seen[id] {
			t.Fatalf("unexpected or repeated customer %s", id)
		}
		seen[id] = true
	}
	// One page when the size covers everyone.
	if ids, pages := pcListCustomers(t, s, c, pcDelegated(t, s), "100"); len(ids) != len(want) || pages != 1 {
		t.Fatalf("size=100: %d in %d pages", len(ids), pages)
	}
	// An edited continuation token is refused.
	a := pcCall(t, s, c, "GET", "/v1/customers?size=3", pcDelegated(t, s), "", "MS-ContinuationToken", "eyJwIjoiIiwibiI6MH0.AAAAAAAAAAAAAAAAAAAAAA")
	if code, _ := a.pcError(t); a.status != 400 || code == 0 {
		t.Fatalf("forged token: %d %v", a.status, a.body)
	}
}

func TestPartnerCenterSubscribedSkus(t *testing.T) {
	s := startSim(t)
	c := httpClient(t, s)
	tn, _ := s.World.Tenant(scenario.DemoWideWorldImporters)
	a := pcCall(t, s, c, "GET", "/v1/customers/"+tn.ID+"/subscribedskus", pcDelegated(t, s), "")
	if a.status != 200 {
		t.Fatalf("%d %v", a.status, a.body)
	}
	items := a.body["items"].([]any)
	if len(items) != len(tn.Skus) || int(a.body["totalCount"].(float64)) != len(tn.Skus) {
		t.Fatalf("items %v", a.body)
	}
	for i, it := range items {
		m := it.(map[string]any)
		sku := m["productSku"].(map[string]any)
		used := tn.Consumed(tn.Skus[i].SkuID)
		if sku["id"] != tn.Skus[i].SkuID || sku["skuPartNumber"] != tn.Skus[i].SkuPartNumber ||
			int(m["consumedUnits"].(float64)) != used || int(m["totalUnits"].(float64)) != tn.Skus[i].Prepaid ||
			int(m["availableUnits"].(float64)) != max(tn.Skus[i].Prepaid-used, 0) || m["capabilityStatus"] != "Enabled" {
			t.Fatalf("sku %d: %v (consumed %d)", i, m, used)
		}
	}
	a = pcCall(t, s, c, "GET", "/v1/customers/0f6d7a4e-3c2b-4a19-8e7d-6c5b4a392817/subscribedskus", pcDelegated(t, s), "")
	if code, _ := a.pcError(t); a.status != 404 || code == 0 {
		t.Fatalf("unknown customer: %d %v", a.status, a.body)
	}
}

func TestPartnerCenterConsentForWoodgroveBank(t *testing.T) {
	s := startSim(t)
	c := httpClient(t, s)
	ctx := context.Background()
	graph := policy.TokenRequestOptions{Scopes: []string{cloud.GraphScope}, TenantID: scenario.DemoWoodgroveBank}
	path := "/v1/customers/" + scenario.DemoWoodgroveBank + "/applicationconsents"
	app := s.Endpoints().AppID

	// Before consent the app has no service principal in Woodgrove Bank.
	if _, err := secretCredential(t, s, scenario.DemoWoodgroveBank).GetToken(ctx, graph); err == nil || !strings.Contains(err.Error(), "AADSTS7000229") {
		t.Fatalf("token before consent: %v", err)
	}
	a := pcCall(t, s, c, "POST", path, pcDelegated(t, s), pcConsentBody(app))
	if a.status != 201 || a.body["applicationId"] != app {
		t.Fatalf("consent: %d %v", a.status, a.body)
	}
	if g := a.body["applicationGrants"].([]any); len(g) != 1 || g[0].(map[string]any)["enterpriseApplicationId"] != scenario.GraphAppID {
		t.Fatalf("grants not echoed: %v", a.body)
	}
	if _, err := secretCredential(t, s, scenario.DemoWoodgroveBank).GetToken(ctx, graph); err != nil {
		t.Fatalf("token after consent: %v", err)
	}

	a = pcCall(t, s, c, "POST", path, pcDelegated(t, s), pcConsentBody(app))
	if _, desc := a.pcError(t); a.status != 409 || desc != "Permission entry already exists." {
		t.Fatalf("repeat: %d %v", a.status, a.body)
	}

	if a := pcCall(t, s, c, "DELETE", path+"/"+app, pcDelegated(t, s), ""); a.status != 204 {
		t.Fatalf("delete: %d %v", a.status, a.body)
	}
	// A fresh credential (no cached token) now fails: the service principal is gone.
	if _, err := secretCredential(t, s, scenario.DemoWoodgroveBank).GetToken(ctx, graph); err == nil || !strings.Contains(err.Error(), "AADSTS7000229") {
		t.Fatalf("token after delete: %v", err)
	}
	a = pcCall(t, s, c, "DELETE", path+"/"+app, pcDelegated(t, s), "")
	if code, _ := a.pcError(t); a.status != 404 || code == 0 {
		t.Fatalf("second delete: %d %v", a.status, a.body)
	}
}

func TestPartnerCenterConsentRefusals(t *testing.T) {
	s := startSim(t)
	c := httpClient(t, s)
	app := s.Endpoints().AppID
	woodgrove := "/v1/customers/" + scenario.DemoWoodgroveBank + "/applicationconsents"

	a := pcCall(t, s, c, "POST", "/v1/customers/"+scenario.DemoAdventureWorks+"/applicationconsents", pcDelegated(t, s), pcConsentBody(app))
	if _, desc := a.pcError(t); a.status != 403 || !strings.Contains(desc, "Application Administrator") || !strings.Contains(desc, "Global Reader") {
		t.Fatalf("Adventure Works: %d %v", a.status, a.body)
	}

	noMFA := pcDelegated(t, s, func(c *token.Claims) {
		c.ObjectID, c.UPN, c.AMR = scenario.DemoNoMFAID, scenario.DemoNoMFAUPN, []string{"pwd"}
	})
	a = pcCall(t, s, c, "POST", woodgrove, noMFA, pcConsentBody(app))
	if code, desc := a.pcError(t); a.status != 401 || code != 900421 || !strings.Contains(desc, "MFA is required for App+User calls") {
		t.Fatalf("no MFA: %d %v", a.status, a.body)
	}

	appOnly := pcDelegated(t, s, func(c *token.Claims) { c.IDType, c.Scope, c.AMR, c.UPN, c.ObjectID = "app", "", nil, "", "" })
	a = pcCall(t, s, c, "POST", woodgrove, appOnly, pcConsentBody(app))
	if _, desc := a.pcError(t); a.status != 403 || !strings.Contains(desc, "App+User") {
		t.Fatalf("app-only consent: %d %v", a.status, a.body)
	}
	// ... while app-only may list customers.
	if a := pcCall(t, s, c, "GET", "/v1/customers?size=5", appOnly, ""); a.status != 200 {
		t.Fatalf("app-only list: %d %v", a.status, a.body)
	}

	graphToken := pcDelegated(t, s, func(c *token.Claims) { c.Audience = []string{scenario.GraphAudience} })
	if a := pcCall(t, s, c, "GET", "/v1/customers", graphToken, ""); a.status != 401 {
		t.Fatalf("Graph token: %d %v", a.status, a.body)
	}
	for _, body := range []string{`{"applicationGrants":[]}`, "not json"} {
		a := pcCall(t, s, c, "POST", woodgrove, pcDelegated(t, s), body)
		if code, _ := a.pcError(t); a.status != 400 || code == 0 {
			t.Fatalf("body %q: %d %v", body, a.status, a.body)
		}
	}
	a = pcCall(t, s, c, "POST", woodgrove, pcDelegated(t, s), pcConsentBody("3c1a5e2f-9d8b-4c7a-a6e5-f4d3c2b1a098"))
	if _, desc := a.pcError(t); a.status != 404 || !strings.Contains(desc, "not found") {
		t.Fatalf("unknown app: %d %v", a.status, a.body)
	}
	if _, ok := s.Directory.ServicePrincipal(scenario.DemoWoodgroveBank, app); ok {
		t.Fatal("a refused request consented")
	}
	if got := s.Metrics.Total("partnercenter", strings.ToLower(scenario.DemoWoodgroveBank)); got.Errors == 0 {
		t.Fatalf("metrics %+v", got)
	}
}

// TestPartnerCenterWithEntraAppOnlyToken uses tokens from the simulator's token endpoint rather than
// minted ones: an app-only Partner Center token lists customers but cannot consent.
func TestPartnerCenterWithEntraAppOnlyToken(t *testing.T) {
	s := startSim(t)
	c := httpClient(t, s)
	tok, err := secretCredential(t, s, s.Endpoints().PartnerTenantID).GetToken(context.Background(),
		policy.TokenRequestOptions{Scopes: []string{scenario.PartnerAudience + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	if a := pcCall(t, s, c, "GET", "/v1/customers?size=50", tok.Token, ""); a.status != 200 {
		t.Fatalf("list: %d %v", a.status, a.body)
	}
	a := pcCall(t, s, c, "POST", "/v1/customers/"+scenario.DemoWoodgroveBank+"/applicationconsents", tok.Token, pcConsentBody(s.Endpoints().AppID))
	if a.status != 403 {
		t.Fatalf("app-only consent: %d %v", a.status, a.body)
	}
}

// pcDeviceCodeToken signs upn in through azidentity's device code flow (the simulator approves
// the code from the prompt callback, with or without MFA) and returns a delegated Partner Center
// token from the token endpoint.
func pcDeviceCodeToken(t *testing.T, s *sim.Server, upn string, mfa bool) (string, error) {
	t.Helper()
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: clientOptions(t, s), TenantID: s.Endpoints().PartnerTenantID, ClientID: s.Endpoints().AppID,
		DisableInstanceDiscovery: true,
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			return s.Entra.ApproveDeviceCode(m.UserCode, upn, mfa)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cloud.PartnerCenterScope}})
	return tok.Token, err
}

// TestPartnerCenterWithEntraDelegatedTokens drives Partner Center with App+User tokens from the
// simulator's token endpoint, as the product gets them (device code sign-in of the service account).
func TestPartnerCenterWithEntraDelegatedTokens(t *testing.T) {
	s := startSim(t)
	c := httpClient(t, s)
	tok, err := pcDeviceCodeToken(t, s, scenario.DemoServiceAccountUPN, true)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := pcListCustomers(t, s, c, tok, "4")
	if len(ids) == 0 {
		t.Fatal("no customers")
	}
	path := "/v1/customers/" + scenario.DemoWoodgroveBank + "/applicationconsents"
	if a := pcCall(t, s, c, "POST", path, tok, pcConsentBody(s.Endpoints().AppID)); a.status != 201 {
		t.Fatalf("consent with an Entra token: %d %v", a.status, a.body)
	}
	if _, ok := s.Directory.ServicePrincipal(scenario.DemoWoodgroveBank, s.Endpoints().AppID); !ok {
		t.Fatal("no service principal after consent")
	}

	// The technician without MFA gets a token from Entra, but Partner Center refuses it.
	noMFA, err := pcDeviceCodeToken(t, s, scenario.DemoNoMFAUPN, false)
	if err != nil {
		t.Fatal(err)
	}
	a := pcCall(t, s, c, "GET", "/v1/customers?size=4", noMFA, "")
	if code, desc := a.pcError(t); a.status != 401 || code != 900421 || !strings.Contains(desc, scenario.DemoNoMFAUPN) {
		t.Fatalf("no-MFA token: %d %v", a.status, a.body)
	}
}
