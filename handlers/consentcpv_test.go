package handlers

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/operation"
)

func TestConsentCPVHandlerAndAutoConsent(t *testing.T) {
	e := newConsentHandlerEnv(t, consentHandlerOptions{autoConsent: true})
	// Discovery with AUTO_CONSENT: Woodgrove is consented through Partner Center right away
	// (cpv+roles), Consolidated Messenger by the gdap path (no Privileged Role Administrator,
	// Global Reader), and the answer carries the summary.
	op := e.operate("POST", "/api/discovery", "")
	var ans struct {
		Found   int              `json:"found"`
		Consent *consent.Summary `json:"consent"`
	}
	// The report is camelCase like the rest of the API (json.Unmarshal alone would accept "Found").
	if !strings.Contains(string(op.Result), `"found":14`) {
		t.Errorf("discovery report is not camelCase: %s", op.Result)
	}
	if err := json.Unmarshal(op.Result, &ans); err != nil || op.State != operation.StateSucceeded || ans.Found != 14 || ans.Consent == nil || ans.Consent.Consented != 2 || ans.Consent.Error != "" {
		t.Fatalf("discovery operation %+v: %s", op, op.Result)
	}
	if c := e.tenant(scenario.DemoWoodgroveBank).Consent; c.State != domain.ConsentConsented || c.Method != consent.MethodCPV {
		t.Errorf("Woodgrove after discovery: %+v", c)
	}
	aw := `"` + scenario.DemoAdventureWorks + `"`
	for bad, says := range map[string]string{
		`{"tenantIds":["nope"]}`: `"nope" is not`,
		`{"tenants":[]}`:         `key "tenants" is not accepted here`,
		`[`:                      "must be a JSON object",
		`{"tenantIds":[` + aw + `]} {"tenantIds":[]}`:             "more than one JSON value",
		`{"tenantIds":[` + aw + `],"tenantIds":[]}`:               `key "tenantIds" appears more than once`,
		`{"TenantIds":[` + aw + `]}`:                              `must be spelled "tenantIds"`,
		`{"tenantIds":[" ` + scenario.DemoAdventureWorks + ` "]}`: "is not",
		`{"tenantIds":` + aw + `}`:                                "must be an array",
	} {
		rec := e.do("POST", "/api/consent/cpv", bad)
		if code, msg := errorCode(t, rec); rec.Code != http.StatusBadRequest || code != "BadRequest" || !strings.Contains(msg, says) {
			t.Errorf("body %s: %d %s %q, want 400 saying %q", bad, rec.Code, code, msg, says)
		}
	}
	// An empty body no longer means "every tenant": that takes {"all": true}.
	for _, bad := range []string{``, `{}`, `{"tenantIds":[]}`, `{"all":false}`, `{"tenantIds":["nope"]}`, `{"tenants":[]}`, `[`,
		`{"all":true,"tenantIds":["` + scenario.DemoWoodgroveBank + `"]}`, `{"all":true}{"all":true}`} {
		if rec := e.do("POST", "/api/consent/cpv", bad); rec.Code != http.StatusBadRequest {
			t.Errorf("body %q: %d %s", bad, rec.Code, rec.Body)
		}
	}
	if n := len(e.opQueue.Messages()); n != 0 {
		t.Errorf("refused requests queued %d operations", n)
	}
	// Named tenants: Woodgrove is done already, Adventure Works needs the link.
	op = e.operate("POST", "/api/consent/cpv", `{"tenantIds":["`+scenario.DemoWoodgroveBank+`","`+scenario.DemoAdventureWorks+`"]}`)
	var out struct {
		Results []consent.Result
		Summary consent.Summary
	}
	if err := json.Unmarshal(op.Result, &out); err != nil || op.State != operation.StateSucceeded || len(out.Results) != 2 || out.Summary.Skipped != 2 {
		t.Fatalf("cpv operation %+v: %s", op, op.Result)
	}
	for _, r := range out.Results {
		want := map[string]string{scenario.DemoWoodgroveBank: consent.CodeAlreadyConsented, scenario.DemoAdventureWorks: consent.CodeMissingRoles}[r.TenantID]
		if r.State != consent.ResultSkipped || r.Code != want {
			t.Errorf("result %+v, want skipped %s", r, want)
		}
	}
	// {"all": true}: every eligible tenant (none left that Partner Center can do).
	op = e.operate("POST", "/api/consent/cpv", `{"all": true}`)
	if err := json.Unmarshal(op.Result, &out); err != nil || op.State != operation.StateSucceeded || out.Summary.Consented != 0 {
		t.Fatalf("cpv all %+v: %s", op, op.Result)
	}
	if q := e.queue.Tenants(t); len(q) != 2 || !slices.Contains(q, scenario.DemoWoodgroveBank) || !slices.Contains(q, scenario.DemoConsolidated) {
		t.Errorf("queued %v, want the first syncs of Woodgrove and Consolidated Messenger only", q)
	}
	if c := e.tenant(scenario.DemoConsolidated).Consent; c.State != domain.ConsentConsented || c.Method != consent.MethodGDAP {
		t.Errorf("Consolidated Messenger after discovery: %+v", c)
	}
	e.scan()
}
