// Package entra simulates Microsoft Entra ID v2 (login.microsoftonline.com): OpenID discovery,
// the token endpoint (client credentials with secret, certificate or federated assertion;
// authorization code with PKCE; refresh tokens; device code), the authorize, admin-consent and
// device-login pages, and the App Service managed identity endpoint. Answers and errors follow
// Entra's shapes closely enough for MSAL Go and azidentity, unmodified, to work against it.
package entra

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/metrics"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// Entra writes a token's single audience as a string, and MSAL Go decodes the id_token's aud
// into a string field (accesstokens.IDToken.Audience): with golang-jwt's default (a one-element
// array) MSAL fails with "cannot unmarshal array into ... aud of type string". The setting is
// process-wide; the simulator is the only code in this module that signs JWTs.

// Options wire the service to the simulator's shared state.
type Options struct {
	Directory *directory.Directory
	Issuer    *token.Issuer
	Metrics   *metrics.Recorder
	// IdentityHeader is the secret the managed identity endpoint expects in X-IDENTITY-HEADER.
	IdentityHeader string
	// ManagedIdentityObjectID is the object id of the Function App's managed identity.
	ManagedIdentityObjectID string
}

// Lifetimes, as Entra uses them.
const (
	accessTokenLifetime = 3599 * time.Second
	authCodeLifetime    = 10 * time.Minute
	deviceCodeLifetime  = 15 * time.Minute
	refreshInactivity   = 90 * 24 * time.Hour
	miTokenLifetime     = 24 * time.Hour
)

// Service serves the login host. Safe for concurrent use.
type Service struct {
	opts  Options
	dir   *directory.Directory
	world *scenario.World
	iss   *token.Issuer
	mux   *http.ServeMux

	mu       sync.Mutex
	codes    map[string]*authCode     // authorization codes
	devices  map[string]*deviceAuth   // by device_code
	userCode map[string]string        // user_code → device_code
	refresh  map[string]*refreshToken // by refresh token value
	revoked  map[string]revocation    // by user object id (RevokeUserSessions)
	inserts  int                      // to prune expired codes now and then
}

// New builds the service.
func New(o Options) *Service {
	s := &Service{
		opts: o, dir: o.Directory, iss: o.Issuer,
		codes: map[string]*authCode{}, devices: map[string]*deviceAuth{}, userCode: map[string]string{},
		refresh: map[string]*refreshToken{}, revoked: map[string]revocation{},
	}
	if o.Directory != nil {
		s.world = o.Directory.World()
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.openIDConfiguration)
	m.HandleFunc("GET /{tenant}/discovery/instance", s.instanceDiscovery)
	m.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.keys)
	m.HandleFunc("GET /{tenant}/discovery/keys", s.keys)
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	m.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.authorize)
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize", s.authorize)
	m.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", s.logout)
	m.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", s.deviceCode)
	m.HandleFunc("GET /devicelogin", s.deviceLogin)
	m.HandleFunc("POST /devicelogin", s.deviceLogin)
	m.HandleFunc("GET /{tenant}/v2.0/adminconsent", s.adminConsent)
	m.HandleFunc("POST /{tenant}/v2.0/adminconsent", s.adminConsent)
	m.HandleFunc("GET /{tenant}/adminconsent", s.adminConsent)
	m.HandleFunc("POST /{tenant}/adminconsent", s.adminConsent)
	m.HandleFunc("GET /{tenant}/UserRealm/{user}", s.userRealm)
	m.HandleFunc("GET /{tenant}/userrealm/{user}", s.userRealm)
	m.HandleFunc("GET /error", s.errorPage)
	s.mux = m
	return s
}

func (s *Service) now() time.Time { return s.iss.Now() }

// ServeHTTP routes and counts every request: metrics rows are ("entra", tenant id, endpoint)
// with endpoints such as "POST /token", "GET /authorize", "POST /devicecode",
// "GET /adminconsent", "GET /openid-configuration" (the tenant segment is in the row's tenant).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	obs := &observation{}
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), obsKey{}, obs)))
	ep := obs.endpoint
	if ep == "" {
		ep = r.Method + " (no such endpoint)" // not the path: arbitrary paths would make unbounded rows
	}
	s.opts.Metrics.Observe("entra", obs.tenant, ep, rec.status)
}

