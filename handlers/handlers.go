// Package handlers is the thin Functions layer: one file per function, each decoding the host's
// invocation, calling a shared/ package, and encoding the answer. No business logic lives here.
package handlers

import (
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/tenantsync/tenantsync/shared/adminauth"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/operation"
	"github.com/tenantsync/tenantsync/shared/partner"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/routefold"
	"github.com/tenantsync/tenantsync/shared/store"
	"github.com/tenantsync/tenantsync/shared/syncer"
)

// Deps are the handler's dependencies, built once per process in cmd/handler.
type Deps struct {
	Store     *store.Store
	Queue     queue.Sender
	Engine    *syncer.Engine
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
	// AppServiceAuth is WEBSITE_AUTH_ENABLED: only then is X-MS-CLIENT-PRINCIPAL trusted.
	AppServiceAuth bool
	// Groups resolves ADMIN_GROUP_ID membership for principals whose token had the groups
	// overage claim (shared/groupcheck); nil refuses them.
	Groups adminauth.GroupChecker
	// PublicBaseURL is the app's public URL; every link the API answers with is built from it,
	// never from the request's Host or X-Forwarded-* headers (anyone can send those).
	PublicBaseURL string
	// AppAuth and Vault let the app watch its own credential's expiry.
	AppAuth string
	Vault   identity.Expirer
	// ConsoleSettings: the console's sign-in rule and CSRF key.
	ConsoleSettings ConsoleSettings
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

// HTTPRoutes are the forwarded HTTP functions by function name, the signed-in twins of the
// keyed API routes (SignedInRoutes) included.
func HTTPRoutes(d Deps) map[string]Route {
	routes := map[string]Route{
		"Tenants":          {"GET /api/tenants", d.csvOrJSON(d.tenants), false},
		"Tenant":           {"GET /api/tenants/{tenantId}", d.tenant, false},
		"TenantUpdate":     {"PATCH /api/tenants/{tenantId}", d.tenantUpdate, false},
		"TenantCollection": {"GET /api/tenants/{tenantId}/{collection}", d.csvOrJSON(d.tenantCollection), false},
		"TenantSyncNow":    {"POST /api/tenants/{tenantId}/sync", d.tenantSyncNow, false},
		"DiscoveryRun":     {"POST /api/discovery", d.discoveryRun, false},
		"Connect":          {"GET /api/connect", d.connect, false},
		"ConnectCallback":  {"GET /api/connect/callback", d.connectCallback, true},
		"PartnerStatus":    {"GET /api/partner", d.partnerStatus, false},
		"ConsentLink":      {"POST /api/tenants/{tenantId}/consent-link", d.consentLink, false},
		"ConsentCPV":       {"POST /api/consent/cpv", d.consentCPV, false},
		"ConsentCallback":  {"GET /api/consent/callback", d.consentCallback, true},
		// The console: anonymous at the Functions level (browsers carry no function key), each
		// authorised by consoleRoute from App Service Authentication's principal.
		"ConsoleOverview":       {"GET /{$}", d.consoleRoute(d.consoleOverview), true},
		"ConsoleTenant":         {"GET /tenants/{tenantId}", d.consoleRoute(d.consoleTenant), true},
		"ConsoleProgress":       {"GET /tenants/{tenantId}/progress", d.consoleRoute(d.consoleProgress), true},
		"ConsoleAction":         {"POST /tenants/{tenantId}/actions/{action}", d.consoleRoute(d.consoleAction), true},
		"ConsoleInsights":       {"GET /insights", d.consoleRoute(d.consoleInsights), true},
		"ConsolePartner":        {"GET /partner", d.consoleRoute(d.consolePartner), true},
		"ConsolePartnerConnect": {"GET /partner/connect", d.consoleRoute(d.consolePartnerConnect), true},
		"ConsoleAssets":         {"GET /static/{file}", d.consoleAssets, true},
		"OperationStatus":       {"GET /api/operations/{operationId}", d.operationStatus, false},
	}
	for name, r := range SignedInRoutes(d, routes) {
		routes[name] = r
	}
	return routes
}

// New returns the handler's whole HTTP surface.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	// The host polls GET / until it gets any answer; the console's overview answers it (a
	// redirect to sign-in, without touching storage, for the host's unauthenticated probe).
	for name, f := range Functions(d) {
		mux.Handle("POST /"+name, invocation.Handler(name, d.Log, f))
	}
	var patterns []string
	for _, r := range HTTPRoutes(d) {
		h := r.Handler
		if !r.Anonymous {
			h = d.admin(h)
		}
		mux.HandleFunc(r.Pattern, limitBody(h))
		patterns = append(patterns, r.Pattern)
	}
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NotFound", "no such API route: "+r.Method+" "+r.URL.Path)
	}
	mux.HandleFunc("/api/", notFound)
	mux.HandleFunc(SignedInPrefix+"/api/", notFound)
	fold := routefold.New(patterns...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The host matches route literals case-insensitively and forwards the path as sent.
		if p, changed := fold.Fold(r.Method, r.URL.EscapedPath()); changed {
			r = withPath(r, p)
		}
		mux.ServeHTTP(w, r)
	})
}

// withPath is r with its URL path replaced by escaped (already a valid escaped path).
func withPath(r *http.Request, escaped string) *http.Request {
	path, err := url.PathUnescape(escaped)
	if err != nil {
		return r
	}
	r2 := *r
	u := *r.URL
	u.Path, u.RawPath = path, escaped
	r2.URL = &u
	return &r2
}
