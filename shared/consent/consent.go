// Package consent gets tenantsync consented in customer tenants: through Partner Center
// (control-panel-vendor consent) where GDAP allows, otherwise through an emailed admin-consent
// link whose callback is verified; every consent is confirmed with a real app-only token.
package consent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/microsoftgraph/msgraph-sdk-go/organization"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Options wire the service.
type Options struct {
	Store           *store.Store
	Queue           queue.Sender
	Credentials     identity.Credentials
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

	// AppName is how mails and pages name the app (default "tenantsync").
	AppName string
	// Concurrency bounds the tenants consented through Partner Center at once (default 8).
	Concurrency int
	// RatePerSecond bounds applicationconsents requests (default 40; Partner Center allows 50
	// per second per app).
	RatePerSecond int
	// VerifyAttempts and VerifyBackoff bound the app-only verification after a consent: a new
	// service principal can take a moment to be usable, so a failed check is retried with a
	// doubling backoff (defaults 5 attempts, 2s first wait: at most 30s of waiting).
	VerifyAttempts int
	VerifyBackoff  time.Duration

	// PartnerGraphToken gives the partner service account's delegated Microsoft Graph token for a
	// customer tenant (GDAP), used to assign tenantsync's app roles after Partner Center consent.
	PartnerGraphToken TenantTokenFunc
}

// Service grants and verifies consent.
type Service struct {
	o     Options
	pace  *pacer
	mu    sync.Mutex
	pname string // the partner organization's display name, once read
}

