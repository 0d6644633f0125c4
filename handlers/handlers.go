// Package handlers is the thin Functions layer: one file per function, each decoding the host's
// invocation, calling a shared/ package, and encoding the answer. No business logic lives here.
package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/adminauth"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/credwatch"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/operation"
	"github.com/tenantsync/tenantsync/shared/partner"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/routefold"
	"github.com/tenantsync/tenantsync/shared/store"
	"github.com/tenantsync/tenantsync/shared/strictjson"
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
	Vault   credwatch.Expirer
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
		"Tenants":          {"GET /api/tenants", d.csvOrJSON(d.listTenants), false},
		"Tenant":           {"GET /api/tenants/{tenantId}", d.getTenant, false},
		"TenantUpdate":     {"PATCH /api/tenants/{tenantId}", d.updateTenant, false},
		"TenantCollection": {"GET /api/tenants/{tenantId}/{collection}", d.csvOrJSON(d.tenantCollection), false},
		"TenantSyncNow":    {"POST /api/tenants/{tenantId}/sync", d.syncNow, false},
		"DiscoveryRun":     {"POST /api/discovery", d.discoverNow, false},
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

// maxBody is the API's request body limit.
const maxBody = 1 << 20

// hostBodyLimit is the Functions host's own request limit: "The HTTP request length is limited to
// 100 MB (104,857,600 bytes)" (MicrosoftDocs azure-docs functions-bindings-http-webhook-trigger.md,
// Limits). A body over maxBody is read and discarded up to it before the 413 goes out: an answer
// sent while the host is still writing the body, followed by a closed connection, reaches the
// caller as a reset and the host's empty 500.
const hostBodyLimit = 100 << 20

// limitBody answers 413 for a declared Content-Length over maxBody before the handler runs;
// decodeBody catches undeclared (chunked) ones.
func limitBody(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			tooLarge(w, r)
			return
		}
		next(w, r)
	}
}

func tooLarge(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength <= hostBodyLimit { // larger cannot have come through the host
		_, _ = io.CopyN(io.Discard, r.Body, hostBodyLimit)
	}
	writeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge",
		fmt.Sprintf("the request body is larger than the API's limit of %d bytes (1 MiB)", maxBody))
}

// decodeBody decodes the request body strictly into v (shared/strictjson) and answers 400 naming
// the problem, or 413. want is the body's shape for the message; optional accepts an empty body.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, want string, optional bool) bool {
	err := strictjson.Decode(r.Body, maxBody, v)
	switch {
	case err == nil:
		return true
	case errors.Is(err, strictjson.ErrEmpty) && optional:
		return true
	case errors.Is(err, strictjson.ErrTooLarge):
		tooLarge(w, r)
	case errors.Is(err, strictjson.ErrEmpty):
		writeError(w, http.StatusBadRequest, "BadRequest", "the body is empty: want "+want)
	default:
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error()+": want "+want)
	}
	return false
}

// link is an absolute URL under PUBLIC_BASE_URL.
func (d Deps) link(path string, q url.Values) string {
	u := strings.TrimRight(d.PublicBaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
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

// admin applies the admin rule (shared/adminauth) and hands the caller on in the context, so
// "who asked" is recorded from it and never from the request body.
func (d Deps) admin(next http.HandlerFunc) http.HandlerFunc {
	pol := adminauth.Policy{AppServiceAuth: d.AppServiceAuth, AdminGroupID: d.AdminGroupID, Groups: d.Groups}
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := pol.Check(r)
		if err != nil {
			d.refuseAdmin(w, r, who, err)
			return
		}
		if !d.AppServiceAuth && r.Header.Get("X-MS-CLIENT-PRINCIPAL") != "" {
			d.Log.Warn("X-MS-CLIENT-PRINCIPAL ignored: App Service Authentication is off (WEBSITE_AUTH_ENABLED), so the header is not the platform's; the request counts as automation", "path", r.URL.Path)
		}
		next(w, r.WithContext(adminauth.WithCaller(r.Context(), who)))
	}
}

// refuseAdmin answers an admin rule refusal: 403 with a code naming the reason.
func (d Deps) refuseAdmin(w http.ResponseWriter, r *http.Request, who adminauth.Caller, err error) {
	d.Log.Warn("admin API refused", "path", r.URL.Path, "principal", who.Name, "error", err.Error())
	code := "Forbidden"
	switch {
	case errors.Is(err, adminauth.ErrGroupOverage):
		code = "GroupOverage"
	case errors.Is(err, adminauth.ErrGroupLookup):
		code = "GroupLookupFailed"
	}
	writeError(w, http.StatusForbidden, code, err.Error())
}
