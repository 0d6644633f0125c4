package store

import (
	"context"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// TenantSyncResult is what a finished run writes onto the tenant row: state, error with its fix,
// counts and per-collection availability. Merged, so discovery's and consent's columns stay.
type TenantSyncResult struct {
	State                string
	RunID                string
	SucceededAt          time.Time // zero: keep the previous LastSuccessAt (a failed run keeps the old data visible)
	StartedAt            time.Time // when a running run started, to tell an abandoned run when read (zero: cleared)
	DisplayName          string    // from /organization, when read
	DefaultDomain        string
	ErrorCode            string
	ErrorMessage         string
	Remediation          string
	Counts               map[string]int
	MFARegisteredPercent *float64
	MFASource            string // where the MFA state came from; "" keeps the previous
	// Collections: name → {"available": bool, "code", "reason", "remediation"}.
	Collections map[string]CollectionStatus
}

// CollectionStatus says whether a collection could be synced and, if not, why and what to do.
type CollectionStatus = domain.CollectionStatus

// SetTenantSyncResult merges a run's outcome into the tenant row.
func (s *Store) SetTenantSyncResult(ctx context.Context, tenantID string, r TenantSyncResult) error {
	props := map[string]any{
		"SyncState": r.State, "LastRunID": r.RunID,
		"ErrorCode": r.ErrorCode, "ErrorMessage": r.ErrorMessage, "Remediation": r.Remediation,
		"LastSuccessAt": dt(r.SucceededAt), "SyncStartedAt": "",
	}
	if !r.StartedAt.IsZero() {
		props["SyncStartedAt"] = dt(r.StartedAt)
	}
	if r.DisplayName != "" {
		props["DisplayName"] = r.DisplayName
	}
	if r.DefaultDomain != "" {
		props["DefaultDomain"] = r.DefaultDomain
	}
	if r.Counts != nil {
		props["Counts"] = jsonString(domain.Counts{Users: r.Counts["users"], LicensedUsers: r.Counts["licensedUsers"], Groups: r.Counts["groups"],
			Devices: r.Counts["devices"], Mailboxes: r.Counts["mailboxes"], Skus: r.Counts["licenses"]})
	}
	if r.MFARegisteredPercent != nil {
		props["MFARegisteredPercent"] = *r.MFARegisteredPercent
	}
	if r.MFASource != "" {
		props["MFASource"] = r.MFASource
	}
	if r.Collections != nil {
		props["Collections"] = jsonString(r.Collections)
	}
	return s.merge(ctx, tenantID, props)
}
