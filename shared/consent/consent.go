// Package consent gets tenantsync consented in customer tenants: through Partner Center
// (control-panel-vendor consent) where GDAP allows, otherwise through an emailed admin-consent
// link whose callback is verified; every consent is confirmed with a real app-only token.
package consent

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/store"
	"github.com/tenantsync/tenantsync/shared/sync"
)

// Options wire the service.
type Options struct {
	Store           *store.Store
	Queue           queue.Sender
	Credentials     sync.Credentials
	PartnerCenter   *pcclient.Client // with the partner's delegated token (App+User)
	Signer          *oauthstate.Signer
	Consumer        oauthstate.Consumer
	Endpoints       cloud.Endpoints
	ClientID        string
	PartnerTenantID string
	PublicBaseURL   string
	MailFrom        string
	LinkTTL         time.Duration
	Now             func() time.Time
	Log             *slog.Logger
}

// Service grants and verifies consent.
type Service struct{ o Options }

// New builds the service.
func New(o Options) *Service { return &Service{o: o} }

var errTODO = errors.New("consent: not implemented yet")

// Result is one tenant's outcome of a consent attempt.
type Result struct {
	TenantID string `json:"tenantId"`
	State    string `json:"state"` // consented, failed, skipped
	Method   string `json:"method,omitempty"`
	Error    string `json:"error,omitempty"`
}

// GrantCPV consents tenants through Partner Center (all eligible ones when tenantIDs is empty).
func (s *Service) GrantCPV(ctx context.Context, tenantIDs []string) ([]Result, error) {
	return nil, errTODO
}

// Pending is an emailed consent link's record.
type Pending struct {
	TenantID string    `json:"tenantId"`
	To       string    `json:"to"`
	SentAt   time.Time `json:"sentAt"`
	Expires  time.Time `json:"expires"`
}

// SendLink emails tenantID's admin-consent link to email.
func (s *Service) SendLink(ctx context.Context, tenantID, email, by string) (Pending, error) {
	return Pending{}, errTODO
}

// Outcome is what the consent callback page tells the customer's admin.
type Outcome struct {
	TenantID string
	OK       bool
	Message  string // plain words, no internals
}

// Callback handles /api/consent/callback.
func (s *Service) Callback(ctx context.Context, q url.Values) (Outcome, error) {
	return Outcome{}, errTODO
}
