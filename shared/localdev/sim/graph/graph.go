// Package graph simulates Microsoft Graph v1.0: the directory, licence, device, report, GDAP, mail
// and app-registration endpoints tenantsync uses, with Graph's error bodies, paging, delta
// tokens, $batch, throttling and the failure modes of the scenario. Data comes lazily from the
// scenario world (a page of 999 users is generated and streamed, never a whole tenant), mutable
// consent state from package directory.
package graph

import (
	"crypto/cipher"
	"crypto/rand"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/metrics"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// Options wire the service to the simulator's shared state.
type Options struct {
	Directory *directory.Directory
	Issuer    *token.Issuer
	Metrics   *metrics.Recorder
	// BaseURL is this service's root as clients see it, e.g. https://127.0.0.1:port (nextLinks are
	// built from it; the API lives under /v1.0).
	BaseURL string
}

// Mail is one message sent through /users/{id}/sendMail.
type Mail struct {
	TenantID string    `json:"tenantId"`
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Cc       []string  `json:"cc,omitempty"`
	Bcc      []string  `json:"bcc,omitempty"`
	Subject  string    `json:"subject"`
	HTML     string    `json:"html"`
	Text     string    `json:"text"`
	SentAt   time.Time `json:"sentAt"`
}

// Service serves the Graph host.
type Service struct {
	opts  Options
	world *scenario.World
	// partnerUsers are the partner tenant's sign-in users as Graph users.
	partnerUsers []scenario.User
	base         string // BaseURL without a trailing slash
	aead         cipher.AEAD

	faults faultCounters
	limits reportLimiter

	mu      sync.Mutex
	outbox  []Mail
	conceal map[string]bool // tenant id → displayConcealedNames, once PATCHed
}

// New builds the service.
func New(o Options) *Service {
	var key [32]byte
	_, _ = rand.Read(key[:])
	s := &Service{
		opts:    o,
		base:    strings.TrimRight(o.BaseURL, "/"),
		aead:    newAEAD(key[:]),
		conceal: map[string]bool{},
	}
	if o.Directory != nil {
		s.world = o.Directory.World()
		s.partnerUsers = partnerUsersOf(s.world.Partner())
	}
	s.faults.n = map[string]int64{}
	s.limits.hits = map[string][]time.Time{}
	return s
}

// now is the simulator's clock (the token issuer's, so tests can move time for tokens and data
// together).
func (s *Service) now() time.Time {
	if s.opts.Issuer != nil {
		return s.opts.Issuer.Now()
	}
	return time.Now()
}

// ServeHTTP answers the Graph host: /v1.0/... and the pre-authenticated report downloads.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := uuid.NewString()
	crid := r.Header.Get("client-request-id")
	if crid == "" {
		crid = rid
	}
	h := w.Header()
	h.Set("request-id", rid)
	h.Set("client-request-id", crid)
	h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Simulated","Slice":"E","Ring":"1","ScaleUnit":"000","RoleInstance":"SIM000001","ADSiteName":"SIM"}}`)
	h.Set("Strict-Transport-Security", "max-age=31536000")
	if strings.HasPrefix(r.URL.Path, reportDownloadPrefix) {
		s.serveReportDownload(w, r, rid, crid)
		return
	}
	s.serveAPI(w, r, rid, crid, false)
}

// Outbox returns every mail sent so far.
func (s *Service) Outbox() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Mail, len(s.outbox))
	for i, m := range s.outbox {
		m.To = append([]string(nil), m.To...)
		m.Cc = append([]string(nil), m.Cc...)
		m.Bcc = append([]string(nil), m.Bcc...)
		out[i] = m
	}
	return out
}
