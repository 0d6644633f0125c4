package consent_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
)

// sendLink sends Adventure Works' link and returns the mail it produced.
func (e *env) sendLink(tenantID string) (consent.Pending, mailOut) {
	e.t.Helper()
	before := len(e.outbox())
	p, err := e.svc.SendLink(e.ctx, tenantID, customer, requester)
	if err != nil {
		e.t.Fatal(err)
	}
	e.answer(p)
	box := e.outbox()
	if len(box) != before+1 {
		e.t.Fatalf("outbox has %d mails, want %d", len(box), before+1)
	}
	return p, box[len(box)-1]
}

func TestLinkApproveConsentsAndQueues(t *testing.T) {
	e := newEnv(t)
	e.discover()
	p, m := e.sendLink(scenario.DemoAdventureWorks)

	// The record on the tenant.
	if p.TenantID != scenario.DemoAdventureWorks || p.To != customer || p.RequestedBy != requester || p.State != domain.ConsentPending {
		t.Errorf("pending %+v", p)
	}
	if d := p.Expires.Sub(p.SentAt); d < 7*24*time.Hour-time.Second || d > 7*24*time.Hour {
		t.Errorf("link valid for %s, want LinkTTL (7 days)", d)
	}
	c := e.tenant(scenario.DemoAdventureWorks).Consent
	if c.State != domain.ConsentPending || c.Method != consent.MethodLink || c.PendingTo != customer || c.RequestedBy != requester ||
		!c.ExpiresAt.Equal(p.Expires) || c.SentAt.IsZero() {
		t.Errorf("stored consent %+v, want pending link to %s until %s", c, customer, p.Expires)
	}

	// The mail: from the configured mailbox in the partner tenant, to the customer's admin,
	// naming the app, who asked, every permission with why, the expiry and the link.
	if m.TenantID != scenario.DemoPartnerTenantID || !strings.EqualFold(m.From, mailFrom) || len(m.To) != 1 || m.To[0] != customer {
		t.Errorf("mail from %s (%s) to %v", m.From, m.TenantID, m.To)
	}
	for _, want := range []string{"Adventure Works", "tenantsync", requester} {
		if !strings.Contains(m.Subject, want) {
			t.Errorf("subject %q lacks %q", m.Subject, want)
		}
	}
	for _, want := range []string{requester + " at Contoso MSP", "Adventure Works", "It only reads", p.Expires.Format("2 January 2006"), "can be used once"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("mail text lacks %q:\n%s", want, m.Text)
		}
	}
	for _, perm := range appperms.Graph {
		if !strings.Contains(m.Text, "- "+perm.Value+": "+perm.Why) {
			t.Errorf("mail does not list %s with why", perm.Value)
		}
	}
	link := e.link(m)
	lu, _ := url.Parse(link)
	if lu.Path != "/"+scenario.DemoAdventureWorks+"/v2.0/adminconsent" || lu.Query().Get("client_id") != scenario.DemoAppID ||
		lu.Query().Get("scope") != "https://graph.microsoft.com/.default" || lu.Query().Get("redirect_uri") != e.public+"/api/consent/callback" || lu.Query().Get("state") == "" {
		t.Errorf("consent link %s", link)
	}
	if !strings.Contains(m.HTML, `<a href="`) || strings.Contains(m.Text, "<") {
		t.Errorf("mail is not HTML that reads as text:\n%s", m.Text)
	}

	// The customer's admin follows the link and approves; Entra sends them back to us.
	q := e.follow(link, "approve")
	if q.Get("admin_consent") != "True" || !strings.EqualFold(q.Get("tenant"), scenario.DemoAdventureWorks) {
		t.Fatalf("callback query %v", q)
	}
	out, err := e.svc.Callback(e.ctx, q)
	e.answer(out)
	if err != nil || !out.OK || out.TenantName != "Adventure Works" || !strings.Contains(out.Message, "Adventure Works has approved tenantsync") {
		t.Fatalf("callback %+v, %v", out, err)
	}
	checkConsented(t, e, consent.Result{State: consent.ResultConsented, Method: consent.MethodLink}, scenario.DemoAdventureWorks, consent.MethodLink)
	if c := e.tenant(scenario.DemoAdventureWorks).Consent; c.PendingTo != "" || !c.ExpiresAt.IsZero() {
		t.Errorf("consented tenant still shows the pending link: %+v", c)
	}

	// Replayed: the same callback again is refused and changes nothing.
	before := e.rows()
	out, err = e.svc.Callback(e.ctx, q)
	e.answer(out)
	if !errors.Is(err, consent.ErrRejected) || !errors.Is(err, oauthstate.ErrReplayed) || out.OK || !strings.Contains(out.Message, "already used") {
		t.Errorf("replay: %+v, %v", out, err)
	}
	sameRows(t, before, e.rows(), "a replayed callback")
	if n := len(e.q.SyncRequests(t)); n != 1 {
		t.Errorf("%d syncs queued, want the one first sync", n)
	}

	// Linking a consented tenant is refused clearly.
	if _, err := e.svc.SendLink(e.ctx, scenario.DemoAdventureWorks, customer, requester); !errors.Is(err, consent.ErrAlreadyConsented) {
		t.Errorf("link for a consented tenant: %v", err)
	}
	e.scanSecrets()
}

