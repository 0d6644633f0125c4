package consent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// Every flow at once, then the scan: logs, every Table Storage row, every answer.
func TestNoSecretsInLogsRowsOrAnswers(t *testing.T) {
	e := newEnv(t)
	e.discover()
	rs, err := e.svc.GrantCPV(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.answer(rs)
	e.answer(consent.Summarize(rs))
	_, m := e.sendLink(scenario.DemoAdventureWorks)
	out, err := e.svc.Callback(e.ctx, e.follow(e.link(m), "deny"))
	e.answer(out)
	e.answer(err.Error())
	_, m = e.sendLink(scenario.DemoAdventureWorks)
	out, err = e.svc.Callback(e.ctx, e.follow(e.link(m), "approve"))
	if err != nil || !out.OK {
		t.Fatalf("approve: %+v %v", out, err)
	}
	e.answer(out)
	tenants, err := e.st.ListTenants(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.answer(tenants)
	if len(*e.pcTokens) == 0 {
		t.Fatal("no delegated token was used: the scan would prove nothing about it")
	}
	e.scanSecrets()
}

// The scan itself must be able to fail: planted secrets are found wherever they are.
func TestSecretScanFindsPlantedSecrets(t *testing.T) {
	e := newEnv(t)
	e.discover()
	tok := e.creds.tokens()[0]
	for where, text := range map[string]string{
		"log":    `{"msg":"oops","token":"` + tok + `"}`,
		"secret": "client_secret=" + scenario.DemoSecretValue,
		"jwt":    "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4In0.c2ln",
	} {
		if len(e.leaks(where, text)) == 0 {
			t.Errorf("the scan missed the %s", where)
		}
	}
	// And in a table row.
	if err := e.st.SetConsent(context.Background(), scenario.DemoWoodgroveBank, domain.Consent{State: domain.ConsentFailed, Error: "token " + tok}); err != nil {
		t.Fatal(err)
	}
	found := false
	for k, v := range e.rows() {
		if len(e.leaks(k, v)) > 0 && strings.Contains(k, "Tenants/") {
			found = true
		}
	}
	if !found {
		t.Error("the scan missed a token in a table row")
	}
}
