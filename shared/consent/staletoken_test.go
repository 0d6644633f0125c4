package consent_test

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// A tenant whose app-only token was cached before its admin approved (discovery's access check
// after a Partner Center consent that granted no app roles) gets a new token once approved: the
// cached one carries no roles and would answer 403 until it expired, to the approval's
// verification (what broke `demo -scenario large` at its consent-link step) and to the first sync
// queued right after it.
func TestLinkApprovalIsVerifiedWithANewToken(t *testing.T) {
	e := newEnv(t)
	e.discover()
	id := scenario.DemoAdventureWorks
	// A service principal without app roles, as Partner Center's consent leaves it, and a token
	// for it in the credential cache.
	if _, _, err := e.sim.Directory.GrantDelegated(id, scenario.DemoAppID, nil); err != nil {
		t.Fatal(err)
	}
	cred, err := e.creds.For(id)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := cred.GetToken(e.ctx, policy.TokenRequestOptions{Scopes: []string{e.ep.GraphScope()}})
	if err != nil {
		t.Fatalf("token before consent: %v", err)
	}
	if c := e.claims(stale.Token); len(c.Roles) != 0 {
		t.Fatalf("the token before consent carries roles %v: the test needs one without", c.Roles)
	}

	_, m := e.sendLink(id)
	out, err := e.svc.Callback(e.ctx, e.follow(e.link(m), "approve"))
	e.answer(out)
	if err != nil || !out.OK {
		t.Fatalf("callback after approval: %+v, %v; want consented (verified with a token issued after the approval)", out, err)
	}
	fresh, err := e.creds.For(id)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fresh.GetToken(e.ctx, policy.TokenRequestOptions{Scopes: []string{e.ep.GraphScope()}})
	if err != nil {
		t.Fatal(err)
	}
	if c := e.claims(tok.Token); len(c.Roles) < len(appperms.Graph) {
		t.Errorf("token after approval has roles %v, want the app's %d", c.Roles, len(appperms.Graph))
	}
	e.scanSecrets()
}
