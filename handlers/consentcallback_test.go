package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

func TestConsentLinkAndCallbackHandlers(t *testing.T) {
	e := newConsentHandlerEnv(t, consentHandlerOptions{mailFrom: scenario.DemoServiceAccountUPN})
	e.discover()
	aw := "/api/tenants/" + scenario.DemoAdventureWorks + "/consent-link"
	key := []string{"X-MS-CLIENT-PRINCIPAL", consentPrincipal("alex@contosomsp.onmicrosoft.com")}
	for _, c := range []struct {
		path, body string
		status     int
		code, says string
	}{
		{"/api/tenants/nope/consent-link", `{"email":"admin@adventureworks.com"}`, 400, "BadRequest", "tenant id"},
		{aw, `{"mail":"admin@adventureworks.com"}`, 400, "BadRequest", "email"},
		{aw, `not json`, 400, "BadRequest", "email"},
		{aw, `{"email":"a@b.com, c@d.com"}`, 400, "InvalidEmail", "one mailbox address"},
		{aw, `{"email":"nobody"}`, 400, "InvalidEmail", "nobody"},
		{"/api/tenants/00000000-0000-0000-0000-000000000001/consent-link", `{"email":"admin@x.com"}`, 404, "TenantNotFound", "discovery"},
		{"/api/tenants/" + scenario.DemoContosoDental + "/consent-link", `{"email":"admin@contosodental.com"}`, 409, "AlreadyConsented", "Contoso Dental"},
	} {
		rec := e.do("POST", c.path, c.body, key...)
		if code, msg := errorCode(t, rec); rec.Code != c.status || code != c.code || !strings.Contains(msg, c.says) {
			t.Errorf("POST %s %s: %d %s %q, want %d %s saying %q", c.path, c.body, rec.Code, code, msg, c.status, c.code, c.says)
		}
	}
	if n := len(e.sim.Graph.Outbox()); n != 0 {
		t.Fatalf("%d mails sent by refused requests", n)
	}

	// Sent: 202 with the pending record; the signed-in admin is who asked.
	rec := e.do("POST", aw, `{"email":"admin@adventureworks.onmicrosoft.com"}`, key...)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("consent link: %d %s", rec.Code, rec.Body)
	}
	var p consent.Pending
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.TenantID != scenario.DemoAdventureWorks || p.To != "admin@adventureworks.onmicrosoft.com" ||
		p.RequestedBy != "alex@contosomsp.onmicrosoft.com" || p.State != "pending" || !p.Expires.After(time.Now().Add(6*24*time.Hour)) {
		t.Errorf("pending %s", rec.Body)
	}
	if m := e.sim.Graph.Outbox()[0]; !strings.Contains(m.Text, "alex@contosomsp.onmicrosoft.com at Contoso MSP") || strings.Contains(m.Text, "Mallory") {
		t.Errorf("mail does not name the signed-in admin:\n%s", m.Text)
	}
	if got := e.do("GET", "/api/tenants/"+scenario.DemoAdventureWorks, "", key...); !strings.Contains(got.Body.String(), `"state":"pending"`) ||
		!strings.Contains(got.Body.String(), `"pendingTo":"admin@adventureworks.onmicrosoft.com"`) {
		t.Errorf("tenant answer %s", got.Body)
	}

	// A tenant name with markup is shown escaped on the page.
	tn := e.tenant(scenario.DemoAdventureWorks)
	tn.DisplayName = `Adventure <script>alert(1)</script> Works`
	if err := e.store.UpsertTenant(e.ctx, tn); err != nil {
		t.Fatal(err)
	}

	// The admin approves at Entra and lands on our callback (anonymous: no key, no principal).
	cb := e.approveAtEntra("approve")
	rec = e.do("GET", cb, "")
	page := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(page, "Approval received") ||
		!strings.Contains(page, "Adventure &lt;script&gt;alert(1)&lt;/script&gt; Works") || strings.Contains(page, "<script>") {
		t.Errorf("callback page %d:\n%s", rec.Code, page)
	}
	for _, h := range []string{"Cache-Control", "Content-Security-Policy", "Referrer-Policy", "X-Content-Type-Options"} {
		if rec.Header().Get(h) == "" {
			t.Errorf("callback page lacks %s", h)
		}
	}
	if c := e.tenant(scenario.DemoAdventureWorks).Consent; c.State != domain.ConsentConsented || c.Method != consent.MethodLink {
		t.Errorf("consent %+v after the callback", c)
	}
	if q := e.queue.Tenants(t); len(q) != 1 || q[0] != scenario.DemoAdventureWorks {
		t.Errorf("queued %v, want Adventure Works' first sync", q)
	}

	// Replayed, forged or cross-tenant: a plain 400 page, nothing internal on it.
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("tenant", scenario.DemoWoodgroveBank)
	for name, target := range map[string]string{
		"replayed":     cb,
		"cross-tenant": "/api/consent/callback?" + q.Encode(),
		"forged":       "/api/consent/callback?admin_consent=True&tenant=" + scenario.DemoAdventureWorks + "&state=eyJwIjoiY29uc2VudCJ9.AAAA",
		"markup":       "/api/consent/callback?state=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error=%3Cb%3E",
		"empty":        "/api/consent/callback",
	} {
		rec := e.do("GET", target, "")
		body := rec.Body.String()
		if rec.Code != http.StatusBadRequest || !strings.Contains(body, "Approval not completed") {
			t.Errorf("%s: %d\n%s", name, rec.Code, body)
		}
		for _, leak := range []string{"<script", "<b>", scenario.DemoAdventureWorks, scenario.DemoWoodgroveBank, "oauthstate", "goroutine", "signature"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s: page shows %q:\n%s", name, leak, body)
			}
		}
	}
	if c := e.tenant(scenario.DemoWoodgroveBank).Consent; c.State == domain.ConsentConsented {
		t.Errorf("cross-tenant callback consented Woodgrove: %+v", c)
	}

	// Declined: Woodgrove's admin says no; the page says so, the tenant shows why.
	if rec := e.do("POST", "/api/tenants/"+scenario.DemoWoodgroveBank+"/consent-link", `{"email":"admin@woodgrovebank.onmicrosoft.com"}`, key...); rec.Code != http.StatusAccepted {
		t.Fatalf("woodgrove link: %d %s", rec.Code, rec.Body)
	}
	rec = e.do("GET", e.approveAtEntra("deny"), "")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "did not approve") || strings.Contains(rec.Body.String(), "AADSTS") {
		t.Errorf("decline page %d:\n%s", rec.Code, rec.Body)
	}
	if c := e.tenant(scenario.DemoWoodgroveBank).Consent; c.State != domain.ConsentFailed || !strings.Contains(c.Error, "AADSTS65004") {
		t.Errorf("declined consent %+v", c)
	}
	e.scan()
}
