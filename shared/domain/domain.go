// Package domain holds tenantsync's domain types, shared by every other package so that storage,
// queueing and the read API agree on one vocabulary.
package domain

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Tenant is one customer tenant as tenantsync knows it, in the read API's shape (product.md).
type Tenant struct {
	TenantID      string       `json:"tenantId"`
	DisplayName   string       `json:"displayName"`
	DefaultDomain string       `json:"defaultDomain"`
	Sources       []string     `json:"sources"` // gdap, csp
	Relationship  Relationship `json:"relationship"`
	Consent       Consent      `json:"consent"`
	Sync          SyncStatus   `json:"sync"`
	Counts        Counts       `json:"counts"`
	Excluded      bool         `json:"excluded"`
	// Flags are discovery findings an MSP must act on (expiring relationship, missing roles, ...).
	Flags []Flag `json:"flags"`
	// Missing is set when discovery no longer finds the tenant (never deleted automatically).
	Missing     bool                        `json:"missing,omitempty"`
	MissingAt   time.Time                   `json:"missingSince,omitzero"`
	Collections map[string]CollectionStatus `json:"collections,omitempty"`
	// MFARegisteredPercent is the share of users registered for MFA; nil when unknown.
	MFARegisteredPercent *float64 `json:"mfaRegisteredPercent,omitempty"`
}

// Relationship is the tenant's best GDAP relationship.
type Relationship struct {
	ID          string    `json:"id,omitempty"`
	Status      string    `json:"status,omitempty"`
	EndDateTime time.Time `json:"endDateTime,omitzero"`
	AutoExtend  bool      `json:"autoExtend"`
	Roles       []string  `json:"roles"`
}

// Consent is tenantsync's consent in the tenant.
type Consent struct {
	State     string    `json:"state"`            // none, pending, expired, consented, failed
	Method    string    `json:"method,omitempty"` // cpv, link, existing
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	Error     string    `json:"error,omitempty"`
	// An emailed admin-consent link (method link, state pending or expired): to whom it went,
	// when, who at the MSP asked for it, and until when the newest link works.
	PendingTo   string    `json:"pendingTo,omitempty"`
	SentAt      time.Time `json:"sentAt,omitzero"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	ExpiresAt   time.Time `json:"expiresAt,omitzero"`
}

// Effective is the consent as of now: a pending link past its expiry reads as expired, with
// what to do about it. Stored rows keep "pending"; the state is evaluated when read.
func (c Consent) Effective(now time.Time) Consent {
	if c.State == ConsentPending && !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
		c.State = ConsentExpired
		c.Error = fmt.Sprintf("The admin-consent link sent to %s expired on %s without being used: send a new link.",
			c.PendingTo, c.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return c
}

// SyncStatus is the tenant's latest sync.
type SyncStatus struct {
	State         string     `json:"state"` // never, queued, running, succeeded, partial, failed
	LastRunID     string     `json:"lastRunId,omitempty"`
	LastSuccessAt time.Time  `json:"lastSuccessAt,omitzero"`
	Error         *SyncError `json:"error,omitempty"`
}

// SyncError is a failure with what to do about it.
type SyncError struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Remediation string `json:"remediation"`
}

// Counts are the synced collection sizes.
type Counts struct {
	Users         int `json:"users"`
	LicensedUsers int `json:"licensedUsers"`
	Groups        int `json:"groups"`
	Devices       int `json:"devices"`
	Mailboxes     int `json:"mailboxes"`
	Skus          int `json:"skus"`
}

// Flag is a discovery finding.
type Flag struct {
	Code        string `json:"code"` // relationshipExpiring, relationshipEnded, missingRoles, notFound
	Message     string `json:"message"`
	Remediation string `json:"remediation"`
}

// CollectionStatus says whether a collection could be synced and, if not, why.
type CollectionStatus struct {
	Available   bool   `json:"available"`
	Code        string `json:"code,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Remediation string `json:"remediation,omitempty"`
}

// Consent states.
const (
	ConsentNone      = "none"
	ConsentPending   = "pending"
	ConsentExpired   = "expired" // a pending link that expired (derived when read, see Consent.Effective)
	ConsentConsented = "consented"
	ConsentFailed    = "failed"
)

// Sync (run) states.
const (
	SyncNever     = "never"
	SyncQueued    = "queued"
	SyncRunning   = "running"
	SyncSucceeded = "succeeded"
	SyncPartial   = "partial"
	SyncFailed    = "failed"
)

// Run is one sync of one tenant, triggered by one queue message.
type Run struct {
	TenantID      string    `json:"tenantId"`
	RunID         string    `json:"runId"`
	Reason        string    `json:"reason"` // scheduled, manual, consent
	State         string    `json:"state"`
	MessageID     string    `json:"messageId"`
	DeliveryCount int       `json:"deliveryCount"`
	QueuedAt      time.Time `json:"queuedAt,omitzero"`
	StartedAt     time.Time `json:"startedAt,omitzero"`
	FinishedAt    time.Time `json:"finishedAt,omitzero"`
	// Error is the run's problem, if any.
	Error *SyncError `json:"error,omitempty"`
	// Collections are per-collection results: what was read and what Table Storage was asked to do.
	Collections map[string]RunCollection `json:"collections,omitempty"`
}

// RunCollection is one collection's result in a run.
type RunCollection struct {
	Full         bool   `json:"full"` // full read (else delta)
	Count        int    `json:"count"`
	Written      int    `json:"written"`
	Unchanged    int    `json:"unchanged"`
	Deleted      int    `json:"deleted"`
	Transactions int    `json:"transactions"`
	Unavailable  string `json:"unavailable,omitempty"` // code, when the tenant cannot provide it
	Error        string `json:"error,omitempty"`       // code, when it failed
}

// SyncRequest is the body of a tenant-sync queue message.
type SyncRequest struct {
	TenantID string    `json:"tenantId"`
	RunID    string    `json:"runId"`
	Reason   string    `json:"reason"`
	QueuedAt time.Time `json:"queuedAt"`
}

// AutomationCaller is "who asked" for a request that came with a function key and no signed-in
// App Service Authentication principal: automation, never a name the caller chose.
const AutomationCaller = "automation (function key)"

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsTenantID reports whether s is a tenant id (a GUID).
func IsTenantID(s string) bool { return guid.MatchString(s) }

// Validate checks a request read from the queue; a message that fails is poison and must say why.
func (r SyncRequest) Validate() error {
	var problems []string
	if !IsTenantID(r.TenantID) {
		problems = append(problems, fmt.Sprintf("tenantId %q is not a tenant GUID", r.TenantID))
	}
	if r.RunID == "" || len(r.RunID) > 200 || strings.ContainsAny(r.RunID, `/\#?`) {
		problems = append(problems, fmt.Sprintf("runId %q is empty, too long or has a character Table Storage keys forbid", r.RunID))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid sync request: %s", strings.Join(problems, "; "))
	}
	return nil
}
