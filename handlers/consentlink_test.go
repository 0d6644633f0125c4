package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/operation"
)

// Consent-link bodies and addresses main accepted (issue 9, measured 7), and who is recorded as
// having asked under the admin rule (measured 8).
func TestConsentLinkStrictInputsAndWhoAsked(t *testing.T) {
	e := newConsentHandlerEnv(t, consentHandlerOptions{mailFrom: scenario.DemoServiceAccountUPN})
	e.discover()
	aw := "/api/tenants/" + scenario.DemoAdventureWorks + "/consent-link"
	admin := []string{"X-MS-CLIENT-PRINCIPAL", consentPrincipal("alex@contosomsp.onmicrosoft.com")}
	for _, c := range []struct{ body, code, says string }{
		{`{"email":"admin@adventureworks.com"} x`, "BadRequest", "more than one JSON value"},
		{`{"email":"admin@adventureworks.com"}{"email":"evil@evil.example"}`, "BadRequest", "more than one JSON value"},
		{`{"email":"admin@adventureworks.com","email":"evil@evil.example"}`, "BadRequest", `key "email" appears more than once`},
		{`{"email":"admin@adventureworks.com","Email":"evil@evil.example"}`, "BadRequest", `key "Email" must be spelled "email"`},
		{`{"EMAIL":"admin@adventureworks.com"}`, "BadRequest", `must be spelled "email"`},
		{`{"email":"admin@adventureworks.com","requestedBy":"Mallory"}`, "BadRequest", `key "requestedBy" is not accepted here (accepted: email)`},
		{`{"email":""}`, "BadRequest", `key "email" is missing`},
		{`{"email":"a@[127.0.0.1]"}`, "InvalidEmail", "IP address literal"},
		{`{"email":"admin@127.0.0.1"}`, "InvalidEmail", "IP address"},
		{`{"email":"\"a b\"@adventureworks.com"}`, "InvalidEmail", "no quotes"},
		{`{"email":"Admin <admin@adventureworks.com>"}`, "InvalidEmail", "one mailbox address"},
		{`{"email":"admin@adventureworks"}`, "InvalidEmail", "DNS name"},
	} {
		rec := e.do("POST", aw, c.body, admin...)
		if code, msg := errorCode(t, rec); rec.Code != http.StatusBadRequest || code != c.code || !strings.Contains(msg, c.says) {
			t.Errorf("POST %s: %d %s %q, want 400 %s saying %q", c.body, rec.Code, code, msg, c.code, c.says)
		}
	}
	if n := len(e.sim.Graph.Outbox()); n != 0 {
		t.Fatalf("%d mails sent by refused requests", n)
	}

	send := func(env *consentHandlerEnv, header ...string) (int, consent.Pending, string) {
		t.Helper()
		before := len(env.sim.Graph.Outbox())
		rec := env.do("POST", aw, `{"email":"admin@adventureworks.onmicrosoft.com"}`, header...)
		var p consent.Pending
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		mail := ""
		if box := env.sim.Graph.Outbox(); len(box) > before {
			mail = box[len(box)-1].Text
		}
		return rec.Code, p, mail
	}
	// A function key alone: automation, recorded as such and named nowhere in the mail.
	status, p, mail := send(e)
	if status != http.StatusAccepted || p.RequestedBy != domain.AutomationCaller || e.tenant(scenario.DemoAdventureWorks).Consent.RequestedBy != domain.AutomationCaller {
		t.Errorf("key only: %d, requested by %q", status, p.RequestedBy)
	}
	if mail == "" || strings.Contains(mail, "automation") || strings.Contains(mail, "function key") || !strings.Contains(mail, "Contoso MSP asks you") {
		t.Errorf("key-only mail:\n%s", mail)
	}
	// A signed-in admin in the group is who asked.
	if status, p, mail := send(e, admin...); status != http.StatusAccepted || p.RequestedBy != "alex@contosomsp.onmicrosoft.com" || !strings.Contains(mail, "alex@contosomsp.onmicrosoft.com at Contoso MSP") {
		t.Errorf("admin: %d, requested by %q", status, p.RequestedBy)
	}
	// Outside the group, or a token whose groups overflowed: refused, nothing sent.
	overage, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": "name", "claims": []map[string]string{
		{"typ": "name", "val": "alex@contosomsp.onmicrosoft.com"}, {"typ": "_claim_names", "val": `{"groups":"src1"}`}}})
	for name, c := range map[string]struct{ principal, code string }{
		"outside the group": {principal("mallory@contosomsp.onmicrosoft.com", "00000000-0000-4000-8000-000000000bad"), "Forbidden"},
		"group overage":     {base64.StdEncoding.EncodeToString(overage), "GroupOverage"},
	} {
		before := len(e.sim.Graph.Outbox())
		rec := e.do("POST", aw, `{"email":"admin@adventureworks.onmicrosoft.com"}`, "X-MS-CLIENT-PRINCIPAL", c.principal)
		if code, msg := errorCode(t, rec); rec.Code != http.StatusForbidden || code != c.code || msg == "" || len(e.sim.Graph.Outbox()) != before {
			t.Errorf("%s: %d %s %q", name, rec.Code, code, msg)
		}
	}

	// Without App Service Authentication the header is anybody's: ignored, the request is
	// automation (main trusted it and recorded the name it chose).
	off := newConsentHandlerEnv(t, consentHandlerOptions{mailFrom: scenario.DemoServiceAccountUPN, appServiceAuthOff: true})
	off.discover()
	for _, forged := range []string{consentPrincipal("Mallory"), principal("Mallory", "00000000-0000-4000-8000-000000000bad")} {
		status, p, mail := send(off, "X-MS-CLIENT-PRINCIPAL", forged, "X-MS-CLIENT-PRINCIPAL-NAME", "Mallory")
		if status != http.StatusAccepted || p.RequestedBy != domain.AutomationCaller || strings.Contains(mail, "Mallory") {
			t.Errorf("forged principal without App Service Authentication: %d, requested by %q, mail:\n%s", status, p.RequestedBy, mail)
		}
	}
	if !strings.Contains(off.logs.String(), "X-MS-CLIENT-PRINCIPAL ignored") {
		t.Error("the ignored principal header is not logged")
	}
	e.scan()
}

func TestConsentLinkWithoutMailbox(t *testing.T) {
	e := newConsentHandlerEnv(t, consentHandlerOptions{})
	if op := e.operate("POST", "/api/discovery", ""); op.State != operation.StateSucceeded {
		t.Fatalf("discovery: %+v", op)
	}
	rec := e.do("POST", "/api/tenants/"+scenario.DemoAdventureWorks+"/consent-link", `{"email":"admin@adventureworks.com"}`)
	if code, msg := errorCode(t, rec); rec.Code != http.StatusServiceUnavailable || code != "MailNotConfigured" || !strings.Contains(msg, "CONSENT_MAIL_FROM") {
		t.Errorf("no mailbox: %d %s %q", rec.Code, code, msg)
	}
	// Partner Center consent without the partner connection: 503 saying to connect.
	e2 := newConsentHandlerEnv(t, consentHandlerOptions{noPartnerToken: true})
	if op := e2.operate("POST", "/api/discovery", ""); op.State != operation.StateSucceeded {
		t.Fatalf("discovery: %+v", op)
	}
	op := e2.operate("POST", "/api/consent/cpv", `{"all": true}`)
	if op.State != operation.StateFailed || op.Error == nil || op.Error.Code != "PartnerNotConnected" || !strings.Contains(op.Error.Remediation+op.Error.Message, "/api/connect") {
		t.Errorf("cpv without partner: %+v %+v", op, op.Error)
	}
}
