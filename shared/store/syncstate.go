package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// SyncState is what the sync remembers about one collection of one tenant between runs.
type SyncState struct {
	Collection string `json:"collection"` // also the RowKey
	// DeltaLink is Graph's @odata.deltaLink for the next incremental sync; DeltaAt is when it
	// was obtained (Graph expires unused delta tokens, so an old one means a full sync).
	DeltaLink    string    `json:"deltaLink,omitempty"`
	DeltaAt      time.Time `json:"deltaAt,omitzero"`
	LastFullSync time.Time `json:"lastFullSync,omitzero"`
	// Available is false when the tenant cannot provide the collection (no Intune licence,
	// concealed reports, ...); Reason and Remediation then say why and what to do.
	Available   bool   `json:"available"`
	Reason      string `json:"reason,omitempty"`
	Remediation string `json:"remediation,omitempty"`
	Count       int    `json:"count"`
	// Code is the problem code with Reason and Remediation: why the collection is unavailable, or,
	// when Available, what part of it is (sign-ins without Entra ID P1/P2), so a run that does not
	// read the collection again reports what the last read found.
	Code string `json:"code,omitempty"`
	// Skipped and SkipReason: source rows the last read left out as unusable.
	Skipped    int    `json:"skipped,omitempty"`
	SkipReason string `json:"skipReason,omitempty"`
	// Licensed is how many stored users hold a licence (users only; nil: not known yet), kept so a
	// delta round without changes need not count them again.
	Licensed *int `json:"licensed,omitempty"`
}

// GetSyncState reads a collection's state. A collection never synced gives the zero state (with
// Collection set) and no error.
func (s *Store) GetSyncState(ctx context.Context, tenantID, collection string) (SyncState, error) {
	zero := SyncState{Collection: collection}
	if err := checkTableTenant(TableSyncState, tenantID); err != nil {
		return zero, fmt.Errorf("get sync state: %w", err)
	}
	rk, err := escapeRowKey(collection)
	if err != nil {
		return zero, fmt.Errorf("get sync state: %w", err)
	}
	resp, err := s.svc.NewClient(TableSyncState).GetEntity(ctx, tenantID, rk, nil)
	if IsNotFound(err) && isCode(err, aztables.ResourceNotFound) {
		return zero, nil
	}
	if err != nil {
		return zero, fmt.Errorf("get sync state %s/%s: %w", tenantID, collection, err)
	}
	b, err := entityJSON(resp.Value)
	if err != nil {
		return zero, fmt.Errorf("get sync state %s/%s: %w", tenantID, collection, err)
	}
	var st SyncState
	if err := json.Unmarshal(b, &st); err != nil {
		return zero, fmt.Errorf("get sync state %s/%s: %w", tenantID, collection, err)
	}
	st.Collection = collection
	return st, nil
}

// PutSyncState replaces a collection's state (st.Collection names it). A long delta link is
// split across properties like any long string.
func (s *Store) PutSyncState(ctx context.Context, tenantID string, st SyncState) error {
	if err := checkTableTenant(TableSyncState, tenantID); err != nil {
		return fmt.Errorf("put sync state: %w", err)
	}
	rk, err := escapeRowKey(st.Collection)
	if err != nil {
		return fmt.Errorf("put sync state: collection: %w", err)
	}
	enc, err := encodeEntity(tenantID, rk, st)
	if err != nil {
		return fmt.Errorf("put sync state %s/%s: %w", tenantID, st.Collection, err)
	}
	if len(enc.truncated) > 0 {
		// SyncState has no lists, so this cannot happen; a cut delta link would be worse than none.
		return fmt.Errorf("put sync state %s/%s: too large", tenantID, st.Collection)
	}
	_, err = s.svc.NewClient(TableSyncState).UpsertEntity(ctx, enc.body, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	if err != nil {
		return fmt.Errorf("put sync state %s/%s: %w", tenantID, st.Collection, err)
	}
	return nil
}
