package e2e

// The console in a real browser (Debian's chromium, headless, driven with chromedp) on the full
// local stack: the local host playing App Service Authentication against the simulator's Entra
// ID, the handler, Azurite and the simulator. Every wait is on a DOM or queue condition.

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/operation"
)

// browser is one headless Chromium with a fresh profile.
type browser struct {
	t     *testing.T
	ctx   context.Context
	name  string
	shots []struct {
		name string
		png  []byte
	}
}

// chromiumPath finds Debian's chromium; `make test` installs it when absent. Never skipped.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the console browser tests need Debian's chromium package: run `make test` (it installs it) or `apt-get install -y chromium`")
	}
	return p
}

// simSPKIs are the SHA-256 public key hashes of the certificates the simulator's Entra presents,
// read over a connection verified against the simulator's CA. Chromium is told to accept exactly
// these keys (--ignore-certificate-errors-spki-list), so no other certificate error is ignored.
func simSPKIs(t *testing.T, s *stack) string {
	t.Helper()
	pem, err := os.ReadFile(s.ep.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	u, _ := url.Parse(s.ep.AuthorityHost)
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: u.Hostname()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hashes []string
	for _, c := range conn.ConnectionState().PeerCertificates {
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		hashes = append(hashes, base64.StdEncoding.EncodeToString(sum[:]))
	}
	return strings.Join(hashes, ",")
}

func newBrowser(t *testing.T, s *stack, name string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", simSPKIs(t, s)),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 8*time.Minute)
	b := &browser{t: t, ctx: ctx, name: name}
	t.Cleanup(func() {
		if t.Failed() {
			b.shot("at-failure")
			dir := filepath.Join(os.TempDir(), fmt.Sprintf("tenantsync-console-%s-%d", name, time.Now().UnixNano()))
			if err := os.MkdirAll(dir, 0o755); err == nil {
				for i, sh := range b.shots {
					_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d-%s.png", i, sh.name)), sh.png, 0o644)
				}
				t.Logf("screenshots of every page the %s browser showed: %s", name, dir)
			}
		}
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// shot keeps a screenshot of the current page (written to disk only if the test fails).
func (b *browser) shot(name string) {
	if png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); err == nil {
		b.shots = append(b.shots, struct {
			name string
			png  []byte
		}{name, png})
	}
}

func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s browser: %s: %v", b.name, what, err)
	}
	b.shot(what)
}

// waitFor waits until the JavaScript condition holds in the page (re-evaluated on each
// animation frame and across navigations).
// A navigation while polling (a form submitted, a redirect, the progress script reloading)
// ends the poll with an error; polling then starts again once the new document has a body.
func waitFor(cond string) chromedp.Action[chromedp.Void] {
	// Only a fully loaded document counts: chromedp's node ids from a document still loading go
	// stale when it finishes ("Could not find node with given id").
	poll := chromedp.Poll[chromedp.Void](`document.readyState === "complete" && (`+cond+`)`, chromedp.WithPollingTimeout(3*time.Minute))
	body := chromedp.WaitReady(chromedp.CSS(`body`))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for attempt := 0; ; attempt++ {
			_, err := poll(ctx, t)
			if err == nil || ctx.Err() != nil || attempt == 50 || !isNavigation(err) {
				return chromedp.Void{}, err
			}
			if _, err := body(ctx, t); err != nil && !isNavigation(err) {
				return chromedp.Void{}, err
			}
		}
	}
}

func isNavigation(err error) bool {
	s := err.Error()
	return strings.Contains(s, "navigated or closed") || strings.Contains(s, "context was destroyed") ||
		strings.Contains(s, "Cannot find context") || strings.Contains(s, "Execution context")
}

// eval evaluates JavaScript in the page (awaiting a promise) and decodes its value into out.
func (b *browser) eval(js string, out any) {
	b.t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](js, chromedp.EvalAwaitPromise))
	if err == nil {
		err = json.Unmarshal(raw, out)
	}
	if err != nil {
		b.t.Fatalf("%s browser: evaluating %.60s: %v", b.name, js, err)
	}
}

// text is an element's text content.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.eval(`document.querySelector(`+jsString(sel)+`)?.textContent.trim() ?? ""`, &s)
	return s
}

// attr is an element's attribute.
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	var s string
	b.eval(`document.querySelector(`+jsString(sel)+`)?.getAttribute(`+jsString(name)+`) ?? ""`, &s)
	return s
}