// New builds the service.
func New(o Options) *Service {
	if o.AppName == "" {
		o.AppName = "tenantsync"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.RatePerSecond <= 0 {
		o.RatePerSecond = 40
	}
	if o.VerifyAttempts <= 0 {
		o.VerifyAttempts = 5
	}
	if o.VerifyBackoff <= 0 {
		o.VerifyBackoff = 2 * time.Second
	}
	if o.LinkTTL <= 0 {
		o.LinkTTL = 7 * 24 * time.Hour
	}
	return &Service{o: o, pace: &pacer{every: time.Second / time.Duration(o.RatePerSecond)}}
}

// Consent methods.
const (
	// MethodCPV: Partner Center consent of the bootstrap delegated scopes, then the app roles
	// assigned through GDAP, verified with an app-only token whose roles claim holds them all.
	MethodCPV  = "cpv+roles"
	MethodLink = "link"
)

// Errors callers map to answers.
var (
	ErrInvalidEmail      = errors.New("invalid e-mail address")
	ErrUnknownTenant     = errors.New("unknown tenant")
	ErrAlreadyConsented  = errors.New("tenant already consented")
	ErrMailNotConfigured = errors.New("consent mails are not configured: set CONSENT_MAIL_FROM to the partner service account's address (mails are sent from its mailbox with its delegated Mail.Send, granted in the partner tenant only)")
	// ErrPartnerCenter: Partner Center consent cannot run at all (no delegated partner token).
	ErrPartnerCenter = errors.New("partner center consent unavailable")
	// ErrRejected: the callback's state or parameters are not acceptable; nothing was stored.
	ErrRejected = errors.New("consent callback rejected")
	// ErrDeclined: the customer's admin declined (or Entra refused) the consent.
	ErrDeclined = errors.New("consent declined")
	// ErrNotVerified: consent was reported but an app-only token could not read the tenant.
	ErrNotVerified = errors.New("consent not verified")
	// ErrUnavailable: storage or another dependency failed; try again later.
	ErrUnavailable = errors.New("consent service unavailable")
	// ErrMailFailed: Graph did not accept the consent mail.
	ErrMailFailed = errors.New("the consent mail could not be sent")
)

// kinded is p as an error that is also one of the Err values above (errors.Is), read back with
// errors.As into a *domain.Problem.
func kinded(kind error, p domain.Problem) *domain.Problem {
	p.Kind = kind
	return &p
}

func (s *Service) now() time.Time {
	if s.o.Now != nil {
		return s.o.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.o.Log != nil {
		return s.o.Log
	}
	return slog.Default()
}

// consentError is the stored text of a problem: code, message, fix.
func consentError(p domain.Problem) string {
	msg := p.Text()
	if p.Remediation != "" {
		msg += " — " + p.Remediation
	}
	return msg
}

// verify proves consent: an app-only token for the tenant reads /organization, and the answer
// is that tenant. A fresh service principal may not be usable at once, so failures that can be
// propagation are retried with a doubling backoff, a bounded number of times.
func (s *Service) verify(ctx context.Context, tenantID string, attempts int) (string, error) {
	var name string
	err := s.retrying(ctx, tenantID, attempts, func() error {
		n, err := s.verifyOnce(ctx, tenantID)
		name = n
		return err
	})
	return name, err
}

// retrying runs f up to attempts times while its error is one a new service principal shows
// until it has replicated, with a doubling backoff.
func (s *Service) retrying(ctx context.Context, tenantID string, attempts int, f func() error) error {
	wait := s.o.VerifyBackoff
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		if attempt >= attempts || !mayPropagate(err) {
			return err
		}
		s.log().Info("consent not usable yet, retrying verification", "tenantId", tenantID, "attempt", attempt, "wait", wait.String(), "code", remedy.Classify(err).Code)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(wait*2, 30*time.Second)
	}
}

func (s *Service) verifyOnce(ctx context.Context, tenantID string) (string, error) {
	// A token cached from before this consent (discovery's access check) lacks the roles just
	// granted; each attempt asks Entra for a new one.
	if f, ok := s.o.Credentials.(identity.Forgetter); ok {
		f.Forget(tenantID)
	}
	cred, err := s.o.Credentials.For(tenantID)
	if err != nil {
		return "", err
	}
	return s.readOrganization(ctx, tenantID, cred)
}

// readOrganization reads /organization with cred and returns the tenant's name; an answer for
// another tenant is an error.
func (s *Service) readOrganization(ctx context.Context, tenantID string, cred azcore.TokenCredential) (string, error) {
	client, _, err := graphclient.New(cred, s.o.Endpoints)
	if err != nil {
		return "", err
	}
	resp, err := client.Organization().Get(ctx, &organization.OrganizationRequestBuilderGetRequestConfiguration{
		QueryParameters: &organization.OrganizationRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
	})
	if err != nil {
		return "", err
	}
	for _, o := range resp.GetValue() {
		if id := o.GetId(); id != nil && strings.EqualFold(*id, tenantID) {
			if n := o.GetDisplayName(); n != nil {
				return *n, nil
			}
			return "", nil
		}
	}
	return "", domain.Problem{Code: "OrganizationMismatch", Message: "the app-only token read /organization but it did not return tenant " + tenantID,
		Remediation: "Check the tenant id; run discovery again."}
}

// mayPropagate: errors a new service principal can show until it has replicated.
func mayPropagate(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch remedy.Classify(err).Code {
	case "AADSTS90002", "AADSTS7000215", "AADSTS7000222", "AADSTS53003", "OrganizationMismatch":
		return false // deleted tenant, our own credential, Conditional Access: waiting cannot help
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// queueFirstSync queues the tenant's first sync at once (reason "consent") and marks it queued.
// t must carry the consent just recorded: the request is checked with the worker's rules.
func (s *Service) queueFirstSync(ctx context.Context, t domain.Tenant) (string, error) {
	if s.o.Queue == nil {
		return "", errors.New("no sync queue configured")
	}
	msg, req, err := fanout.OnDemand(t, fanout.ReasonConsent, s.now())
	if err != nil {
		return "", err
	}
	if err := fanout.Send(ctx, s.o.Queue, s.o.Store, s.log(), []queue.Message{msg}, []domain.SyncRequest{req}, []domain.Tenant{t}); err != nil {
		return "", fmt.Errorf("queue the first sync: %w", err)
	}
	return req.RunID, nil
}

// partnerName is the MSP's organization name for mails and pages (read once with the app-only
// token in the partner tenant); "your IT provider" when it cannot be read.
func (s *Service) partnerName(ctx context.Context) string {
	s.mu.Lock()
	name := s.pname
	s.mu.Unlock()
	if name != "" {
		return name
	}
	if s.o.PartnerTenantID != "" && s.o.Credentials != nil {
		if n, err := s.verifyOnce(ctx, s.o.PartnerTenantID); err == nil && n != "" {
			s.mu.Lock()
			s.pname = n
			s.mu.Unlock()
			return n
		} else if err != nil {
			s.log().Warn("reading the partner organization's name failed", "code", remedy.Classify(err).Code)
		}
	}
	return "your IT provider"
}

// pacer spaces requests evenly: at most one per interval, across goroutines.
type pacer struct {
	mu    sync.Mutex
	next  time.Time
	every time.Duration
}

func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.every)
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		return sleep(ctx, d)
	}
	return nil
}
