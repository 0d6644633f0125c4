// Package partner connects the MSP's partner account: the MFA sign-in (authorization code + PKCE),
// the refresh token kept in Key Vault and kept alive, and delegated tokens for Partner Center.
//
// The flow: ConnectURL signs a single-use state (purpose connect, 10 minutes) whose nonce also
// derives the PKCE verifier, so nothing is stored between the redirect and the callback. Callback
// verifies and consumes that state before it redeems the code, accepts only a token of the partner
// tenant whose sign-in included MFA, and then writes the refresh token to Key Vault (only there)
// and who connected and when to the Partner table. Token and KeepAlive redeem the stored refresh
// token and store the rotated one every time. No token is ever logged, stored in a table or put in
// an answer; failures carry a stable code, a message and the fix.
package partner

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/secrets"
	"github.com/tenantsync/tenantsync/shared/store"
)

// CallbackPath is the redirect URI's path under PUBLIC_BASE_URL.
const CallbackPath = "/api/connect/callback"

// connectScope is what the sign-in asks for: Partner Center (of the configured cloud) as the user, a
// refresh token, and the user's identity (id_token with the account name).
func (s *Service) connectScope() string {
	return s.o.Endpoints.PartnerCenterScope() + " offline_access openid profile"
}

// StateTTL is how long a connect link stays valid.
const StateTTL = 10 * time.Minute

// Options wire the service.
type Options struct {
	Store           *store.Store
	Vault           secrets.Store
	Signer          *oauthstate.Signer
	Consumer        oauthstate.Consumer
	Endpoints       cloud.Endpoints
	PartnerTenantID string
	ClientID        string
	ClientSecret    string
	// ClientAssertion, when set, authenticates the app with a signed assertion (certificate or
	// federated managed identity) instead of ClientSecret.
	ClientAssertion identity.AssertionFunc
	PublicBaseURL   string
	Now             func() time.Time
	Log             *slog.Logger
	// HTTPClient reaches the token endpoint; nil: Endpoints.HTTPClient() (system roots plus the
	// configured CA, verification never disabled).
	HTTPClient *http.Client
}

// Service is the partner connection. Safe for concurrent use.
type Service struct {
	o       Options
	http    *http.Client
	httpErr error

	mu    sync.Mutex
	cache map[string]cachedToken // access tokens by scope

	// redeemMu serialises refresh-token redemptions, so rotated refresh tokens are stored in
	// the order Entra issued them and concurrent cache misses redeem once.
	redeemMu sync.Mutex
}

type cachedToken struct {
	value   string
	expires time.Time
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Service{o: o, http: o.HTTPClient, cache: map[string]cachedToken{}}
	if s.http == nil {
		s.http, s.httpErr = o.Endpoints.HTTPClient()
	}
	return s
}

func (s *Service) now() time.Time { return s.o.Now().UTC() }

// authority is {AuthorityHost}{PartnerTenantID}, without a trailing slash.
func (s *Service) authority(tenant string) string {
	host := s.o.Endpoints.AuthorityHost
	if host == "" {
		host = cloud.Public().AuthorityHost
	}
	return strings.TrimRight(host, "/") + "/" + url.PathEscape(tenant)
}

// RedirectURI is PUBLIC_BASE_URL + /api/connect/callback (registered on the app).
func (s *Service) RedirectURI() string {
	return strings.TrimRight(s.o.PublicBaseURL, "/") + CallbackPath
}

func (s *Service) configured() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"PARTNER_TENANT_ID", s.o.PartnerTenantID}, {"APP_CLIENT_ID", s.o.ClientID},
		{"PUBLIC_BASE_URL", s.o.PublicBaseURL},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if s.o.Signer == nil {
		missing = append(missing, "STATE_SIGNING_KEY")
	}
	if s.o.ClientSecret == "" && s.o.ClientAssertion == nil {
		missing = append(missing, "APP_CLIENT_SECRET (or APP_AUTH=federated|certificate)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("partner connection is not configured: set %s", strings.Join(missing, ", "))
	}
	return s.httpErr
}

// maxBy bounds the requester's name carried in the state (states are verified only up to 2 KB).
const maxBy = 256

// ConnectURL is where /api/connect redirects: Entra sign-in for the partner tenant.
// by is who asked (the admin principal, or domain.AutomationCaller), carried in the signed state.
func (s *Service) ConnectURL(ctx context.Context, by string) (string, error) {
	if err := s.configured(); err != nil {
		return "", err
	}
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	if len(by) > maxBy {
		by = strings.ToValidUTF8(by[:maxBy], "")
	}
	state, err := s.o.Signer.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConnect, Nonce: nonce,
		Expires: s.now().Add(StateTTL), By: by})
	if err != nil {
		return "", fmt.Errorf("signing the connect state: %w", err)
	}
	q := url.Values{}
	q.Set("client_id", s.o.ClientID)
	q.Set("response_type", "code")
	q.Set("redirect_uri", s.RedirectURI())
	q.Set("response_mode", "query")
	q.Set("scope", s.connectScope())
	q.Set("state", state)
	q.Set("prompt", "login")
	q.Set("code_challenge", oauthstate.PKCEChallenge(s.o.Signer.PKCEVerifier(nonce)))
	q.Set("code_challenge_method", "S256")
	return s.authority(s.o.PartnerTenantID) + "/oauth2/v2.0/authorize?" + q.Encode(), nil
}

// Status reads the connection record.
func (s *Service) Status(ctx context.Context) (store.PartnerConnection, error) {
	return s.o.Store.GetPartner(ctx)
}

// ensure creates the tables (once per process) before the first write.
func (s *Service) ensure(ctx context.Context) error {
	if err := s.o.Store.Ensure(ctx); err != nil {
		return fmt.Errorf("table storage: %w", err)
	}
	return nil
}

// forget drops every cached access token.
func (s *Service) forget() {
	s.mu.Lock()
	clear(s.cache)
	s.mu.Unlock()
}