func TestLinkDeclineRecordsReason(t *testing.T) {
	e := newEnv(t)
	e.discover()
	_, m := e.sendLink(scenario.DemoAdventureWorks)
	q := e.follow(e.link(m), "deny")
	if q.Get("error") != "access_denied" || !strings.Contains(q.Get("error_description"), "AADSTS65004") {
		t.Fatalf("deny callback query %v", q)
	}
	out, err := e.svc.Callback(e.ctx, q)
	e.answer(out)
	if !errors.Is(err, consent.ErrDeclined) || out.OK || !strings.Contains(out.Message, "did not approve") || out.TenantName != "Adventure Works" {
		t.Fatalf("decline: %+v, %v", out, err)
	}
	c := e.tenant(scenario.DemoAdventureWorks).Consent
	if c.State != domain.ConsentFailed || c.Method != consent.MethodLink || !strings.HasPrefix(c.Error, "AADSTS65004: ") ||
		!strings.Contains(c.Error, "declined") || strings.Contains(c.Error, "Trace ID") || strings.Contains(c.Error, "\n") {
		t.Errorf("stored %+v, want failed with the decline reason (AADSTS65004) and no trace ids", c)
	}
	if n := len(e.q.SyncRequests(t)); n != 0 {
		t.Errorf("%d syncs queued after a decline", n)
	}
	if _, ok := e.sim.Directory.ServicePrincipal(scenario.DemoAdventureWorks, scenario.DemoAppID); ok {
		t.Errorf("the simulator created the app after a decline")
	}
	// Declining used the link: it cannot be replayed, e.g. as an approval.
	q.Del("error")
	q.Del("error_description")
	q.Set("admin_consent", "True")
	q.Set("tenant", scenario.DemoAdventureWorks)
	if _, err := e.svc.Callback(e.ctx, q); !errors.Is(err, oauthstate.ErrReplayed) {
		t.Errorf("reusing a declined link: %v", err)
	}
	// A new link then works.
	_, m = e.sendLink(scenario.DemoAdventureWorks)
	if out, err := e.svc.Callback(e.ctx, e.follow(e.link(m), "approve")); err != nil || !out.OK {
		t.Fatalf("second link: %+v, %v", out, err)
	}
	checkConsented(t, e, consent.Result{State: consent.ResultConsented, Method: consent.MethodLink}, scenario.DemoAdventureWorks, consent.MethodLink)
	e.scanSecrets()
}

func TestSendLinkValidation(t *testing.T) {
	empty := ""
	e := newEnvWith(t, envOptions{mailFrom: &empty})
	e.discover()
	before := e.rows()
	for _, bad := range []string{"", "   ", "not-an-email", "a@b.com, c@d.com", "Admin <admin@adventureworks.com>", "admin@localhost", "admin@@x.com", "admin@x.com\r\nBcc: y@z.com"} {
		if _, err := e.svc.SendLink(e.ctx, scenario.DemoAdventureWorks, bad, requester); !errors.Is(err, consent.ErrInvalidEmail) {
			t.Errorf("address %q: %v, want ErrInvalidEmail", bad, err)
		}
	}
	for _, id := range []string{"00000000-0000-0000-0000-000000000001", "nope"} {
		if _, err := e.svc.SendLink(e.ctx, id, customer, requester); !errors.Is(err, consent.ErrUnknownTenant) {
			t.Errorf("tenant %q: %v, want ErrUnknownTenant", id, err)
		}
	}
	if _, err := e.svc.SendLink(e.ctx, scenario.DemoContosoDental, customer, requester); !errors.Is(err, consent.ErrAlreadyConsented) || !strings.Contains(err.Error(), "Contoso Dental") {
		t.Errorf("consented tenant: %v, want ErrAlreadyConsented naming it", err)
	}
	if _, err := e.svc.SendLink(e.ctx, scenario.DemoAdventureWorks, customer, requester); !errors.Is(err, consent.ErrMailNotConfigured) || !strings.Contains(err.Error(), "CONSENT_MAIL_FROM") {
		t.Errorf("no CONSENT_MAIL_FROM: %v", err)
	}
	if n := len(e.outbox()); n != 0 {
		t.Errorf("%d mails sent by refused requests", n)
	}
	sameRows(t, before, e.rows(), "refused link requests")

	// A mailbox that does not exist: Graph's refusal with the fix, nothing recorded.
	bad := "nobody@" + scenario.DemoPartnerDomain
	e2 := e.withMailFrom(bad)
	_, err := e2.SendLink(e.ctx, scenario.DemoAdventureWorks, customer, requester)
	var p *domain.Problem
	if !errors.Is(err, consent.ErrMailFailed) || !errors.As(err, &p) || !strings.Contains(p.Remediation, "CONSENT_MAIL_FROM") {
		t.Errorf("unknown sender mailbox: %v", err)
	}
	sameRows(t, before, e.rows(), "a mail Graph refused")
}

