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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/testkit"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/operation"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/store"
)

const consentTestAdminGroup = "0c7a1f5e-3b2d-4c6e-8f9a-7d1e2c3b4a50"

type consentHandlerEnv struct {
	t       *testing.T
	ctx     context.Context
	sim     *sim.Server
	ep      cloud.Endpoints
	azConn  string
	store   *store.Store
	queue   *testkit.Queue
	opQueue *testkit.Queue // the operations queue
	logs    *testkit.LogBuffer
	opts    consent.Options
	deps    Deps
	mux     http.Handler
	secrets []string // tokens issued during the test
	smu     sync.Mutex
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
	e := &consentHandlerEnv{t: t, ctx: ctx, sim: s, ep: s.Endpoints().Endpoints, azConn: conn, store: st, queue: &testkit.Queue{}, opQueue: &testkit.Queue{}, logs: &testkit.LogBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	creds := &identity.AppCredentials{ClientID: scenario.DemoAppID, Secret: scenario.DemoSecretValue, Endpoints: e.ep}
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
	msgs := e.opQueue.Messages()
	e.opQueue.Reset()
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
