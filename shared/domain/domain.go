// Package domain holds tenantsync's domain types, shared by every other package so that storage,
// queueing and the read API agree on one vocabulary.
package domain

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Tenant is one customer tenant as tenantsync knows it, in the read API's shape (README, "API").
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
	Flags []Problem `json:"flags"`
	// Missing is set when discovery no longer finds the tenant (never deleted automatically).
	Missing     bool                        `json:"missing,omitempty"`
	MissingAt   time.Time                   `json:"missingSince,omitzero"`
	Collections map[string]CollectionStatus `json:"collections,omitempty"`
	// MFARegisteredPercent is the share of users registered for MFA; nil when unknown.
	MFARegisteredPercent *float64 `json:"mfaRegisteredPercent,omitempty"`
	// MFASource says where the tenant's MFA state comes from (MFASourceReport, ...).
	MFASource string `json:"mfaSource,omitempty"`
}

// Relationship is the tenant's best GDAP relationship.
type Relationship struct {
	ID          string    `json:"id,omitempty"`
	Status      string    `json:"status,omitempty"`
	EndDateTime time.Time `json:"endDateTime,omitzero"`
	AutoExtend  bool      `json:"autoExtend"`
	Roles       []string  `json:"roles"`
	// AssignedRoles are the roles in force: those of the active relationships' access assignments
	// (what a partner user in the assigned security group holds in the tenant); AccessChecked says
	// discovery read them (false: unknown, e.g. the relationship is not active).
	AssignedRoles []string `json:"assignedRoles,omitempty"`
	AccessChecked bool     `json:"accessChecked,omitempty"`
	// AgentRoles are the roles the partner service account really holds in the tenant (the wids
	// of its delegated token there); AgentChecked says discovery read them. Roles in force that
	// the service account lacks mean it is not in the access assignment's security group.
	AgentRoles   []string `json:"serviceAccountRoles,omitempty"`
	AgentChecked bool     `json:"serviceAccountChecked,omitempty"`
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
	State         string    `json:"state"` // never, queued, running, succeeded, partial, failed, skipped, abandoned
	LastRunID     string    `json:"lastRunId,omitempty"`
	LastSuccessAt time.Time `json:"lastSuccessAt,omitzero"`
	// StartedAt is when the running run started (only while it runs).
	StartedAt time.Time `json:"startedAt,omitzero"`
	// QueuedAt is when the waiting run was queued (only while it is queued).
	QueuedAt time.Time `json:"queuedAt,omitzero"`
	Error    *Problem  `json:"error,omitempty"`
}

// QueuedStaleAfter is how long a tenant may read "queued" before it reads abandoned: far longer
// than any fan-out spread or queue backlog, and every fan-out queues eligible tenants again (a
// fresh QueuedAt), so only a message lost before any worker started it while fan-outs have
// stopped gets here. Nothing may look busy forever.
const QueuedStaleAfter = 24 * time.Hour

// CodeSyncNeverStarted marks a queued run no worker started.
const CodeSyncNeverStarted = "SyncNeverStarted"

// CodeRunAbandoned marks a run the Functions host must have ended without an outcome.
const CodeRunAbandoned = "RunAbandoned"

// abandoned is the problem shown for a run still marked running after timeout.
func abandoned(runID string, startedAt time.Time, timeout time.Duration) *Problem {
	return &Problem{Code: CodeRunAbandoned,
		Message: fmt.Sprintf("Run %s started at %s and made no progress within the function timeout (%s): the worker was stopped (timeout, crash or restart) before it could record an outcome.",
			runID, startedAt.UTC().Format("2006-01-02 15:04 UTC"), timeout),
		Remediation: "Nothing to clean up: the next sync starts clean (or queue one now: POST /api/tenants/{id}/sync). If this tenant's runs keep being abandoned, see the function logs for the run id and raise functionTimeout in host.json."}
}

// isAbandoned: the Functions host ends every invocation at functionTimeout (and restarts the
// handler), so a run still marked running longer than that after it started has no worker left.
func isAbandoned(state string, startedAt, now time.Time, timeout time.Duration) bool {
	return state == SyncRunning && timeout > 0 && !startedAt.IsZero() && now.Sub(startedAt) > timeout
}

// Effective is the sync status as of now: running for longer than timeout reads as abandoned,
// with the fix. Stored rows keep "running"; the next run overwrites them.
func (s SyncStatus) Effective(now time.Time, timeout time.Duration) SyncStatus {
	if isAbandoned(s.State, s.StartedAt, now, timeout) {
		s.State, s.Error = SyncAbandoned, abandoned(s.LastRunID, s.StartedAt, timeout)
	}
	if s.State == SyncQueued && !s.QueuedAt.IsZero() && now.Sub(s.QueuedAt) > QueuedStaleAfter {
		s.State = SyncAbandoned
		s.Error = &Problem{Code: CodeSyncNeverStarted,
			Message: fmt.Sprintf("Run %s was queued at %s and no worker started it within %s: its message was lost, expired or dead-lettered before delivery, and no fan-out has queued the tenant since.",
				s.LastRunID, s.QueuedAt.UTC().Format("2006-01-02 15:04 UTC"), QueuedStaleAfter),
			Remediation: "Check that the TenantFanout timer runs (function logs) and the tenant-sync queue's dead-letter queue; queue a sync now with POST /api/tenants/{id}/sync."}
	}
	return s
}

// Effective is the run as of now (see SyncStatus.Effective).
func (r Run) Effective(now time.Time, timeout time.Duration) Run {
	if isAbandoned(r.State, r.StartedAt, now, timeout) {
		r.State, r.Error = SyncAbandoned, abandoned(r.RunID, r.StartedAt, timeout)
	}
	return r
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
	// SyncSkipped: the worker refused the message (unknown, excluded or unconsented tenant,
	// malformed request) and completed it without reading or writing any tenant data.
	SyncSkipped = "skipped"
	// SyncAbandoned: a run still marked running long after the Functions host must have ended
	// it (functionTimeout); derived when read, never stored (see SyncStatus.Effective).
	SyncAbandoned = "abandoned"
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
	Error *Problem `json:"error,omitempty"`
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
	Skipped      int    `json:"skipped,omitempty"`     // source rows left out as unusable (see CollectionStatus.SkipReason)
	NotDue       bool   `json:"notDue,omitempty"`      // not read: its refresh interval had not passed (REFRESH_* settings)
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

// IsTenantID reports whether s is a tenant id (a GUID, in any case).
func IsTenantID(s string) bool { return guid.MatchString(s) }

// IsCanonicalTenantID reports whether s is a tenant id in tenantsync's canonical form: lower case,
// the form every table key and API path uses.
func IsCanonicalTenantID(s string) bool { return IsTenantID(s) && s == strings.ToLower(s) }

// runID is what tenantsync's own run ids use: they become RowKeys and log fields, so nothing
// Table Storage forbids in keys (/ \ # ? and control characters) and nothing that needs escaping.
var runID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// IsRunID reports whether s is an acceptable run id.
func IsRunID(s string) bool { return runID.MatchString(s) }

// Validate checks that a request read from the queue can be attributed to a tenant at all; one
// that cannot is poison (dead-lettered with this reason). Whether the worker may sync it (canonical
// id, run id, tenant known, consented, not excluded) is decided by fanout.Admit, which records a
// refusal as a skipped run.
func (r SyncRequest) Validate() error {
	if !IsTenantID(r.TenantID) {
		return fmt.Errorf("invalid sync request: tenantId %q is not a tenant GUID", r.TenantID)
	}
	return nil
}
