// Package handlers is the thin Functions layer: one file per function, each decoding the host's
// invocation, calling a shared/ package, and encoding the answer. No business logic lives here.
package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/store"
	"github.com/tenantsync/tenantsync/shared/sync"
)

// Deps are the handler's dependencies, built once per process in cmd/handler.
type Deps struct {
	Store     *store.Store
	Queue     queue.Sender
	Engine    *sync.Engine
	Discovery *discovery.Discoverer
	Log       *slog.Logger
	Now       func() time.Time
	// FanoutSpread spreads a fan-out's messages over this window.
	FanoutSpread time.Duration
}

// Functions maps each non-HTTP function folder under functions/ to its invocation handler. The
// contract test checks these and HTTPRoutes against the folders.
func Functions(d Deps) map[string]invocation.Func {
	return map[string]invocation.Func{
		"TenantDiscovery": d.tenantDiscovery,
		"TenantFanout":    d.tenantFanout,
		"TenantSync":      d.tenantSync,
	}
}

// Route is a forwarded HTTP function's ServeMux pattern and handler.
type Route struct {
	Pattern string
	Handler http.HandlerFunc
}

// HTTPRoutes are the forwarded HTTP functions by function name.
func HTTPRoutes(d Deps) map[string]Route {
	return map[string]Route{
		"Tenants":          {"GET /api/tenants", d.listTenants},
		"Tenant":           {"GET /api/tenants/{tenantId}", d.getTenant},
		"TenantUpdate":     {"PATCH /api/tenants/{tenantId}", d.updateTenant},
		"TenantCollection": {"GET /api/tenants/{tenantId}/{collection}", d.tenantCollection},
		"TenantSyncNow":    {"POST /api/tenants/{tenantId}/sync", d.syncNow},
		"DiscoveryRun":     {"POST /api/discovery", d.discoverNow},
	}
}

// New returns the handler's whole HTTP surface.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	// The host polls GET / until it gets any answer; answer plainly.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	for name, f := range Functions(d) {
		mux.Handle("POST /"+name, invocation.Handler(name, d.Log, f))
	}
	for _, r := range HTTPRoutes(d) {
		mux.HandleFunc(r.Pattern, r.Handler)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NotFound", "no such API route: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the read API's error shape {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

type queueMessage = queue.Message
