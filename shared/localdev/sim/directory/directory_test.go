package directory

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

func TestGrantRevokeAndSecrets(t *testing.T) {
	w, err := scenario.Load("demo", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	d := New(w, nil)
	app := w.App()
	if _, ok := d.ServicePrincipal(scenario.DemoContosoDental, app.AppID); !ok {
		t.Fatal("a consented scenario tenant has no service principal")
	}
	if _, ok := d.ServicePrincipal(scenario.DemoPartnerTenantID, app.AppID); !ok {
		t.Fatal("the app is not consented in its home tenant")
	}
	if _, ok := d.ServicePrincipal(scenario.DemoWoodgroveBank, app.AppID); ok {
		t.Fatal("an unconsented tenant has a service principal")
	}
	sp, existed, err := d.Grant(scenario.DemoWoodgroveBank, app.AppID, "cpv")
	if err != nil || existed || sp.Via != "cpv" || !slices.Contains(sp.Roles, "User.Read.All") {
		t.Fatalf("first grant: %+v existed=%v %v", sp, existed, err)
	}
	if _, existed, _ := d.Grant(scenario.DemoWoodgroveBank, app.AppID, "cpv"); !existed {
		t.Error("a repeated grant must report that the permission entry already exists")
	}
	if err := d.Revoke(scenario.DemoWoodgroveBank, app.AppID); err != nil {
		t.Fatal(err)
	}
	if err := d.Revoke(scenario.DemoWoodgroveBank, app.AppID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
	if _, _, err := d.Grant(scenario.DemoWoodgroveBank, "no-such-app", "cpv"); !errors.Is(err, ErrNotFound) {
		t.Errorf("grant of an unknown app: %v", err)
	}
	a, _ := d.App(app.AppID)
	if !a.Passwords[0].Matches(app.Secrets[0].Value) || a.Passwords[0].Matches(app.Secrets[0].KeyID) {
		t.Error("secret matching must compare the value, never the key id")
	}
}
