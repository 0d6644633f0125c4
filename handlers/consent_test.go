package handlers

// The consent HTTP surface (consent link, Partner Center consent, the anonymous callback page)
// and discovery's automatic consent, against Azurite and the Microsoft cloud simulator through
// the same mux the handler serves.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/operation"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/sim"
	"github.com/tenantsync/tenantsync/shared/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/store"
	"github.com/tenantsync/tenantsync/shared/sync"
)

const consentTestAdminGroup = "0c7a1f5e-3b2d-4c6e-8f9a-7d1e2c3b4a50"

type consentLogBuffer struct {
	mu gosync.Mutex
	b  strings.Builder
}

func (l *consentLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *consentLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type consentMemQueue struct {
	mu   gosync.Mutex
	msgs []queue.Message
}

func (q *consentMemQueue) Send(_ context.Context, m []queue.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m...)
	return nil
}
func (q *consentMemQueue) Close(context.Context) error { return nil }

func (q *consentMemQueue) tenants() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, m := range q.msgs {
		var r domain.SyncRequest
		_ = json.Unmarshal(m.Body, &r)
		out = append(out, r.TenantID)
	}
	return out
}

type consentHandlerEnv struct {
	t       *testing.T
	ctx     context.Context
	sim     *sim.Server
	ep      cloud.Endpoints
	azConn  string
	store   *store.Store
	queue   *consentMemQueue
	opQueue *consentMemQueue // the operations queue
	logs    *consentLogBuffer
	opts    consent.Options
	deps    Deps
	mux     http.Handler
	secrets []string // tokens issued during the test
	smu     gosync.Mutex
	answers []string
}

type consentHandlerOptions struct {
	mailFrom       string
	noPartnerToken bool
	autoConsent    bool
	// appServiceAuthOff runs as without App Service Authentication (WEBSITE_AUTH_ENABLED unset).
	appServiceAuthOff bool
}

func newConsentHandlerEnv(t *testing.T, o consentHandlerOptions) *consentHandlerEnv {
	t.Helper()
	ctx, st, conn := azuriteStore(t)
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := &consentHandlerEnv{t: t, ctx: ctx, sim: s, ep: s.Endpoints().Endpoints, azConn: conn, store: st, queue: &consentMemQueue{}, opQueue: &consentMemQueue{}, logs: &consentLogBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	creds := &sync.AppCredentials{ClientID: scenario.DemoAppID, Secret: scenario.DemoSecretValue, Endpoints: e.ep}
	hc, err := e.ep.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := oauthstate.NewSigner([]byte("consent-handler-tests-state-signing-key-0123456789"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pcToken, graphToken := e.deviceCodeTokens()
	pc := &pcclient.Client{BaseURL: e.ep.PartnerCenterURL, HTTP: hc, Token: pcToken}
	if o.noPartnerToken {
		pc.Token = func(context.Context) (string, error) { return "", errors.New("partner connection: not connected") }
	}
	e.opts = consent.Options{Store: e.store, Queue: e.queue, Credentials: creds, PartnerCenter: pc, Signer: signer, Consumer: e.store,
		Endpoints: e.ep, ClientID: scenario.DemoAppID, PartnerTenantID: scenario.DemoPartnerTenantID, PublicBaseURL: "http://localhost:7071",
		MailFrom: o.mailFrom, LinkTTL: 7 * 24 * time.Hour, Log: log, VerifyAttempts: 2, VerifyBackoff: 10 * time.Millisecond, PartnerGraphToken: graphToken}
	appPC := &pcclient.Client{BaseURL: e.ep.PartnerCenterURL, HTTP: hc, Token: func(ctx context.Context) (string, error) {
		cred, err := creds.For(scenario.DemoPartnerTenantID)
		if err != nil {
			return "", err
		}
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cloud.PartnerCenterAppScope}})
		e.remember(tok.Token)
		return tok.Token, err
	}}
	e.deps = Deps{Store: e.store, Queue: e.queue, Log: log, Now: time.Now, Consent: consent.New(e.opts), AutoConsent: o.autoConsent, AdminGroupID: consentTestAdminGroup,
		AppServiceAuth: !o.appServiceAuthOff, PublicBaseURL: "http://localhost:7071",
		Operations: &operation.Service{Store: e.store, Queue: e.opQueue, Log: log},
		Discovery:  &discovery.Discoverer{Store: e.store, Credentials: creds, Endpoints: e.ep, PartnerTenantID: scenario.DemoPartnerTenantID, PartnerCenter: appPC, Log: log}}
	e.mux = New(e.deps)
	return e
}

