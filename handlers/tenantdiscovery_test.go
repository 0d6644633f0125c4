package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/store"
)

// TenantDiscovery, invoked as the host fires the timer: a payload without the timer binding fails
// before discovering anything; the timer discovers the partner's customers from GDAP and Partner
// Center, stores them and logs the counts (new ones only the first time); with AUTO_CONSENT it
// also consents the eligible tenants through Partner Center and logs the summary; an app
// credential near expiry is warned about in the log. No secret reaches the logs, tables or
// answers. Against Azurite and the simulator (consentHandlerEnv).
func TestTenantDiscovery(t *testing.T) {
	e := newConsentHandlerEnv(t, consentHandlerOptions{})
	if code, resp := invoke(t, e.mux, "TenantDiscovery", serviceBusInvocation([]byte("{}"), "m1", 1)); code != http.StatusInternalServerError ||
		!strings.Contains(strings.Join(resp.Logs, "\n"), `binding "timer"`) {
		t.Errorf("without a timer binding: %d %q", code, resp.Logs)
	}
	if _, err := e.store.GetTenant(e.ctx, scenario.DemoWoodgroveBank); !store.IsNotFound(err) {
		t.Fatalf("discovery ran without a timer payload (%v)", err)
	}

	code, resp := invoke(t, e.mux, "TenantDiscovery", timerInvocation)
	logs := strings.Join(resp.Logs, "\n")
	if code != http.StatusOK || !strings.HasPrefix(logs, "discovered 14 tenants (14 new, 0 missing)") || strings.Contains(logs, "Partner Center consent") {
		t.Errorf("first run: %d %q", code, logs)
	}
	if tn := e.tenant(scenario.DemoWoodgroveBank); tn.DisplayName == "" || tn.Consent.State == domain.ConsentConsented {
		t.Errorf("Woodgrove after discovery without AUTO_CONSENT: %+v", tn)
	}
	code, resp = invoke(t, e.mux, "TenantDiscovery", timerInvocation)
	if logs := strings.Join(resp.Logs, "\n"); code != http.StatusOK || !strings.HasPrefix(logs, "discovered 14 tenants (0 new, 0 missing)") {
		t.Errorf("second run: %d %q", code, logs)
	}

	// AUTO_CONSENT, and an app credential expiring in ten days.
	d := e.deps
	d.AutoConsent, d.AppAuth, d.Vault = true, config.AuthSecret, fixedExpiry(time.Now().Add(10*24*time.Hour))
	e.mux = New(d)
	code, resp = invoke(t, e.mux, "TenantDiscovery", timerInvocation)
	logs = strings.Join(resp.Logs, "\n")
	if code != http.StatusOK || !strings.Contains(logs, "Partner Center consent: 2 consented") {
		t.Errorf("with AUTO_CONSENT: %d %q", code, logs)
	}
	if c := e.tenant(scenario.DemoWoodgroveBank).Consent; c.State != domain.ConsentConsented {
		t.Errorf("Woodgrove after discovery with AUTO_CONSENT: %+v", c)
	}
	// No Privileged Role Administrator, Global Reader in force: consented by the gdap path.
	if c := e.tenant(scenario.DemoConsolidated).Consent; c.State != domain.ConsentConsented || c.Method != "gdap" {
		t.Errorf("Consolidated Messenger after discovery with AUTO_CONSENT: %+v", c)
	}
	if !strings.Contains(e.logs.String(), "app credential needs attention") {
		t.Error("the credential's expiry is not warned about")
	}
	e.answers = append(e.answers, logs)
	e.scan()
}