// observation is filled by handlers so the metrics row names the tenant and the endpoint
// without the tenant segment.
type observation struct{ tenant, endpoint string }

type obsKey struct{}

func observe(r *http.Request, tenant, endpoint string) {
	if o, ok := r.Context().Value(obsKey{}).(*observation); ok {
		if tenant != "" {
			o.tenant = tenant
		}
		if endpoint != "" {
			o.endpoint = endpoint
		}
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// baseURL is the authority as the client addressed it (scheme://host:port), so discovery
// documents, issuers and redirects match the host:port the client uses (MSAL compares them).
func baseURL(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

// tenantRef is a resolved {tenant} path segment.
type tenantRef struct {
	Segment string // as the client wrote it
	ID      string // tenant id; "" for organizations / common
	Name    string
	Domain  string
	Partner bool             // the MSP's own tenant (home of the app and the partner users)
	T       *scenario.Tenant // the customer tenant, nil for the partner
	Meta    string           // "organizations" or "common"
}

// resolveTenant maps a path segment (GUID, domain, organizations, common) to a tenant.
// Unknown and deleted tenants give AADSTS90002.
func (s *Service) resolveTenant(seg string) (tenantRef, *aadError) {
	ref := tenantRef{Segment: seg}
	switch low := strings.ToLower(seg); low {
	case "organizations", "common":
		ref.Meta = low
		return ref, nil
	}
	p := s.world.Partner()
	if strings.EqualFold(seg, p.TenantID) || strings.EqualFold(seg, p.Domain) {
		ref.ID, ref.Name, ref.Domain, ref.Partner = strings.ToLower(p.TenantID), p.DisplayName, p.Domain, true
		return ref, nil
	}
	t, ok := s.world.Tenant(seg)
	if !ok || t.Deleted {
		return ref, aad(90002, errCtx{Tenant: seg})
	}
	ref.ID, ref.Name, ref.Domain, ref.T = strings.ToLower(t.ID), t.DisplayName, t.DefaultDomain, t
	return ref, nil
}

// tenantByID resolves a tenant id known to exist (the home tenant of a session).
func (s *Service) tenantByID(id string) tenantRef {
	ref, err := s.resolveTenant(id)
	if err != nil {
		return tenantRef{Segment: id, ID: id, Name: id}
	}
	return ref
}

func (s *Service) partnerTenantID() string { return strings.ToLower(s.world.Partner().TenantID) }

// RevokeUserSessions revokes every refresh token issued to the user so far (as a password reset
// or an admin's "revoke sessions" does): redeeming one then fails with AADSTS50173.
func (s *Service) RevokeUserSessions(upn string) error {
	u, ok := s.lookupUser(upn)
	if !ok {
		return errUnknownUser(upn)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rv := s.revoked[u.ID]
	s.revoked[u.ID] = revocation{gen: rv.gen + 1, at: s.now()}
	return nil
}

// revocation is a user's TokensValidFrom. Sessions remember the generation they started in,
// so a frozen simulator clock cannot make a fresh sign-in look revoked.
type revocation struct {
	gen int
	at  time.Time
}

// AgeRefreshTokens moves every outstanding refresh token's last use d into the past, so a test
// can reach the 90-day inactivity limit (AADSTS700082) without a clock of its own.
func (s *Service) AgeRefreshTokens(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.refresh {
		rt.LastUsed = rt.LastUsed.Add(-d)
		rt.Issued = rt.Issued.Add(-d)
	}
}

// pruneLocked drops expired codes now and then so long runs stay bounded.
func (s *Service) pruneLocked() {
	s.inserts++
	if s.inserts%512 != 0 {
		return
	}
	now := s.now()
	for k, c := range s.codes {
		if now.After(c.Expires.Add(time.Hour)) {
			delete(s.codes, k)
		}
	}
	for k, d := range s.devices {
		if now.After(d.Expires.Add(time.Hour)) {
			delete(s.devices, k)
			delete(s.userCode, d.UserCode)
		}
	}
}
