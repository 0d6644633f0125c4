// Package partner connects the MSP's partner account: the MFA sign-in (authorization code + PKCE),
// the refresh token kept in Key Vault and kept alive, and delegated tokens for Partner Center.
package partner

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/secrets"
	"github.com/tenantsync/tenantsync/shared/store"
)

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
	PublicBaseURL   string
	Now             func() time.Time
	Log             *slog.Logger
}

// Service is the partner connection.
type Service struct{ o Options }

// New builds the service.
func New(o Options) *Service { return &Service{o: o} }

var errTODO = errors.New("partner connection: not implemented yet")

// ConnectURL is where /api/connect redirects: Entra sign-in for the partner tenant.
func (s *Service) ConnectURL(ctx context.Context, by string) (string, error) { return "", errTODO }

// Callback completes the connection from /api/connect/callback's query.
func (s *Service) Callback(ctx context.Context, q url.Values) (store.PartnerConnection, error) {
	return store.PartnerConnection{}, errTODO
}

// KeepAlive redeems and rotates the refresh token (weekly timer).
func (s *Service) KeepAlive(ctx context.Context) error { return errTODO }

// Token returns a delegated access token for scope from the stored refresh token.
func (s *Service) Token(ctx context.Context, scope string) (string, error) { return "", errTODO }

// Status reads the connection record.
func (s *Service) Status(ctx context.Context) (store.PartnerConnection, error) {
	return s.o.Store.GetPartner(ctx)
}
