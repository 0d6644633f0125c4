package e2e

// Consent end to end through the real processes: the local Functions host and the handler
// binary, Azurite, and the Microsoft cloud simulator (Entra, Graph, Partner Center, Key Vault,
// managed identity). The MSP connects its partner account, discovery consents what Partner
// Center can (AUTO_CONSENT), a tenant whose GDAP lacks the roles gets an e-mailed link, its
// admin approves from the mail, and both tenants sync.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/operation"
)

type consentStack struct {
	*stack
	browser *http.Client // trusts the simulator's CA, follows no redirects
	answers []string
}

// startConsentStack is startStack with PUBLIC_BASE_URL on this host (so Entra's redirects come
// back here), consent links sent from the demo service account's mailbox, and auto-consent on.
func startConsentStack(t *testing.T) *consentStack {
	t.Helper()
	return startConsentStackOn(t, nil)
}

// startConsentStackOn is startConsentStack on world (nil: the demo scenario).
func startConsentStackOn(t *testing.T, world *scenario.World) *consentStack {
	t.Helper()
	st := startStackWith(t, stackOptions{world: world, localPublicURL: true, settings: map[string]string{
		config.SettingConsentMailFrom: scenario.DemoServiceAccountUPN,
		config.SettingAutoConsent:     "true",
	}})
	s := &consentStack{stack: st}
	var err error
	if s.browser, err = st.ep.HTTPClient(); err != nil {
		t.Fatal(err)
	}
	s.browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return s
}

