package handlers

// The read API's input handling (issue 9, "What was measured" 7): strict JSON bodies, the body
// limit, strict $top, links from PUBLIC_BASE_URL only, and routes matched case-insensitively as
// the Functions host matches them. Against Azurite through the handler's own mux (and, for the
// body limit, a real HTTP server).

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// sharedTables is the shared Azurite's connection string.
func sharedTables(t *testing.T) string {
	t.Helper()
	sharedStore(t)
	return shared.az.ConnectionString()
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