// discover runs discovery through the API (an operation, run as the host would deliver it), so
// the demo tenants exist.
func (e *consentHandlerEnv) discover() {
	e.t.Helper()
	if op := e.operate("POST", "/api/discovery", ""); op.State != operation.StateSucceeded {
		e.t.Fatalf("discovery: %+v", op)
	}
}

// operate sends a request that starts an operation, checks the 202 answer, runs the queued
// operation through the OperationRun function as the host would deliver it, and returns the
// finished operation as GET /api/operations/{id} shows it.
func (e *consentHandlerEnv) operate(method, path, body string) operation.Operation {
	e.t.Helper()
	rec := e.do(method, path, body)
	var started struct {
		operation.Operation
		StatusURL string `json:"statusUrl"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &started); err != nil || rec.Code != http.StatusAccepted || started.State != operation.StateQueued ||
		started.StatusURL != "/api/operations/"+started.ID || rec.Header().Get("Location") != started.StatusURL {
		e.t.Fatalf("%s %s: %d %s (Location %q)", method, path, rec.Code, rec.Body, rec.Header().Get("Location"))
	}
	e.opQueue.mu.Lock()
	msgs := e.opQueue.msgs
	e.opQueue.msgs = nil
	e.opQueue.mu.Unlock()
	if len(msgs) != 1 || msgs[0].ID != started.ID {
		e.t.Fatalf("operations queue holds %d messages, want the one for %s", len(msgs), started.ID)
	}
	for delivery := 1; delivery <= 2; delivery++ { // a second delivery of the same message changes nothing
		payload, _ := json.Marshal(map[string]any{"Data": map[string]any{"msg": base64.StdEncoding.EncodeToString(msgs[0].Body)},
			"Metadata": map[string]any{"DeliveryCount": fmt.Sprint(delivery), "MessageId": `"` + msgs[0].ID + `"`}})
		req, err := invocation.Decode(payload)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := Functions(e.deps)["OperationRun"](e.ctx, req); err != nil {
			e.t.Fatalf("OperationRun: %v", err)
		}
	}
	rec = e.do("GET", started.StatusURL, "")
	var op operation.Operation
	if err := json.Unmarshal(rec.Body.Bytes(), &op); err != nil || rec.Code != http.StatusOK || !op.Done() {
		e.t.Fatalf("GET %s: %d %s", started.StatusURL, rec.Code, rec.Body)
	}
	if op.Attempts != 1 {
		e.t.Errorf("operation ran %d times, want once for two deliveries", op.Attempts)
	}
	return op
}

func (e *consentHandlerEnv) remember(tok string) {
	if tok == "" {
		return
	}
	e.smu.Lock()
	e.secrets = append(e.secrets, tok)
	e.smu.Unlock()
}

// deviceCodeToken is the partner's delegated MFA token for Partner Center (azidentity's device
// code flow, approved on the simulator), standing in for partner.Service.Token.
// deviceCodeTokens signs the service account in with the device code flow and gives its Partner
// Center token source and its delegated Graph token for a customer tenant (GDAP).
func (e *consentHandlerEnv) deviceCodeTokens() (pcclient.TokenSource, consent.TenantTokenFunc) {
	opts, err := e.ep.ClientOptions()
	if err != nil {
		e.t.Fatal(err)
	}
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: opts, TenantID: scenario.DemoPartnerTenantID, ClientID: scenario.DemoAppID, DisableInstanceDiscovery: true,
		AdditionallyAllowedTenants: []string{"*"},
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			return e.sim.Entra.ApproveDeviceCode(m.UserCode, scenario.DemoServiceAccountUPN, true)
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	token := func(ctx context.Context, scope, tenant string) (string, error) {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}, TenantID: tenant})
		e.remember(tok.Token)
		return tok.Token, err
	}
	return func(ctx context.Context) (string, error) { return token(ctx, cloud.PartnerCenterScope, "") },
		func(ctx context.Context, tenantID string) (string, error) {
			return token(ctx, cloud.GraphScope, tenantID)
		}
}

func consentPrincipal(name string) string {
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": "name", "claims": []map[string]string{
		{"typ": "name", "val": name}, {"typ": "groups", "val": consentTestAdminGroup}}})
	return base64.StdEncoding.EncodeToString(b)
}

// do sends one request through the mux and records the answer for the secret scan.
func (e *consentHandlerEnv) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	e.answers = append(e.answers, rec.Body.String())
	return rec
}

func (e *consentHandlerEnv) tenant(id string) domain.Tenant {
	e.t.Helper()
	tn, err := e.store.GetTenant(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) (string, string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message, Remediation string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("answer %d %q is not the API's error shape", rec.Code, rec.Body.String())
	}
	return body.Error.Code, body.Error.Message + " " + body.Error.Remediation
}

var consentLinkRe = regexp.MustCompile(`https://[^\s"<>()]+/adminconsent\?[^\s"<>()]+`)

// approveAtEntra opens the newest mailed link as the customer's admin and returns the path and
// query Entra redirects to (our callback).
func (e *consentHandlerEnv) approveAtEntra(action string) string {
	e.t.Helper()
	box := e.sim.Graph.Outbox()
	if len(box) == 0 {
		e.t.Fatal("no mail in the simulator's outbox")
	}
	link := consentLinkRe.FindString(box[len(box)-1].Text)
	hc, err := e.ep.HTTPClient()
	if err != nil {
		e.t.Fatal(err)
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(link + "&sim_action=" + action)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Path != "/api/consent/callback" {
		e.t.Fatalf("consent page: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.RequestURI()
}

// scan fails the test if the app secret, a token issued during the test or anything shaped like
// a JWT appears in the logs, a Table Storage row or an HTTP answer.
func (e *consentHandlerEnv) scan() {
	e.t.Helper()
	if len(e.secrets) == 0 {
		e.t.Fatal("no token was issued: the scan would prove nothing")
	}
	jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+`)
	check := func(where, text string) {
		for _, s := range append([]string{scenario.DemoSecretValue}, e.secrets...) {
			if strings.Contains(text, s) {
				e.t.Errorf("a secret (%.12s...) appears in %s", s, where)
			}
		}
		if m := jwt.FindString(text); m != "" {
			e.t.Errorf("a JWT (%.20s...) appears in %s", m, where)
		}
	}
	check("the logs", e.logs.String())
	for i, a := range e.answers {
		check(fmt.Sprintf("answer #%d", i), a)
	}
	svc, err := aztables.NewServiceClientFromConnectionString(e.azConn, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	tp := svc.NewListTablesPager(nil)
	rows := 0
	for tp.More() {
		page, err := tp.NextPage(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, tb := range page.Tables {
			ep := svc.NewClient(*tb.Name).NewListEntitiesPager(nil)
			for ep.More() {
				p, err := ep.NextPage(e.ctx)
				if err != nil {
					e.t.Fatal(err)
				}
				for _, raw := range p.Entities {
					rows++
					check("a row of table "+*tb.Name, string(raw))
				}
			}
		}
	}
	if rows == 0 {
		e.t.Error("no table rows to scan")
	}
}

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
	if q := e.queue.tenants(); len(q) != 1 || q[0] != scenario.DemoAdventureWorks {
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

func TestConsentCPVHandlerAndAutoConsent(t *testing.T) {
	e := newConsentHandlerEnv(t, consentHandlerOptions{autoConsent: true})
	// Discovery with AUTO_CONSENT: Woodgrove is consented through Partner Center right away
	// (cpv+roles), Consolidated Messenger by the gdap path (no Privileged Role Administrator,
	// Global Reader), and the answer carries the summary.
	op := e.operate("POST", "/api/discovery", "")
	var ans struct {
		Found   int
		Consent *consent.Summary `json:"consent"`
	}
	if err := json.Unmarshal(op.Result, &ans); err != nil || op.State != operation.StateSucceeded || ans.Found != 14 || ans.Consent == nil || ans.Consent.Consented != 2 || ans.Consent.Error != "" {
		t.Fatalf("discovery operation %+v: %s", op, op.Result)
	}
	if c := e.tenant(scenario.DemoWoodgroveBank).Consent; c.State != domain.ConsentConsented || c.Method != consent.MethodCPV {
		t.Errorf("Woodgrove after discovery: %+v", c)
	}
	aw := `"` + scenario.DemoAdventureWorks + `"`
	for bad, says := range map[string]string{
		`{"tenantIds":["nope"]}`: `"nope" is not`,
		`{"tenants":[]}`:         `key "tenants" is not accepted here`,
		`[`:                      "must be a JSON object",
		`{"tenantIds":[` + aw + `]} {"tenantIds":[]}`:             "more than one JSON value",
		`{"tenantIds":[` + aw + `],"tenantIds":[]}`:               `key "tenantIds" appears more than once`,
		`{"TenantIds":[` + aw + `]}`:                              `must be spelled "tenantIds"`,
		`{"tenantIds":[" ` + scenario.DemoAdventureWorks + ` "]}`: "is not",
		`{"tenantIds":` + aw + `}`:                                "must be an array",
	} {
		rec := e.do("POST", "/api/consent/cpv", bad)
		if code, msg := errorCode(t, rec); rec.Code != http.StatusBadRequest || code != "BadRequest" || !strings.Contains(msg, says) {
			t.Errorf("body %s: %d %s %q, want 400 saying %q", bad, rec.Code, code, msg, says)
		}
	}
	// An empty body no longer means "every tenant": that takes {"all": true}.
	for _, bad := range []string{``, `{}`, `{"tenantIds":[]}`, `{"all":false}`, `{"tenantIds":["nope"]}`, `{"tenants":[]}`, `[`,
		`{"all":true,"tenantIds":["` + scenario.DemoWoodgroveBank + `"]}`, `{"all":true}{"all":true}`} {
		if rec := e.do("POST", "/api/consent/cpv", bad); rec.Code != http.StatusBadRequest {
			t.Errorf("body %q: %d %s", bad, rec.Code, rec.Body)
		}
	}
	if n := len(e.opQueue.msgs); n != 0 {
		t.Errorf("refused requests queued %d operations", n)
	}
	// Named tenants: Woodgrove is done already, Adventure Works needs the link.
	op = e.operate("POST", "/api/consent/cpv", `{"tenantIds":["`+scenario.DemoWoodgroveBank+`","`+scenario.DemoAdventureWorks+`"]}`)
	var out struct {
		Results []consent.Result
		Summary consent.Summary
	}
	if err := json.Unmarshal(op.Result, &out); err != nil || op.State != operation.StateSucceeded || len(out.Results) != 2 || out.Summary.Skipped != 2 {
		t.Fatalf("cpv operation %+v: %s", op, op.Result)
	}
	for _, r := range out.Results {
		want := map[string]string{scenario.DemoWoodgroveBank: consent.CodeAlreadyConsented, scenario.DemoAdventureWorks: consent.CodeMissingRoles}[r.TenantID]
		if r.State != consent.ResultSkipped || r.Code != want {
			t.Errorf("result %+v, want skipped %s", r, want)
		}
	}
	// {"all": true}: every eligible tenant (none left that Partner Center can do).
	op = e.operate("POST", "/api/consent/cpv", `{"all": true}`)
	if err := json.Unmarshal(op.Result, &out); err != nil || op.State != operation.StateSucceeded || out.Summary.Consented != 0 {
		t.Fatalf("cpv all %+v: %s", op, op.Result)
	}
	if rec := e.do("GET", "/api/operations/"+strings.Repeat("0", 8)+"-0000-0000-0000-000000000000", ""); rec.Code != http.StatusNotFound {
		t.Errorf("unknown operation: %d %s", rec.Code, rec.Body)
	}
	if q := e.queue.tenants(); len(q) != 2 || !slices.Contains(q, scenario.DemoWoodgroveBank) || !slices.Contains(q, scenario.DemoConsolidated) {
		t.Errorf("queued %v, want the first syncs of Woodgrove and Consolidated Messenger only", q)
	}
	if c := e.tenant(scenario.DemoConsolidated).Consent; c.State != domain.ConsentConsented || c.Method != consent.MethodGDAP {
		t.Errorf("Consolidated Messenger after discovery: %+v", c)
	}
	// The timer runs the same automatic consent and logs its summary.
	resp, err := Functions(e.deps)["TenantDiscovery"](e.ctx, consentTimerRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if logs := strings.Join(resp.Logs, "\n"); !strings.Contains(logs, "Partner Center consent: 0 consented") {
		t.Errorf("timer logs %q lack the consent summary", logs)
	}
	e.scan()
}

func consentTimerRequest(t *testing.T) *invocation.Request {
	t.Helper()
	req, err := invocation.Decode([]byte(`{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	return req
}
