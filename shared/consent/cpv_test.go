package consent_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

func resultFor(t *testing.T, rs []consent.Result, id string) consent.Result {
	t.Helper()
	for _, r := range rs {
		if strings.EqualFold(r.TenantID, id) {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", id, rs)
	return consent.Result{}
}

// checkConsented asserts the tenant is consented by method, with a real app-only token issued
// for it, and its first sync queued (message sent, tenant marked queued with that run).
func checkConsented(t *testing.T, e *env, r consent.Result, id, method string) {
	t.Helper()
	if r.State != consent.ResultConsented || r.Method != method || r.Code != "" {
		t.Fatalf("result %+v, want consented by %s", r, method)
	}
	tn := e.tenant(id)
	if tn.Consent.State != domain.ConsentConsented || tn.Consent.Method != method || tn.Consent.Error != "" || tn.Consent.UpdatedAt.IsZero() {
		t.Errorf("stored consent %+v, want consented by %s", tn.Consent, method)
	}
	if !e.appTokenFor(id) {
		t.Errorf("no app-only Graph token was issued for %s: consent was not verified", id)
	}
	if _, ok := e.sim.Directory.ServicePrincipal(id, scenario.DemoAppID); !ok {
		t.Errorf("the simulator has no service principal for the app in %s", id)
	}
	var queued []domain.SyncRequest
	for _, req := range e.q.SyncRequests(t) {
		if req.TenantID == id {
			queued = append(queued, req)
		}
	}
	if len(queued) != 1 || queued[0].Reason != "consent" || (r.RunID != "" && queued[0].RunID != r.RunID) {
		t.Fatalf("queued for %s: %+v (result run %q), want one first sync with reason consent", id, queued, r.RunID)
	}
	if tn.Sync.State != domain.SyncQueued || tn.Sync.LastRunID != queued[0].RunID {
		t.Errorf("tenant sync %+v, want queued with run %s", tn.Sync, queued[0].RunID)
	}
}

func TestCPVWoodgroveConsentsVerifiesAndQueues(t *testing.T) {
	e := newEnv(t)
	e.discover()
	if tn := e.tenant(scenario.DemoWoodgroveBank); tn.Consent.State != domain.ConsentNone {
		t.Fatalf("Woodgrove before consent: %+v", tn.Consent)
	}
	rs, err := e.svc.GrantCPV(e.ctx, []string{scenario.DemoWoodgroveBank, scenario.DemoAdventureWorks})
	if err != nil {
		t.Fatal(err)
	}
	e.answer(rs)
	if len(rs) != 2 {
		t.Fatalf("results %+v, want one per tenant asked", rs)
	}
	r := resultFor(t, rs, scenario.DemoWoodgroveBank)
	checkConsented(t, e, r, scenario.DemoWoodgroveBank, consent.MethodCPV)
	if r.AlreadyExisted {
		t.Errorf("first consent reported as already existing")
	}

	aw := resultFor(t, rs, scenario.DemoAdventureWorks)
	if aw.State != consent.ResultSkipped || aw.Code != consent.CodeMissingRoles || !strings.Contains(aw.Remediation, "admin-consent link") {
		t.Errorf("Adventure Works %+v, want skipped for missing roles, pointing to the admin-consent link", aw)
	}
	if tn := e.tenant(scenario.DemoAdventureWorks); tn.Consent.State != domain.ConsentNone {
		t.Errorf("Adventure Works consent changed to %+v by a skip", tn.Consent)
	}

	// Asking again for a consented tenant: nothing to do.
	rs, err = e.svc.GrantCPV(e.ctx, []string{scenario.DemoWoodgroveBank})
	if err != nil {
		t.Fatal(err)
	}
	e.answer(rs)
	if r := resultFor(t, rs, scenario.DemoWoodgroveBank); r.State != consent.ResultSkipped || r.Code != consent.CodeAlreadyConsented {
		t.Errorf("second run %+v, want skipped as already consented", r)
	}

	// The record lost (e.g. restored table): Partner Center says "already exists", which is
	// success once verified.
	if err := e.st.SetConsent(e.ctx, scenario.DemoWoodgroveBank, domain.Consent{State: domain.ConsentNone}); err != nil {
		t.Fatal(err)
	}
	e.q.Reset()
	rs, err = e.svc.GrantCPV(e.ctx, []string{scenario.DemoWoodgroveBank})
	if err != nil {
		t.Fatal(err)
	}
	e.answer(rs)
	r = resultFor(t, rs, scenario.DemoWoodgroveBank)
	if !r.AlreadyExisted {
		t.Errorf("repeat %+v: want Partner Center's \"already exists\" noted", r)
	}
	checkConsented(t, e, r, scenario.DemoWoodgroveBank, consent.MethodCPV)
	if len(*e.pcTokens) == 0 || !e.claims((*e.pcTokens)[0]).HasMFA() {
		t.Errorf("Partner Center was not called with the delegated MFA token")
	}
	e.scanSecrets()
}

func TestCPVAllEligible(t *testing.T) {
	e := newEnv(t)
	e.discover()
	rs, err := e.svc.GrantCPV(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.answer(rs)
	checkConsented(t, e, resultFor(t, rs, scenario.DemoWoodgroveBank), scenario.DemoWoodgroveBank, consent.MethodCPV)
	for id, code := range map[string]string{
		scenario.DemoAdventureWorks:     consent.CodeMissingRoles,  // Global Reader only
		scenario.DemoAlpineSkiHouse:     consent.CodeNoActiveGDAP,  // terminated
		scenario.DemoBlueYonderAirlines: consent.CodeTenantDeleted, // AADSTS90002 at discovery
	} {
		if r := resultFor(t, rs, id); r.State != consent.ResultSkipped || r.Code != code || r.Remediation == "" {
			t.Errorf("%s: %+v, want skipped with %s and a fix", id, r, code)
		}
	}
	// Fourth Coffee has the app but its tokens fail with AADSTS65001: Partner Center says the
	// consent exists, verification fails, and the tenant shows why.
	fc := resultFor(t, rs, scenario.DemoFourthCoffee)
	if fc.State != consent.ResultFailed || fc.Code != "AADSTS65001" || !fc.AlreadyExisted || fc.Remediation == "" {
		t.Errorf("Fourth Coffee %+v, want failed verification with AADSTS65001", fc)
	}
	if tn := e.tenant(scenario.DemoFourthCoffee); tn.Consent.State != domain.ConsentFailed || tn.Consent.Method != consent.MethodCPV || !strings.Contains(tn.Consent.Error, "AADSTS65001") {
		t.Errorf("Fourth Coffee stored %+v", tn.Consent)
	}
	// Tenants consented before are not part of "every eligible tenant".
	for _, r := range rs {
		if r.TenantID == scenario.DemoContosoDental {
			t.Errorf("already consented Contoso Dental in the results: %+v", r)
		}
	}
	// Consolidated Messenger (no Privileged Role Administrator, Global Reader) by the gdap path.
	if r := resultFor(t, rs, scenario.DemoConsolidated); r.State != consent.ResultConsented || r.Method != consent.MethodGDAP {
		t.Errorf("Consolidated Messenger %+v, want consented by gdap", r)
	}
	// Only the newly consented tenants are queued.
	for _, req := range e.q.SyncRequests(t) {
		if req.TenantID != scenario.DemoWoodgroveBank && req.TenantID != scenario.DemoConsolidated {
			t.Errorf("queued %s, only Woodgrove and Consolidated Messenger were consented", req.TenantID)
		}
	}
	sum := consent.Summarize(rs)
	if sum.Consented != 2 || sum.Failed < 1 || sum.Skipped < 2 || !strings.Contains(sum.String(), "2 consented") {
		t.Errorf("summary %+v %q", sum, sum)
	}
	e.scanSecrets()
}

// A tenant the store believes eligible but where Partner Center refuses (GDAP changed since
// discovery): consent failed with Partner Center's reason and the fix.
func TestCPVPartnerCenterRefusalIsRecorded(t *testing.T) {
	e := newEnv(t)
	e.discover()
	tn := e.tenant(scenario.DemoAdventureWorks)
	tn.Relationship.Roles = append(tn.Relationship.Roles, discovery.RoleCloudApplicationAdmin)
	tn.Relationship.AssignedRoles = append(tn.Relationship.AssignedRoles, discovery.RoleCloudApplicationAdmin)
	if err := e.st.UpsertTenant(e.ctx, tn); err != nil {
		t.Fatal(err)
	}
	rs, err := e.svc.GrantCPV(e.ctx, []string{scenario.DemoAdventureWorks})
	if err != nil {
		t.Fatal(err)
	}
	e.answer(rs)
	r := resultFor(t, rs, scenario.DemoAdventureWorks)
	if r.State != consent.ResultFailed || r.Code != "PartnerCenterForbidden" || !strings.Contains(r.Error, "Global Reader") || !strings.Contains(r.Remediation, "consent-link") {
		t.Errorf("result %+v, want failed with Partner Center's 403 naming the roles held and the link as fix", r)
	}
	got := e.tenant(scenario.DemoAdventureWorks).Consent
	if got.State != domain.ConsentFailed || !strings.HasPrefix(got.Error, "PartnerCenterForbidden: ") || !strings.Contains(got.Error, " — ") {
		t.Errorf("stored %+v, want failed with code, message and fix", got)
	}
	if len(e.q.SyncRequests(t)) != 0 {
		t.Errorf("a sync was queued for a failed consent")
	}
}

// Without the partner connection nothing can run, and no tenant is blamed.
func TestCPVWithoutPartnerTokenStoresNothing(t *testing.T) {
	e := newEnvWith(t, envOptions{noPartnerToken: true})
	e.discover()
	before := e.rows()
	rs, err := e.svc.GrantCPV(e.ctx, nil)
	var p *domain.Problem
	if !errors.Is(err, consent.ErrPartnerCenter) || !errors.As(err, &p) || !strings.Contains(p.Remediation, "/api/connect") {
		t.Fatalf("err %v, want ErrPartnerCenter telling to connect the partner account", err)
	}
	for _, r := range rs {
		if r.State != consent.ResultSkipped {
			t.Errorf("result %+v without a partner token", r)
		}
	}
	sameRows(t, before, e.rows(), "GrantCPV without a partner token")
	// Nothing eligible: no token is needed and nothing fails.
	if rs, err := e.svc.GrantCPV(e.ctx, []string{scenario.DemoAdventureWorks, scenario.DemoContosoDental, "not-a-guid", "00000000-0000-0000-0000-000000000001"}); err != nil {
		t.Fatal(err)
	} else {
		codes := map[string]string{}
		for _, r := range rs {
			codes[r.TenantID] = r.Code
		}
		want := map[string]string{scenario.DemoAdventureWorks: consent.CodeMissingRoles, scenario.DemoContosoDental: consent.CodeAlreadyConsented,
			"not-a-guid": consent.CodeNotATenant, "00000000-0000-0000-0000-000000000001": consent.CodeUnknownTenant}
		for id, c := range want {
			if codes[id] != c {
				t.Errorf("%s: code %q, want %q (all: %v)", id, codes[id], c, codes)
			}
		}
	}
}