func (e *env) withMailFrom(from string) *consent.Service {
	o := e.opts
	o.MailFrom = from
	return consent.New(o)
}

// Resend: every link is new; older ones stay valid until they expire or one is used. A pending
// link past its expiry reads as expired with "send a new link".
func TestLinkResendAndExpiry(t *testing.T) {
	e := newEnv(t)
	e.discover()
	// A link sent eight days ago (seven-day links) has expired.
	e.clock.shift(-8 * 24 * time.Hour)
	_, old := e.sendLink(scenario.DemoAdventureWorks)
	e.clock.reset()
	c := e.tenant(scenario.DemoAdventureWorks).Consent
	if c.State != domain.ConsentExpired || !strings.Contains(c.Error, "send a new link") || c.PendingTo != customer {
		t.Errorf("consent %+v, want expired with send a new link", c)
	}
	before := e.rows()
	out, err := e.svc.Callback(e.ctx, e.follow(e.link(old), "approve"))
	if !errors.Is(err, oauthstate.ErrExpired) || out.OK || !strings.Contains(out.Message, "expired") {
		t.Errorf("expired link: %+v, %v", out, err)
	}
	sameRows(t, before, e.rows(), "an expired link")

	// Two fresh links: the first one sent still works after the second.
	_, first := e.sendLink(scenario.DemoAdventureWorks)
	p2, second := e.sendLink(scenario.DemoAdventureWorks)
	if c := e.tenant(scenario.DemoAdventureWorks).Consent; c.State != domain.ConsentPending || !c.ExpiresAt.Equal(p2.Expires) {
		t.Errorf("after resend %+v, want pending until the newest link's expiry", c)
	}
	if e.link(first) == e.link(second) {
		t.Fatal("a resend produced the same link")
	}
	if out, err := e.svc.Callback(e.ctx, e.follow(e.link(first), "approve")); err != nil || !out.OK {
		t.Fatalf("older link: %+v, %v", out, err)
	}
	checkConsented(t, e, consent.Result{State: consent.ResultConsented, Method: consent.MethodLink}, scenario.DemoAdventureWorks, consent.MethodLink)
	// The newer link, used afterwards, finds the tenant consented: nothing more happens.
	if out, err := e.svc.Callback(e.ctx, e.follow(e.link(second), "approve")); err != nil || !out.OK || !strings.Contains(out.Message, "already approved") {
		t.Errorf("newer link after consent: %+v, %v", out, err)
	}
	if n := len(e.q.SyncRequests(t)); n != 1 {
		t.Errorf("%d syncs queued, want one", n)
	}
}