// signIn follows the console's redirect to the simulator's Entra sign-in page and signs in as upn.
func (b *browser) signIn(start, upn string) {
	b.t.Helper()
	b.run("sign-in page", chromedp.Navigate(start), chromedp.WaitVisible(chromedp.CSS(`#login`)))
	b.run("signed in as "+upn, chromedp.SetValue(chromedp.CSS(`#login`), upn), chromedp.Click(chromedp.CSS(`button[value=signin]`)),
		waitFor(`location.hostname === "localhost" && document.readyState === "complete" && !!document.querySelector("main")`))
}

// domTable reads a table's header and cell texts as the admin sees them.
func (b *browser) domTable(id string) [][]string {
	b.t.Helper()
	var rows [][]string
	b.eval(`Array.from(document.querySelectorAll("#`+id+` tr")).map(tr => Array.from(tr.querySelectorAll("th,td")).map(c => c.textContent.trim()))`, &rows)
	return rows
}

// downloadCSV fetches the page's CSV link in the page (same session) and parses it.
func (b *browser) downloadCSV(sel string) (records [][]string, contentType string) {
	b.t.Helper()
	var got struct {
		BOM  bool   `json:"bom"`
		Type string `json:"type"`
		Text string `json:"text"`
	}
	b.eval(`fetch(document.querySelector(`+jsString(sel)+`).href).then(async r => { const u8 = new Uint8Array(await r.arrayBuffer());
		return {bom: u8[0] === 0xEF && u8[1] === 0xBB && u8[2] === 0xBF, type: r.headers.get("content-type"), text: new TextDecoder("utf-8").decode(u8)}; })`, &got)
	if !got.BOM {
		b.t.Errorf("the CSV has no UTF-8 byte order mark")
	}
	recs, err := csv.NewReader(strings.NewReader(got.Text)).ReadAll()
	if err != nil {
		b.t.Fatalf("the CSV is not RFC 4180: %v\n%s", err, got.Text)
	}
	return recs, got.Type
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// csvEqualsTable checks a CSV download against the table on the page, cell by cell.
func csvEqualsTable(t *testing.T, b *browser, tableID, linkSel string) [][]string {
	t.Helper()
	dom := b.domTable(tableID)
	recs, ctype := b.downloadCSV(linkSel)
	if !strings.HasPrefix(ctype, "text/csv") {
		t.Errorf("CSV content type %q", ctype)
	}
	for _, row := range dom {
		for i := range row {
			row[i] = console.CSVCell(row[i])
		}
	}
	if len(dom) < 2 || fmt.Sprint(recs) != fmt.Sprint(dom) {
		t.Errorf("%s: the CSV differs from the table\ncsv:   %q\ntable: %q", tableID, recs, dom)
	}
	return recs
}

// sessionCookie is the browser's App Service Authentication session, for plain HTTP checks.
func (b *browser) sessionCookie() *http.Cookie {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{})
	})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "AppServiceAuthSession" {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	b.t.Fatal("no AppServiceAuthSession cookie after signing in")
	return nil
}

// rowStatuses maps each overview row's tenant name to its badge's status.
func (b *browser) rowStatuses() map[string]string {
	b.t.Helper()
	var pairs [][2]string
	b.eval(`Array.from(document.querySelectorAll("#table-tenants tbody tr")).map(tr => [tr.cells[0].textContent.trim(), tr.cells[1].querySelector("[data-status]").dataset.status])`, &pairs)
	out := map[string]string{}
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out
}

