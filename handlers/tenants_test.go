package handlers

// The read API's input handling (issue 9, "What was measured" 7): strict JSON bodies, the body
// limit, strict $top, links from PUBLIC_BASE_URL only, and routes matched case-insensitively as
// the Functions host matches them. Against Azurite through the handler's own mux (and, for the
// body limit, a real HTTP server).

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/testkit"
	"github.com/tenantsync/tenantsync/shared/store"
)

const (
	inputsPublic  = "https://tenantsync-contoso.azurewebsites.net"
	inputsGroups  = 12
	inputsPageTop = 5
)

// azuriteStore starts Azurite for the test and opens a store on it with its tables created.
func azuriteStore(t *testing.T) (context.Context, *store.Store, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	az, err := devenv.StartAzurite(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(az.Stop)
	st, err := openStore(ctx, az.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	return ctx, st, az.ConnectionString()
}

func openStore(ctx context.Context, conn string) (*store.Store, error) {
	st, err := store.Open(config.Tables{ConnectionString: conn}, nil)
	if err != nil {
		return nil, err
	}
	return st, st.Ensure(ctx)
}

// shared is one Azurite for the input tests (each works in its own tenant), so running them many
// times costs no Azurite start each; TestMain stops it.
var shared struct {
	once sync.Once
	az   *devenv.Azurite
	st   *store.Store
	err  error
}

func sharedStore(t *testing.T) *store.Store {
	t.Helper()
	shared.once.Do(func() {
		if shared.az, shared.err = devenv.StartAzurite(context.Background(), "", nil); shared.err == nil {
			shared.st, shared.err = openStore(context.Background(), shared.az.ConnectionString())
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.st
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.az != nil {
		shared.az.Stop()
	}
	os.Exit(code)
}

type inputsEnv struct {
	t      *testing.T
	ctx    context.Context
	tenant string
	store  *store.Store
	queue  *testkit.Queue
	logs   *testkit.LogBuffer
	mux    http.Handler
}

// newInputsEnv is a handler on the shared Azurite with a new consented tenant holding
// inputsGroups groups.
func newInputsEnv(t *testing.T) *inputsEnv {
	t.Helper()
	ctx := context.Background()
	st := sharedStore(t)
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	id := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	tn := domain.Tenant{TenantID: id, DisplayName: "Fabrikam", DefaultDomain: "fabrikam.onmicrosoft.com", Sources: []string{"gdap"},
		Consent: domain.Consent{State: domain.ConsentConsented, Method: "cpv"}, Sync: domain.SyncStatus{State: domain.SyncNever}}
	if err := st.UpsertTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	w := st.Collection(store.TableGroups, id)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < inputsGroups; i++ {
		gid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		if err := w.Put(ctx, gid, domain.Group{ID: gid, DisplayName: fmt.Sprintf("Group %02d", i), Kind: "security", SecurityEnabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Finish(ctx, false); err != nil {
		t.Fatal(err)
	}
	e := &inputsEnv{t: t, ctx: ctx, tenant: id, store: st, queue: &testkit.Queue{}, logs: &testkit.LogBuffer{}}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.mux = New(Deps{Store: st, Queue: e.queue, Log: log, Now: time.Now, PublicBaseURL: inputsPublic + "/"})
	return e
}

func (e *inputsEnv) do(method, target, body string, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	return rec
}

func (e *inputsEnv) excluded() bool {
	e.t.Helper()
	tn, err := e.store.GetTenant(e.ctx, e.tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn.Excluded
}

// PATCH bodies encoding/json's Decoder accepted on main: each is now 400 naming the problem, and
// the tenant is unchanged.
func TestTenantUpdateRefusesLooseJSON(t *testing.T) {
	e := newInputsEnv(t)
	path := "/api/tenants/" + e.tenant
	for _, c := range []struct{ body, says string }{
		{`{"excluded":true} trailing garbage`, "more than one JSON value"},
		{`{"excluded":true}{"excluded":false}`, "more than one JSON value"},
		{`{"excluded":false,"excluded":true}`, `key "excluded" appears more than once`},
		{`{"Excluded":true}`, `key "Excluded" must be spelled "excluded"`},
		{`{"EXCLUDED":true}`, `must be spelled "excluded"`},
		{`{"excluded":true,"note":"x"}`, `key "note" is not accepted here (accepted: excluded)`},
		{`{"excluded":"true"}`, `key "excluded" must be true or false`},
		{`{"excluded":null}`, `key "excluded" is missing or null`},
		{`{}`, `key "excluded" is missing or null`},
		{``, "the body is empty"},
		{`[true]`, "must be a JSON object"},
	} {
		rec := e.do("PATCH", path, c.body)
		if code, msg := errorCode(t, rec); rec.Code != http.StatusBadRequest || code != "BadRequest" || !strings.Contains(msg, c.says) || !strings.Contains(msg, `{"excluded": true|false}`) {
			t.Errorf("PATCH %s: %d %s %q, want 400 BadRequest saying %q and the expected shape", c.body, rec.Code, code, msg, c.says)
		}
	}
	if e.excluded() {
		t.Fatal("a refused PATCH excluded the tenant")
	}
	if rec := e.do("PATCH", path, " {\"excluded\": true}\n"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"excluded":true`) || !e.excluded() {
		t.Errorf("valid PATCH: %d %s", rec.Code, rec.Body)
	}
}

// zeros is an endless body of spaces, so a huge request costs no memory in the test.
type zeros struct{ left int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > z.left {
		n = z.left
	}
	for i := range p[:n] {
		p[i] = ' '
	}
	z.left -= n
	return int(n), nil
}

// Over 1 MiB: 413 in the API's error shape, over a real connection (main reset it, and the host
// answered an empty 500), whether the length is declared or the body is chunked; a body of
// exactly 1 MiB is still read.
func TestBodyLimit(t *testing.T) {
	e := newInputsEnv(t)
	srv := httptest.NewServer(e.mux)
	t.Cleanup(srv.Close)
	send := func(method, path string, body io.Reader, length int64) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s with %d bytes: %v", method, path, length, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tenant := "/api/tenants/" + e.tenant
	for _, c := range []struct {
		method, path string
		size         int64
		chunked      bool
	}{
		{"PATCH", tenant, 70 << 20, false},
		{"PATCH", tenant, 70 << 20, true},
		{"PATCH", tenant, 1<<20 + 1, false},
		{"POST", tenant + "/consent-link", 2 << 20, false},
		{"POST", "/api/consent/cpv", 2 << 20, true},
		{"POST", tenant + "/sync", 2 << 20, true},
		{"POST", "/api/discovery", 2 << 20, false},
	} {
		length := c.size
		if c.chunked {
			length = -1
		}
		status, body := send(c.method, c.path, &zeros{left: c.size}, length)
		var got struct {
			Error struct{ Code, Message string }
		}
		if status != http.StatusRequestEntityTooLarge || json.Unmarshal([]byte(body), &got) != nil || got.Error.Code != "PayloadTooLarge" || !strings.Contains(got.Error.Message, "1 MiB") {
			t.Errorf("%s %s, %d bytes (chunked %v): %d %q, want 413 PayloadTooLarge", c.method, c.path, c.size, c.chunked, status, body)
		}
	}
	exact := `{"excluded":true}` + strings.Repeat(" ", 1<<20-len(`{"excluded":true}`))
	if status, body := send("PATCH", tenant, strings.NewReader(exact), int64(len(exact))); status != http.StatusOK {
		t.Errorf("a body of exactly 1 MiB: %d %s", status, body)
	}
}

// $top is 1*DIGIT from 1 to 999 (OData ABNF); main accepted "+5" (strconv.Atoi).
func TestCollectionTopIsStrict(t *testing.T) {
	e := newInputsEnv(t)
	groups := "/api/tenants/" + e.tenant + "/groups"
	for _, q := range []string{"%2B5", "+5", "%205", "5%20", "-5", "0", "1000", "5.0", "0x5", "", "%EF%BC%95", "5&$top=6"} {
		rec := e.do("GET", groups+"?$top="+q, "")
		if code, msg := errorCode(t, rec); rec.Code != http.StatusBadRequest || code != "BadRequest" || !strings.Contains(msg, "$top") {
			t.Errorf("$top=%s: %d %s %q, want 400 naming $top", q, rec.Code, code, msg)
		}
	}
	for q, want := range map[string]int{"05": 5, "5": 5, "999": inputsGroups} {
		rec := e.do("GET", groups+"?$top="+q, "")
		var page struct{ Value []json.RawMessage }
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil || len(page.Value) != want {
			t.Errorf("$top=%s: %d, %d items, want %d: %s", q, rec.Code, len(page.Value), want, rec.Body)
		}
	}
	if rec := e.do("GET", groups+"?$top=5&$skiptoken=a&$skiptoken=b", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("a repeated $skiptoken: %d", rec.Code)
	}
}

// @odata.nextLink comes from PUBLIC_BASE_URL and the canonical path, whatever Host and
// X-Forwarded-* say and however the path was spelled; following it pages through everything.
func TestNextLinkFromPublicBaseURL(t *testing.T) {
	e := newInputsEnv(t)
	spoof := []string{"Host", "evil.example", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example", "Forwarded", "host=evil.example;proto=https"}
	target := "/API/Tenants/" + strings.ToUpper(e.tenant) + "/Groups?$top=" + fmt.Sprint(inputsPageTop)
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > inputsGroups {
			t.Fatal("the nextLinks loop")
		}
		rec := e.do("GET", target, "", spoof...)
		var page struct {
			Value []domain.Group
			Next  string `json:"@odata.nextLink"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
		for _, g := range page.Value {
			seen[g.ID] = true
		}
		if page.Next == "" {
			break
		}
		u, err := url.Parse(page.Next)
		if err != nil || u.Scheme+"://"+u.Host != inputsPublic || u.Path != "/api/tenants/"+e.tenant+"/groups" ||
			u.Query().Get("$top") != fmt.Sprint(inputsPageTop) || u.Query().Get("$skiptoken") == "" || strings.Contains(page.Next, "evil") {
			t.Fatalf("@odata.nextLink %q, want %s/api/tenants/%s/groups?$top=%d&$skiptoken=...", page.Next, inputsPublic, e.tenant, inputsPageTop)
		}
		target = u.RequestURI()
	}
	if len(seen) != inputsGroups {
		t.Errorf("paged %d groups, want %d", len(seen), inputsGroups)
	}
}

// The host matches route literals case-insensitively (ASP.NET Core routing) and forwards the path
// as sent; the handler finds the same function (main answered 404).
func TestRoutesMatchCaseInsensitively(t *testing.T) {
	e := newInputsEnv(t)
	upper := strings.ToUpper(e.tenant)
	for _, c := range []struct {
		method, path, body string
		status             int
		has                string
	}{
		{"GET", "/api/Tenants", "", http.StatusOK, `"tenantId":"` + e.tenant + `"`},
		{"GET", "/API/TENANTS", "", http.StatusOK, `"value":[`},
		{"GET", "/api/tenants/" + upper, "", http.StatusOK, `"displayName":"Fabrikam"`},
		{"GET", "/Api/Tenants/" + e.tenant + "/Groups", "", http.StatusOK, `"Group 00"`},
		{"GET", "/api/tenants/" + e.tenant + "/RUNS", "", http.StatusOK, `"value":[]`},
		{"PATCH", "/api/TENANTS/" + e.tenant, `{"excluded":false}`, http.StatusOK, `"excluded":false`},
		{"POST", "/api/Tenants/" + e.tenant + "/SYNC", "", http.StatusAccepted, `"runId"`},
		{"POST", "/api/Tenants/" + e.tenant + "/Sync", "{}", http.StatusAccepted, `"runId"`},
		{"GET", "/api/tenants/" + e.tenant + "/nothing", "", http.StatusNotFound, `no collection \"nothing\"`},
		{"GET", "/api/Nothing", "", http.StatusNotFound, "no such API route"},
	} {
		rec := e.do(c.method, c.path, c.body)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.has) {
			t.Errorf("%s %s: %d %s, want %d with %s", c.method, c.path, rec.Code, rec.Body, c.status, c.has)
		}
	}
	// A body on sync now is still read strictly.
	if rec := e.do("POST", "/api/tenants/"+e.tenant+"/sync", `{"force":true}`); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "force") {
		t.Errorf("sync now with an unknown key: %d %s", rec.Code, rec.Body)
	}
	if n := len(e.queue.Tenants(t)); n != 2 {
		t.Errorf("%d sync messages queued, want 2", n)
	}
}