// Forged, tampered, expired, cross-tenant and malformed states are refused with a clear message
// and nothing is stored (no used-state row, no tenant change, no queued sync).
func TestCallbackRejections(t *testing.T) {
	e := newEnv(t)
	e.discover()
	_, m := e.sendLink(scenario.DemoAdventureWorks)
	good := e.follow(e.link(m), "approve") // approved at Entra: the app exists in the tenant now
	state := good.Get("state")
	payload, sig, _ := strings.Cut(state, ".")

	forger, _ := oauthstate.NewSigner([]byte("an attacker's key that is 32 bytes long!"), nil)
	forged, _ := forger.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConsent, TenantID: scenario.DemoAdventureWorks, Expires: time.Now().Add(time.Hour)})
	connect, _ := e.opts.Signer.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConnect, Expires: time.Now().Add(time.Hour)})
	// Tampered: the payload re-encoded for another tenant, the signature kept.
	body, _ := base64.RawURLEncoding.DecodeString(payload)
	var claims map[string]any
	_ = json.Unmarshal(body, &claims)
	claims["t"] = scenario.DemoWoodgroveBank
	nb, _ := json.Marshal(claims)
	tampered := base64.RawURLEncoding.EncodeToString(nb) + "." + sig
	e.clock.shift(-8 * 24 * time.Hour)
	expired, _ := e.opts.Signer.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConsent, TenantID: scenario.DemoAdventureWorks, Expires: e.clock.now().Add(7 * 24 * time.Hour)})
	e.clock.reset()
	woodgrove, _ := e.opts.Signer.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConsent, TenantID: scenario.DemoWoodgroveBank, Expires: time.Now().Add(time.Hour)})

	with := func(edit func(url.Values)) url.Values {
		q := url.Values{}
		for k, v := range good {
			q[k] = append([]string(nil), v...)
		}
		edit(q)
		return q
	}
	cases := []struct {
		name string
		q    url.Values
		want error
		msg  string
	}{
		{"forged", with(func(q url.Values) { q.Set("state", forged) }), oauthstate.ErrSignature, "not valid"},
		{"tampered signature", with(func(q url.Values) { q.Set("state", payload+"."+flip(sig)) }), oauthstate.ErrSignature, "not valid"},
		{"tampered tenant", with(func(q url.Values) { q.Set("state", tampered) }), oauthstate.ErrSignature, "not valid"},
		{"expired", with(func(q url.Values) { q.Set("state", expired) }), oauthstate.ErrExpired, "expired"},
		{"other purpose", with(func(q url.Values) { q.Set("state", connect) }), oauthstate.ErrPurpose, "not valid"},
		{"cross-tenant", with(func(q url.Values) { q.Set("tenant", scenario.DemoWoodgroveBank) }), nil, "another organization"},
		{"cross-tenant decline", with(func(q url.Values) {
			q.Set("tenant", scenario.DemoContosoDental)
			q.Set("error", "access_denied")
		}), nil, "another organization"},
		{"state for another tenant", with(func(q url.Values) { q.Set("state", woodgrove) }), nil, "another organization"},
		{"no state", with(func(q url.Values) { q.Del("state") }), nil, "only works"},
		{"garbage state", with(func(q url.Values) { q.Set("state", "<script>alert(1)</script>") }), oauthstate.ErrMalformed, "not valid"},
		{"two states", with(func(q url.Values) { q.Add("state", state) }), nil, "not valid"},
		{"no tenant", with(func(q url.Values) { q.Del("tenant") }), nil, "did not say"},
		{"not confirmed", with(func(q url.Values) { q.Set("admin_consent", "False") }), nil, "did not confirm"},
	}
	before := e.rows()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := e.svc.Callback(e.ctx, c.q)
			e.answer(out)
			if !errors.Is(err, consent.ErrRejected) || (c.want != nil && !errors.Is(err, c.want)) {
				t.Errorf("err %v, want rejected (%v)", err, c.want)
			}
			if out.OK || !strings.Contains(out.Message, c.msg) {
				t.Errorf("outcome %+v, want a refusal saying %q", out, c.msg)
			}
			for _, leak := range []string{scenario.DemoAdventureWorks, scenario.DemoWoodgroveBank, "AADSTS", "<script", "oauthstate", "signature"} {
				if strings.Contains(out.Message, leak) {
					t.Errorf("message %q shows %q", out.Message, leak)
				}
			}
			sameRows(t, before, e.rows(), c.name)
		})
	}
	if n := len(e.q.SyncRequests(t)); n != 0 {
		t.Errorf("%d syncs queued by rejected callbacks", n)
	}
	// After all that, the genuine callback still works once.
	if out, err := e.svc.Callback(e.ctx, good); err != nil || !out.OK {
		t.Fatalf("genuine callback after the rejections: %+v, %v", out, err)
	}
	if c := e.tenant(scenario.DemoAdventureWorks).Consent; c.State != domain.ConsentConsented || c.Method != consent.MethodLink {
		t.Errorf("consent %+v", c)
	}
	if c := e.tenant(scenario.DemoWoodgroveBank).Consent; c.State != domain.ConsentNone {
		t.Errorf("Woodgrove's consent changed by callbacks for Adventure Works: %+v", c)
	}
	e.scanSecrets()
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
