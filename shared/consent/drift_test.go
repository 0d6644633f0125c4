package consent_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/syncer"
)

// syncOnce runs one sync of id with the real engine, drift repair through GDAP wired as the
// handler wires it.
func (e *env) syncOnce(t *testing.T, id, runID string) *syncer.Result {
	t.Helper()
	eng := &syncer.Engine{Store: e.st, Credentials: e.creds, Endpoints: e.ep, Log: e.opts.Log, Delegated: e.graphToken,
		Roles: &approles.Assigner{ClientID: scenario.DemoAppID, Endpoints: e.ep, Token: e.graphToken, Log: e.opts.Log}}
	res, err := eng.Sync(e.ctx, domain.SyncRequest{TenantID: id, RunID: runID, Reason: "manual"}, syncer.Delivery{MessageID: runID, DeliveryCount: 1})
	if err != nil {
		t.Fatalf("sync %s: %v", id, err)
	}
	return res
}

// Consent drift where GDAP allows (Woodgrove has Privileged Role Administrator): the sync finds the
// token's roles short of the required permissions, assigns them through GDAP and syncs everything.
func TestSyncRepairsConsentDrift(t *testing.T) {
	e := newEnv(t)
	e.discover()
	checkConsentedWoodgrove(t, e)
	gone := []string{"AuditLog.Read.All", "Reports.Read.All"}
	if err := e.sim.Directory.WithdrawRoles(scenario.DemoWoodgroveBank, scenario.DemoAppID, gone...); err != nil {
		t.Fatal(err)
	}
	e.freshAppRoles(t, scenario.DemoWoodgroveBank) // the cached token now lacks them, as a long-lived one would
	res := e.syncOnce(t, scenario.DemoWoodgroveBank, "drift-repair")
	if res.Run.State != domain.SyncSucceeded {
		t.Errorf("run %s %+v, want succeeded after the repair", res.Run.State, res.Run.Error)
	}
	roles := e.freshAppRoles(t, scenario.DemoWoodgroveBank)
	for _, r := range gone {
		if !slices.Contains(roles, r) {
			t.Errorf("roles %v lack %s after the sync", roles, r)
		}
	}
}

// Consent drift where GDAP cannot repair it (Contoso Dental has no Privileged Role Administrator):
// the run syncs what it can and ends partial, saying which permissions are missing and the fix.
func TestSyncReportsConsentDrift(t *testing.T) {
	e := newEnv(t)
	e.discover()
	if err := e.sim.Directory.WithdrawRoles(scenario.DemoContosoDental, scenario.DemoAppID, "DeviceManagementManagedDevices.Read.All"); err != nil {
		t.Fatal(err)
	}
	res := e.syncOnce(t, scenario.DemoContosoDental, "drift-report")
	if res.Run.State != domain.SyncPartial {
		t.Fatalf("run %s %+v, want partial", res.Run.State, res.Run.Error)
	}
	tn := e.tenant(scenario.DemoContosoDental)
	p, ok := tn.Collections["permissions"]
	if !ok || p.Code() != syncer.CodeReconsentNeeded || p.Reason() != "re-consent needed: missing DeviceManagementManagedDevices.Read.All" ||
		!strings.Contains(p.Remediation(), "consent-link") || !strings.Contains(p.Remediation(), "Privileged Role Administrator") {
		t.Errorf("permissions status %+v", p)
	}
	if d := tn.Collections["devices"]; d.Available || d.Code() != syncer.CodeReconsentNeeded {
		t.Errorf("devices status %+v, want unavailable for the missing permission", d)
	}
	if u := tn.Collections["users"]; !u.Available {
		t.Errorf("users status %+v, want synced", u)
	}
}

func checkConsentedWoodgrove(t *testing.T, e *env) {
	t.Helper()
	if r := grant(t, e, scenario.DemoWoodgroveBank); r.State != "consented" {
		t.Fatalf("Woodgrove consent %+v", r)
	}
}
