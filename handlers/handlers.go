// Package handlers is the thin Functions layer: one file per function, each decoding the host's
// invocation, calling a shared/ package, and encoding the answer. No business logic lives here.
package handlers

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/tenantsync/tenantsync/shared/adminauth"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/credwatch"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/operation"
	"github.com/tenantsync/tenantsync/shared/partner"
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
	Partner   *partner.Service
	Consent   *consent.Service
	// FanoutSpread spreads a fan-out's messages over this window.
	FanoutSpread time.Duration
	// AutoConsent runs Partner Center consent for eligible tenants after discovery.
	AutoConsent bool
	// AdminGroupID is the group App Service Authentication principals must belong to.
	AdminGroupID string
	// AppAuth and Vault let the app watch its own credential's expiry.
	AppAuth string
	Vault   credwatch.Expirer
	// Operations runs the long requests (discovery, Partner Center consent) from a queue.
	Operations *operation.Service
}

// Functions maps each non-HTTP function folder under functions/ to its invocation handler. The
// contract test checks these and HTTPRoutes against the folders.
func Functions(d Deps) map[string]invocation.Func {
	return map[string]invocation.Func{
		"TenantDiscovery":  d.tenantDiscovery,
		"TenantFanout":     d.tenantFanout,
		"TenantSync":       d.tenantSync,
		"PartnerKeepAlive": d.partnerKeepAlive,
		"OperationRun":     d.operationRun,
	}
}

// Route is a forwarded HTTP function's ServeMux pattern and handler. Anonymous routes (the OAuth
// callbacks only) skip the admin check; their function.json has authLevel anonymous.
type Route struct {
	Pattern   string
	Handler   http.HandlerFunc
	Anonymous bool
}

// HTTPRoutes are the forwarded HTTP functions by function name.
func HTTPRoutes(d Deps) map[string]Route {
	return map[string]Route{
		"Tenants":          {"GET /api/tenants", d.listTenants, false},
		"Tenant":           {"GET /api/tenants/{tenantId}", d.getTenant, false},
		"TenantUpdate":     {"PATCH /api/tenants/{tenantId}", d.updateTenant, false},
		"TenantCollection": {"GET /api/tenants/{tenantId}/{collection}", d.tenantCollection, false},
		"TenantSyncNow":    {"POST /api/tenants/{tenantId}/sync", d.syncNow, false},
		"DiscoveryRun":     {"POST /api/discovery", d.discoverNow, false},
		"Connect":          {"GET /api/connect", d.connect, false},
		"ConnectCallback":  {"GET /api/connect/callback", d.connectCallback, true},
		"PartnerStatus":    {"GET /api/partner", d.partnerStatus, false},
		"ConsentLink":      {"POST /api/tenants/{tenantId}/consent-link", d.consentLink, false},
		"ConsentCPV":       {"POST /api/consent/cpv", d.consentCPV, false},
		"ConsentCallback":  {"GET /api/consent/callback", d.consentCallback, true},
		"OperationStatus":  {"GET /api/operations/{operationId}", d.operationStatus, false},
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
		h := r.Handler
		if !r.Anonymous {
			h = d.admin(h)
		}
		mux.HandleFunc(r.Pattern, h)
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

// admin enforces the admin group on principals App Service Authentication forwards.
func (d Deps) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := adminauth.Check(r, d.AdminGroupID)
		if err != nil {
			d.Log.Warn("admin API refused", "path", r.URL.Path, "principal", who, "error", err.Error())
			writeError(w, http.StatusForbidden, "Forbidden", err.Error())
			return
		}
		next(w, r)
	}
}