// call sends a request to the host (with the function key unless anonymous) without following
// redirects, and keeps the answer for the secret scan.
func (s *consentStack) call(method, target, body string, anonymous bool) (int, http.Header, string) {
	s.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = s.url + target
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if !anonymous {
		req.Header.Set("x-functions-key", s.key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{CheckRedirect: s.browser.CheckRedirect, Timeout: 3 * time.Minute}).Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s.answers = append(s.answers, resp.Header.Get("Location")+"\n"+string(b))
	return resp.StatusCode, resp.Header, string(b)
}

// entra opens a URL on the simulator's Entra as a browser would and returns the redirect.
func (s *consentStack) entra(u string) *url.URL {
	s.t.Helper()
	resp, err := s.browser.Get(u)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		s.t.Fatalf("Entra at %s answered %d to %q", u, resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc
}

func (s *consentStack) tenant(id string) domain.Tenant {
	s.t.Helper()
	status, _, body := s.call("GET", "/api/tenants/"+id, "", false)
	var tn domain.Tenant
	if status != http.StatusOK || json.Unmarshal([]byte(body), &tn) != nil {
		s.t.Fatalf("GET tenant %s: %d %s", id, status, body)
	}
	return tn
}

func (s *consentStack) waitIdle() {
	s.t.Helper()
	if status, _, body := s.call("POST", "/admin/queues/tenant-sync/wait-idle?timeout=90s", "", false); status != http.StatusOK {
		s.t.Fatalf("wait-idle: %d %s", status, body)
	}
}

func (s *consentStack) runs(id string) []domain.Run {
	s.t.Helper()
	status, _, body := s.call("GET", "/api/tenants/"+id+"/runs", "", false)
	var r struct{ Value []domain.Run }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &r) != nil {
		s.t.Fatalf("runs of %s: %d %s", id, status, body)
	}
	return r.Value
}

var consentE2ELink = regexp.MustCompile(`https://[^\s"<>()]+/adminconsent\?[^\s"<>()]+`)

// mailedLink reads the simulator's outbox through its control API and returns the newest
// mail to `to` and the admin-consent link in it.
func (s *consentStack) mailedLink(to string) (map[string]any, string) {
	s.t.Helper()
	resp, err := http.Get(s.sim.Endpoints().ControlURL + "/outbox")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var box struct{ Value []map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&box); err != nil {
		s.t.Fatal(err)
	}
	for i := len(box.Value) - 1; i >= 0; i-- {
		m := box.Value[i]
		if fmt.Sprint(m["to"]) == "["+to+"]" {
			link := consentE2ELink.FindString(fmt.Sprint(m["text"]))
			if link == "" {
				s.t.Fatalf("mail to %s has no admin-consent link:\n%s", to, m["text"])
			}
			return m, link
		}
	}
	s.t.Fatalf("no mail to %s in the outbox (%d mails)", to, len(box.Value))
	return nil, ""
}

func checkFirstSync(t *testing.T, s *consentStack, id, method string) {
	t.Helper()
	tn := s.tenant(id)
	if tn.Consent.State != domain.ConsentConsented || tn.Consent.Method != method {
		t.Errorf("%s consent %+v, want consented by %s", id, tn.Consent, method)
	}
	runs := s.runs(id)
	if len(runs) != 1 || runs[0].Reason != "consent" || (runs[0].State != domain.SyncSucceeded && runs[0].State != domain.SyncPartial) {
		t.Fatalf("%s runs %+v, want the first sync (reason consent) finished", id, runs)
	}
	if tn.Sync.State != runs[0].State || tn.Counts.Users == 0 {
		t.Errorf("%s sync %+v counts %+v after its first sync", id, tn.Sync, tn.Counts)
	}
}

func TestConsentEndToEnd(t *testing.T) {
	s := startConsentStack(t)

	// 1. The MSP connects its partner account (MFA sign-in of the service account).
	status, hdr, body := s.call("GET", "/api/connect", "", false)
	if status != http.StatusFound {
		t.Fatalf("GET /api/connect: %d %s", status, body)
	}
	back := s.entra(hdr.Get("Location") + "&sim_user=" + url.QueryEscape(scenario.DemoServiceAccountUPN))
	if status, _, body = s.call("GET", back.String(), "", true); status != http.StatusOK {
		t.Fatalf("connect callback %s: %d %s", back.Path, status, body)
	}

	// 2. Discovery with AUTO_CONSENT: Woodgrove (GDAP with Cloud Application Administrator and
	// Privileged Role Administrator) is consented through Partner Center, its app roles assigned
	// through GDAP and verified (cpv+roles), and its first sync queued at once. Consolidated
	// Messenger (no Privileged Role Administrator, Global Reader) gets Partner Center's service
	// principal with delegated read scopes and no app roles: consented by the gdap path once a
	// delegated token with Global Reader read it, synced with that token, mailbox usage
	// unavailable naming Reports Reader.
	do := func(method, path, body string) (int, []byte) {
		status, _, b := s.call(method, path, body, false)
		return status, []byte(b)
	}
	op := runOperation(t, do, "/api/discovery", "")
	var disc struct {
		Found   int
		Consent *consent.Summary `json:"consent"`
	}
	if op.State != operation.StateSucceeded || json.Unmarshal(op.Result, &disc) != nil || disc.Consent == nil || disc.Consent.Consented != 2 || disc.Consent.Error != "" {
		t.Fatalf("discovery: %+v %s", op, op.Result)
	}

	// 3. Adventure Works (Global Reader only): Partner Center cannot, the link can.
	op = runOperation(t, do, "/api/consent/cpv", `{"tenantIds":["`+scenario.DemoAdventureWorks+`"]}`)
	if res := string(op.Result); op.State != operation.StateSucceeded || !strings.Contains(res, `"code":"missingRoles"`) || !strings.Contains(res, "consent-link") {
		t.Fatalf("cpv for Adventure Works: %+v %s", op, res)
	}
	customerAdmin := "admin@adventureworks.onmicrosoft.com"
	// With the function key alone (no App Service Authentication locally) who asked is
	// automation, recorded as such; the mail names the partner only.
	status, _, body = s.call("POST", "/api/tenants/"+scenario.DemoAdventureWorks+"/consent-link", `{"email":"`+customerAdmin+`"}`, false)
	if status != http.StatusAccepted || !strings.Contains(body, `"to":"`+customerAdmin+`"`) || !strings.Contains(body, `"requestedBy":"`+domain.AutomationCaller+`"`) {
		t.Fatalf("consent link: %d %s", status, body)
	}
	mail, link := s.mailedLink(customerAdmin)
	if !strings.EqualFold(fmt.Sprint(mail["from"]), scenario.DemoServiceAccountUPN) || !strings.Contains(fmt.Sprint(mail["subject"]), "Adventure Works") ||
		!strings.Contains(fmt.Sprint(mail["text"]), "Contoso MSP asks you") || !strings.Contains(fmt.Sprint(mail["text"]), "Directory.Read.All") ||
		strings.Contains(fmt.Sprint(mail["text"]), "Mail.Send") || strings.Contains(fmt.Sprint(mail["text"]), "DelegatedAdminRelationship") {
		t.Errorf("mail %v", mail)
	}

	// 4. The customer's admin opens the link and approves; Entra sends the browser to our
	// public callback URL, which the browser then opens (anonymous).
	cb := s.entra(link + "&sim_action=approve")
	if cb.Scheme+"://"+cb.Host+cb.Path != s.public+"/api/consent/callback" {
		t.Fatalf("Entra redirected to %s", cb)
	}
	status, hdr, page := s.call("GET", cb.String(), "", true)
	// The page lists exactly what was granted (read permissions, nothing partner-only).
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(page, "Adventure Works has approved tenantsync") ||
		!strings.Contains(page, "Reports.Read.All") || strings.Contains(page, "Mail.Send") || strings.Contains(page, "DelegatedAdminRelationship") {
		t.Fatalf("callback page: %d\n%s", status, page)
	}
	if status, _, page = s.call("GET", cb.String(), "", true); status != http.StatusBadRequest || !strings.Contains(page, "already used") {
		t.Errorf("replayed callback: %d\n%s", status, page)
	}

	// 5. Both first syncs run.
	s.waitIdle()
	checkFirstSync(t, s, scenario.DemoWoodgroveBank, consent.MethodCPV)
	checkFirstSync(t, s, scenario.DemoAdventureWorks, consent.MethodLink)
	checkFirstSync(t, s, scenario.DemoConsolidated, consent.MethodGDAP)
	if cm := s.tenant(scenario.DemoConsolidated); cm.Sync.State != domain.SyncPartial || cm.Collections["mailboxes"].Available ||
		!strings.Contains(cm.Collections["mailboxes"].Remediation(), "Reports Reader") || !cm.Collections["users"].Available {
		t.Errorf("Consolidated Messenger after its delegated first sync: %+v %+v", cm.Sync, cm.Collections)
	}

	// Least privilege, whatever the path: in every customer tenant tenantsync holds read
	// application permissions only, and delegated read scopes only, except the bootstrap
	// AppRoleAssignment.ReadWrite.All where the service account holds Privileged Role
	// Administrator (Woodgrove, cpv+roles).
	w := s.sim.World
	for i := 0; i < w.TenantCount(); i++ {
		id := w.TenantAt(i).ID
		sp, ok := s.sim.Directory.ServicePrincipal(id, scenario.DemoAppID)
		if !ok {
			continue
		}
		for _, r := range sp.Roles {
			if !strings.Contains(r, ".Read") || strings.Contains(r, "Write") || r == "Mail.Send" || r == "DelegatedAdminRelationship.Read.All" {
				t.Errorf("customer tenant %s granted application permission %s", id, r)
			}
		}
		for _, sc := range sp.DelegatedScopes {
			if (!strings.Contains(sc, ".Read") || strings.Contains(sc, "Write")) && !(sc == "AppRoleAssignment.ReadWrite.All" && id == scenario.DemoWoodgroveBank) {
				t.Errorf("customer tenant %s granted delegated %s", id, sc)
			}
		}
	}

	// 5b. Consented long ago with fewer app roles (Contoso Dental's consent predates the Intune
	// permission) and no Privileged Role Administrator to repair it through GDAP: "sync now"
	// syncs the rest and ends partial, saying what is missing and the fix, not failed.
	if err := s.sim.Directory.WithdrawRoles(scenario.DemoContosoDental, scenario.DemoAppID, "DeviceManagementManagedDevices.Read.All"); err != nil {
		t.Fatal(err)
	}
	s.stack.syncNow(t, scenario.DemoContosoDental)
	s.waitIdle()
	cd := s.tenant(scenario.DemoContosoDental)
	if perm := cd.Collections["permissions"]; cd.Sync.State != domain.SyncPartial || perm.Code() != "ReconsentNeeded" ||
		perm.Reason() != "re-consent needed: missing DeviceManagementManagedDevices.Read.All" || !strings.Contains(perm.Remediation(), "consent-link") ||
		cd.Collections["devices"].Available || !cd.Collections["users"].Available {
		t.Errorf("Contoso Dental after drift: %+v %+v", cd.Sync, cd.Collections)
	}

	// 5c. Consent drift where GDAP can repair it: Woodgrove (Privileged Role Administrator) loses
	// two app roles. The handler is restarted (SIGKILL; its token cache goes with it, as on a new
	// instance), so the next sync's app-only token lacks them; the sync assigns them through GDAP
	// with the service account's delegated token, checks a new token and syncs everything.
	gone := []string{"AuditLog.Read.All", "Reports.Read.All"}
	if err := s.sim.Directory.WithdrawRoles(scenario.DemoWoodgroveBank, scenario.DemoAppID, gone...); err != nil {
		t.Fatal(err)
	}
	pid := s.stack.handlerPid(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// A request that reaches the dying handler fails (connection reset), as in Azure; the host then
	// holds invocations until the restarted handler answers, so the second attempt reaches it.
	status, _ = s.stack.do(t, "POST", "/api/tenants/"+scenario.DemoWoodgroveBank+"/sync", "")
	if status != http.StatusAccepted {
		t.Logf("sync now while the handler died: %d; asking the restarted handler", status)
	}
	runID := s.stack.syncNow(t, scenario.DemoWoodgroveBank)
	s.waitIdle()
	if s.stack.handlerPid(t) == pid {
		t.Fatal("the host did not restart the handler")
	}
	if run, _ := findRun(s.runs(scenario.DemoWoodgroveBank), runID); run.State != domain.SyncSucceeded {
		t.Errorf("Woodgrove's sync after drift: %+v, want succeeded after the repair", run)
	}
	if sp, _ := s.sim.Directory.ServicePrincipal(scenario.DemoWoodgroveBank, scenario.DemoAppID); !slices.Contains(sp.Roles, gone[0]) || !slices.Contains(sp.Roles, gone[1]) {
		t.Errorf("Woodgrove's app roles after the repair: %v", sp.Roles)
	}

	// 6. A declined link: Alpine Ski House's admin says no.
	if status, _, body = s.call("POST", "/api/tenants/"+scenario.DemoAlpineSkiHouse+"/consent-link", `{"email":"it@alpineskihouse.onmicrosoft.com"}`, false); status != http.StatusAccepted {
		t.Fatalf("Alpine link: %d %s", status, body)
	}
	_, link = s.mailedLink("it@alpineskihouse.onmicrosoft.com")
	if status, _, page = s.call("GET", s.entra(link+"&sim_action=deny").String(), "", true); status != http.StatusBadRequest || !strings.Contains(page, "did not approve") {
		t.Errorf("declined callback page: %d\n%s", status, page)
	}
	if tn := s.tenant(scenario.DemoAlpineSkiHouse); tn.Consent.State != domain.ConsentFailed || !strings.Contains(tn.Consent.Error, "AADSTS65004") {
		t.Errorf("Alpine Ski House consent %+v, want failed with AADSTS65004", tn.Consent)
	}
	status, _, body = s.call("GET", "/api/tenants", "", false)
	if status != http.StatusOK {
		t.Fatalf("GET /api/tenants: %d", status)
	}

	// 7. Nothing secret in the logs, the tables or the answers.
	s.stop()
	s.scanSecrets()
}

// scanSecrets fails the test if the app secret, an access token (JWT) or an Entra code or
// refresh token appears in the host's and handler's logs, any row of the test's Azurite, or any
// answer the API gave.
func (s *consentStack) scanSecrets() {
	s.t.Helper()
	shapes := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+|1\.A[A-Za-z0-9_-]{40,}`)
	check := func(where, text string) {
		if strings.Contains(text, scenario.DemoSecretValue) {
			s.t.Errorf("the app secret appears in %s", where)
		}
		if m := shapes.FindString(text); m != "" {
			s.t.Errorf("a token (%.16s...) appears in %s", m, where)
		}
	}
	check("the host and handler logs", s.output())
	for i, a := range s.answers {
		check(fmt.Sprintf("API answer #%d", i), a)
	}
	svc, err := aztables.NewServiceClientFromConnectionString(s.az, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx := context.Background()
	rows := 0
	tp := svc.NewListTablesPager(nil)
	for tp.More() {
		page, err := tp.NextPage(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, tb := range page.Tables {
			ep := svc.NewClient(*tb.Name).NewListEntitiesPager(nil)
			for ep.More() {
				p, err := ep.NextPage(ctx)
				if err != nil {
					s.t.Fatal(err)
				}
				for _, raw := range p.Entities {
					rows++
					check("a row of table "+*tb.Name, string(raw))
				}
			}
		}
	}
	if rows < 100 || len(s.answers) < 10 || !strings.Contains(s.output(), "tenant consented") {
		s.t.Errorf("the scan saw %d rows, %d answers and logs without the consent lines: it would prove little", rows, len(s.answers))
	}
}