func TestConsoleBrowserJourney(t *testing.T) {
	s := startConsentStack(t)
	base := s.public

	// The MSP's stack as the demo leaves it: partner connected, discovery (with Partner Center
	// consent where GDAP allows), every consented tenant synced.
	status, hdr, body := s.call("GET", "/api/connect", "", false)
	if status != http.StatusFound {
		t.Fatalf("GET /api/connect: %d %s", status, body)
	}
	back := s.entra(hdr.Get("Location") + "&sim_user=" + url.QueryEscape(scenario.DemoServiceAccountUPN))
	if status, _, body = s.call("GET", back.String(), "", true); status != http.StatusOK {
		t.Fatalf("connect callback: %d %s", status, body)
	}
	// Discovery is a long operation: 202, run by OperationRun from its queue.
	do := func(method, path, body string) (int, []byte) {
		status, _, b := s.call(method, path, body, false)
		return status, []byte(b)
	}
	if op := runOperation(t, do, "/api/discovery", ""); op.State != operation.StateSucceeded {
		t.Fatalf("discovery: %+v", op)
	}
	if status, _, body = s.call("POST", "/admin/functions/TenantFanout?wait=true", `{"input":""}`, false); status != http.StatusOK {
		t.Fatalf("fan-out: %d %s", status, body)
	}
	s.waitIdle()
	// Stored attacker-chosen text: Alpine Ski House's consent error.
	const xss = `<img src=x onerror="window.__xss=1">`
	ctx := context.Background()
	alpine, err := s.store.GetTenant(ctx, scenario.DemoAlpineSkiHouse)
	if err != nil {
		t.Fatal(err)
	}
	alpine.Consent.State, alpine.Consent.Error = domain.ConsentFailed, "AADSTS65004: declined "+xss
	if err := s.store.SetConsent(ctx, alpine.TenantID, alpine.Consent); err != nil {
		t.Fatal(err)
	}

	// Unsigned-in requests are sent to App Service Authentication's sign-in; a forged principal
	// header is removed by it, and a POST without a session is refused.
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", base+"/tenants/"+scenario.DemoContosoDental, nil)
	forged, _ := json.Marshal(map[string]any{"auth_typ": "aad", "claims": []map[string]string{{"typ": "oid", "val": scenario.DemoAdminID}, {"typ": "groups", "val": scenario.DemoAdminGroupID}}})
	req.Header.Set("X-MS-CLIENT-PRINCIPAL", base64.StdEncoding.EncodeToString(forged))
	resp, err := plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/.auth/login/aad?post_login_redirect_uri=%2Ftenants%2F"+scenario.DemoContosoDental {
		t.Errorf("unsigned-in GET with a forged principal: %d %q, want the sign-in redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = plain.PostForm(base+"/tenants/"+scenario.DemoContosoDental+"/actions/exclude", url.Values{"csrf": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned-in POST: %d, want 401", resp.StatusCode)
	}

	// 1. Sign in (an unsigned-in browser lands on Entra's sign-in page first).
	admin := newBrowser(t, s.stack, "admin")
	admin.signIn(base+"/", scenario.DemoAdminUPN)
	admin.run("overview", chromedp.WaitVisible(chromedp.CSS(`#table-tenants`)))
	if viewer := admin.text(`#viewer`); viewer != scenario.DemoAdminUPN {
		t.Errorf("signed in as %q", viewer)
	}

	// 2. Every tenant with the right colour.
	var list struct{ Value []domain.Tenant }
	if status, _, body = s.call("GET", "/api/tenants", "", false); status != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("GET /api/tenants: %d %s", status, body)
	}
	got := admin.rowStatuses()
	if len(list.Value) < 13 || len(got) != len(list.Value) {
		t.Fatalf("overview lists %d tenants, the API %d", len(got), len(list.Value))
	}
	problems := 0
	for _, tn := range list.Value {
		want, _ := console.Assess(tn, time.Now())
		if got[tn.DisplayName] != want.Key {
			t.Errorf("%s shows %q, want %q", tn.DisplayName, got[tn.DisplayName], want.Key)
		}
		if want.Key == "warn" || want.Key == "bad" {
			problems++
		}
	}
	for name, want := range map[string]string{"Contoso Dental": "ok", "Adventure Works": "bad", "Alpine Ski House": "bad", "Wide World Importers": "warn"} {
		if got[name] != want {
			t.Errorf("%s shows %q, want %q", name, got[name], want)
		}
	}
	if recs := csvEqualsTable(t, admin, "table-tenants", "#csv"); len(recs)-1 != len(list.Value) {
		t.Errorf("overview CSV has %d tenants", len(recs)-1)
	}

	// 3. Filter to problems.
	admin.run("filter to problems", chromedp.SetValue(chromedp.CSS(`#state`), "problems"), chromedp.Click(chromedp.CSS(`#apply`)),
		waitFor(`location.search.includes("state=problems") && !!document.querySelector("#table-tenants")`))
	filtered := admin.rowStatuses()
	if len(filtered) != problems || problems == 0 {
		t.Errorf("problems filter shows %d tenants, want %d", len(filtered), problems)
	}
	for name, st := range filtered {
		if st != "warn" && st != "bad" {
			t.Errorf("problems filter shows %s (%s)", name, st)
		}
	}

	// 4. A tenant without consent; 5. send the consent link; the page shows it pending.
	const customerAdmin = "admin@adventureworks.onmicrosoft.com"
	admin.run("Adventure Works", chromedp.Click(chromedp.Search(`//a[normalize-space()="Adventure Works"]`)),
		waitFor(`document.querySelector("#tenant-name")?.textContent.includes("Adventure Works")`))
	if consentState := admin.attr(`#consent-state`, "data-state"); consentState != domain.ConsentNone {
		t.Fatalf("Adventure Works consent %q before the link", consentState)
	}
	// Partner Center consent is not possible here (GDAP without the roles): the page says so.
	admin.run("Partner Center consent refused", chromedp.Click(chromedp.CSS(`#cpv`)),
		waitFor(`document.querySelector("#flash")?.textContent.includes("send the consent link instead")`))
	admin.run("send the consent link", chromedp.SetValue(chromedp.CSS(`#email`), customerAdmin), chromedp.Click(chromedp.CSS(`#send-link`)),
		waitFor(`document.querySelector("#flash")?.textContent.includes("Consent link sent")`))
	consentState, consentText := admin.attr(`#consent-state`, "data-state"), admin.text(`#consent-state`)
	if consentState != domain.ConsentPending || !strings.Contains(consentText, customerAdmin) {
		t.Errorf("after sending: consent %q %q, want pending to %s", consentState, consentText, customerAdmin)
	}

	// 6. The customer's admin approves from the mail; the first sync runs.
	_, link := s.mailedLink(customerAdmin)
	cb := s.entra(link + "&sim_action=approve")
	if status, _, page := s.call("GET", cb.String(), "", true); status != http.StatusOK {
		t.Fatalf("consent callback: %d %s", status, page)
	}
	s.waitIdle()
	admin.run("after consent", chromedp.Reload(), waitFor(`document.querySelector("#tenant-name [data-status]")?.dataset.status === "ok"`))
	aw := s.tenant(scenario.DemoAdventureWorks)
	users := admin.domTable("table-users")
	if aw.Counts.Users == 0 || len(users)-1 != min(aw.Counts.Users, console.PageSize) {
		t.Errorf("users listed: %d rows for %d users", len(users)-1, aw.Counts.Users)
	}
	// 7. The CSV download equals the table.
	usersCSV := csvEqualsTable(t, admin, "table-users", "#csv")
	// The API answers Accept: text/csv with the same table (function key, automation).
	req, _ = http.NewRequest("GET", s.url+"/api/tenants/"+scenario.DemoAdventureWorks+"/users", nil)
	req.Header.Set("x-functions-key", s.key)
	req.Header.Set("Accept", "text/csv")
	if resp, err = plain.Do(req); err != nil {
		t.Fatal(err)
	}
	apiCSV, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(apiCSV), "\ufeff"))).ReadAll()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(string(apiCSV), "\ufeff") ||
		err != nil || fmt.Sprint(recs) != fmt.Sprint(usersCSV) {
		t.Errorf("API users as CSV: %d %s err=%v\n%q\nconsole: %q", resp.StatusCode, resp.Header.Get("Content-Type"), err, recs, usersCSV)
	}

	// 8. Sync now: Graph is held, so the run is visibly in progress until it is released.
	release := s.sim.HoldGraph()
	t.Cleanup(release)
	admin.run("sync now", chromedp.Click(chromedp.CSS(`#sync-now`)),
		waitFor(`document.querySelector("#flash")?.textContent.includes("Sync queued") && !!document.querySelector("#progress")`))
	admin.run("progress running", waitFor(`document.querySelector("#progress")?.dataset.state === "running" && document.querySelector("#progress-text").textContent.startsWith("Running since")`))
	release()
	admin.run("sync finished", waitFor(`!document.querySelector("#progress") && ["succeeded","partial"].includes(document.querySelector("#sync-state")?.dataset.state)`))
	if runs := s.runs(scenario.DemoAdventureWorks); len(runs) != 2 || runs[0].Reason != "manual" {
		t.Errorf("runs after sync now: %+v", runs)
	}

	// 9. Stored markup renders inert.
	admin.run("escaped consent error", chromedp.Navigate(base+"/tenants/"+scenario.DemoAlpineSkiHouse), chromedp.WaitVisible(chromedp.CSS(`#consent-error`)))
	shown := admin.text(`#consent-error`)
	var imgs int
	var flagged bool
	admin.eval(`document.querySelectorAll("img").length`, &imgs)
	admin.eval(`window.__xss === 1`, &flagged)
	var copyShown bool
	admin.eval(`document.querySelector("button.copy[data-copy=fix-text]")?.hidden === false`, &copyShown)
	if !copyShown {
		t.Error("the Copy the fix button is not shown (the script did not run under the CSP?)")
	}
	if !strings.Contains(shown, xss) || imgs != 0 || flagged {
		t.Errorf("stored markup: shown %q, %d img elements, script ran: %v", shown, imgs, flagged)
	}

	// 10. CSRF: the signed-in session without the page's token is refused and changes nothing.
	cookie := admin.sessionCookie()
	for name, form := range map[string]url.Values{"no token": {}, "forged token": {"csrf": {"1700000000.AAAA"}}} {
		req, _ := http.NewRequest("POST", base+"/tenants/"+scenario.DemoContosoDental+"/actions/exclude", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "did not come from the tenantsync console") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	if tn := s.tenant(scenario.DemoContosoDental); tn.Excluded {
		t.Error("a refused form excluded the tenant")
	}
	// With the page's token, exclude and include work.
	admin.run("Contoso Dental", chromedp.Navigate(base+"/tenants/"+scenario.DemoContosoDental), chromedp.WaitVisible(chromedp.CSS(`#toggle-exclude`)))
	admin.run("exclude", chromedp.Click(chromedp.CSS(`#toggle-exclude`)), waitFor(`document.querySelector("#flash")?.textContent.startsWith("Excluded")`))
	if tn := s.tenant(scenario.DemoContosoDental); !tn.Excluded || admin.text(`#excluded`) != "excluded" {
		t.Errorf("exclude: tenant excluded=%v, page %q", tn.Excluded, admin.text(`#excluded`))
	}
	admin.run("include", chromedp.Click(chromedp.CSS(`#toggle-exclude`)), waitFor(`document.querySelector("#flash")?.textContent.startsWith("Included")`))
	if tn := s.tenant(scenario.DemoContosoDental); tn.Excluded {
		t.Error("include left the tenant excluded")
	}

	// 11. Insights agree with the API's users of a tenant; the partner page shows the connection.
	var cdUsers struct{ Value []domain.User }
	if status, _, body = s.call("GET", "/api/tenants/"+scenario.DemoContosoDental+"/users?$top=999", "", false); status != http.StatusOK || json.Unmarshal([]byte(body), &cdUsers) != nil {
		t.Fatalf("Contoso Dental users: %d", status)
	}
	noMFA, inactive := 0, 0
	for _, u := range cdUsers.Value {
		if !u.AccountEnabled {
			continue
		}
		if u.MFARegistered != nil && !*u.MFARegistered {
			noMFA++
		}
		if len(u.Licenses) > 0 && (u.LastSignIn.IsZero() || time.Since(u.LastSignIn) >= 90*24*time.Hour) {
			inactive++
		}
	}
	admin.run("insights", chromedp.Navigate(base+"/insights?days=90"), chromedp.WaitVisible(chromedp.CSS(`#h-users-without-mfa`)))
	rowOf := func(tableID, tenant string) []string {
		for _, r := range admin.domTable(tableID) {
			if len(r) > 1 && r[0] == tenant {
				return r
			}
		}
		return nil
	}
	if r := rowOf("table-users-without-mfa", "Contoso Dental"); noMFA == 0 || r == nil || r[2] != fmt.Sprint(noMFA) {
		t.Errorf("insights users without MFA for Contoso Dental: %q, the API says %d", r, noMFA)
	}
	if r := rowOf("table-inactive-licensed-users", "Contoso Dental"); (inactive > 0) != (r != nil) || (r != nil && r[1] != fmt.Sprint(inactive)) {
		t.Errorf("insights inactive (90 days) for Contoso Dental: %q, the API says %d", r, inactive)
	}
	csvEqualsTable(t, admin, "table-licence-utilisation", "#csv-licence-utilisation")
	admin.run("partner", chromedp.Navigate(base+"/partner"), chromedp.WaitVisible(chromedp.CSS(`#partner-state`)))
	if st := admin.text(`#partner-state`); st != "Connected" {
		t.Errorf("partner page state %q", st)
	}
	admin.run("reconnect", chromedp.Click(chromedp.CSS(`#connect`)), waitFor(`location.hostname !== "localhost" && !!document.querySelector("#login")`))

	// 12. Someone outside the admin group signs in and is refused.
	tech := newBrowser(t, s.stack, "technician")
	tech.signIn(base+"/tenants/"+scenario.DemoContosoDental, scenario.DemoNoMFAUPN)
	tech.run("refused", chromedp.WaitVisible(chromedp.CSS(`#reason`)))
	reason := tech.text(`#reason`)
	var hasTable bool
	tech.eval(`!!document.querySelector("table")`, &hasTable)
	if !strings.Contains(reason, "not in tenantsync's admin group") || hasTable {
		t.Errorf("technician outside the admin group: %q (table shown: %v)", reason, hasTable)
	}
	if !slices.Contains([]string{"ok"}, admin.rowStatusesOf(base)[aw.DisplayName]) {
		t.Errorf("Adventure Works is not green on the overview after its sync")
	}
}

// rowStatusesOf opens the overview and reads its rows' statuses.
func (b *browser) rowStatusesOf(base string) map[string]string {
	b.run("overview again", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#table-tenants`)))
	return b.rowStatuses()
}
