// Package domain holds tenantsync's domain types, shared by every other package so that storage,
// queueing and the read API agree on one vocabulary.
package domain

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Tenant is one customer tenant as tenantsync knows it.
type Tenant struct {
	TenantID      string    `json:"tenantId"`
	DisplayName   string    `json:"displayName"`
	DefaultDomain string    `json:"defaultDomain"`
	Excluded      bool      `json:"excluded"`
	ConsentState  string    `json:"consentState"` // none, pending, consented, failed
	SyncState     string    `json:"syncState"`    // never, queued, running, succeeded, partial, failed
	LastRunID     string    `json:"lastRunId,omitempty"`
	LastSuccessAt time.Time `json:"lastSuccessAt,omitzero"`
}

// Consent states.
const (
	ConsentNone      = "none"
	ConsentPending   = "pending"
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
}

// SyncRequest is the body of a tenant-sync queue message.
type SyncRequest struct {
	TenantID string    `json:"tenantId"`
	RunID    string    `json:"runId"`
	Reason   string    `json:"reason"`
	QueuedAt time.Time `json:"queuedAt"`
}

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
