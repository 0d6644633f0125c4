package consent_test

import (
	"context"
	"flag"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
)

// FuzzConsentCallback feeds arbitrary query strings to the anonymous callback. The tenants it
// could mark consented are all reachable with an app-only token (Contoso Dental had its consent
// record reset; Adventure Works' admin approved at Entra but the callback never arrived), so only
// the callback's checks stand between an input and a consent. No input may panic, be accepted,
// or leave a tenant consented; none is echoed on the page.
func FuzzConsentCallback(f *testing.F) {
	e := newEnv(f)
	e.discover()
	if err := e.st.SetConsent(e.ctx, scenario.DemoContosoDental, domain.Consent{State: domain.ConsentNone}); err != nil {
		f.Fatal(err)
	}
	_, m := e.sendLink(scenario.DemoAdventureWorks)
	genuine := e.follow(e.link(m), "approve") // the app now exists in Adventure Works
	state := genuine.Get("state")
	payload, sig, _ := strings.Cut(state, ".")
	forger, _ := oauthstate.NewSigner([]byte("an attacker's key that is 32 bytes long!"), nil)
	forged, _ := forger.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConsent, TenantID: scenario.DemoContosoDental, Expires: time.Now().Add(time.Hour)})
	connect, _ := e.opts.Signer.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConnect, TenantID: scenario.DemoContosoDental, Expires: time.Now().Add(time.Hour)})
	e.clock.shift(-30 * 24 * time.Hour)
	expired, _ := e.opts.Signer.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConsent, TenantID: scenario.DemoContosoDental, Expires: e.clock.now().Add(time.Hour)})
	e.clock.reset()
	watched := []string{scenario.DemoContosoDental, scenario.DemoAdventureWorks, scenario.DemoWoodgroveBank}

	enc := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	for _, seed := range []string{
		"", "state=", "state=x", "state=a.b", "state=a.b.c", "%zz", "state=%00%ff", strings.Repeat("state=A&", 200),
		enc("admin_consent", "True", "tenant", scenario.DemoContosoDental, "state", forged),
		enc("admin_consent", "True", "tenant", scenario.DemoContosoDental, "state", connect),
		enc("admin_consent", "True", "tenant", scenario.DemoContosoDental, "state", expired),
		enc("admin_consent", "True", "tenant", scenario.DemoAdventureWorks, "state", payload+"."+flip(sig)),
		enc("admin_consent", "True", "tenant", scenario.DemoAdventureWorks, "state", payload+"x."+sig),
		enc("admin_consent", "True", "tenant", scenario.DemoAdventureWorks, "state", payload),
		enc("admin_consent", "True", "tenant", scenario.DemoAdventureWorks, "state", "."+sig),
		enc("error", "access_denied", "error_description", "AADSTS65004: User declined to consent.\r\nTrace ID: x", "state", forged),
		enc("admin_consent", "True", "tenant", scenario.DemoAdventureWorks, "tenant", scenario.DemoAdventureWorks, "state", forged),
	} {
		f.Add(seed)
	}
	var execs atomic.Int64
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // a malformed query still yields what parsed, as net/http does
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		out, err := e.svc.Callback(ctx, q)
		if err == nil || out.OK {
			t.Fatalf("query %q accepted: %+v", raw, out)
		}
		if out.Message == "" {
			t.Fatalf("query %q: no message for the page", raw)
		}
		for _, vs := range q {
			for _, v := range vs {
				if len(v) >= 8 && strings.Contains(out.Message, v) && !strings.Contains(validWords, v) {
					t.Fatalf("the page echoes input %q: %q", v, out.Message)
				}
			}
		}
		// A consent would queue the tenant's first sync and log it; reading the tenants from
		// Table Storage as well is slow, so under -fuzz it is done on every 64th input only.
		if n := len(e.q.SyncRequests(t)); n != 0 {
			t.Fatalf("query %q queued a sync", raw)
		}
		if strings.Contains(e.logs.String(), `"msg":"tenant consented"`) {
			t.Fatalf("query %q consented a tenant (log)", raw)
		}
		if execs.Add(1)%64 != 0 && fuzzing() {
			return
		}
		for _, id := range watched {
			tn, err := e.st.GetTenant(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if tn.Consent.State == domain.ConsentConsented {
				t.Fatalf("query %q marked %s consented", raw, id)
			}
		}
	})
}

// fuzzing: running with -fuzz rather than over the seed corpus.
func fuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}

// validWords: input that happens to equal part of a fixed message is not an echo.
const validWords = "This approval link is not valid: it was not issued by your IT provider or Contoso MSP or it was altered. Ask for a new link. " +
	"This page only works when Microsoft sends you back to it after an approval link from. Open the link from your e-mail again. " +
	"This approval link has expired. Ask to send you a new one. Microsoft did not say which organization approved. " +
	"This approval link was issued for another organization than the one you signed in to. Sign in with an administrator account of the organization named in the e-mail " +
	"Microsoft did not confirm the approval. This approval link is for an organization no longer manages here. This approval link was already used."
