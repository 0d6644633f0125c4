package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// ListSyncStates reads every collection state of a tenant with one partition query (a run reads
// them all at its start instead of one point read per collection). Collections never synced are
// absent.
func (s *Store) ListSyncStates(ctx context.Context, tenantID string) (map[string]SyncState, error) {
	if err := checkTableTenant(TableSyncState, tenantID); err != nil {
		return nil, fmt.Errorf("list sync states: %w", err)
	}
	filter := fmt.Sprintf("PartitionKey eq '%s'", tenantID)
	pager := s.svc.NewClient(TableSyncState).NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	out := map[string]SyncState{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list sync states of %s: %w", tenantID, err)
		}
		for _, raw := range page.Entities {
			b, err := entityJSON(raw)
			if err != nil {
				return nil, fmt.Errorf("list sync states of %s: %w", tenantID, err)
			}
			var st SyncState
			var keys struct{ RowKey string }
			if err := json.Unmarshal(b, &st); err != nil {
				return nil, fmt.Errorf("list sync states of %s: %w", tenantID, err)
			}
			if err := json.Unmarshal(raw, &keys); err != nil {
				return nil, fmt.Errorf("list sync states of %s: %w", tenantID, err)
			}
			if st.Collection == "" {
				st.Collection = keys.RowKey // collection names are plain words: escaping keeps them
			}
			out[st.Collection] = st
		}
	}
	return out, nil
}

// PutSyncStates replaces several collection states of one tenant in one entity group transaction
// (they share the tenant's partition): a run's bookkeeping is one request, not one per collection.
func (s *Store) PutSyncStates(ctx context.Context, tenantID string, states []SyncState) error {
	if len(states) == 0 {
		return nil
	}
	if err := checkTableTenant(TableSyncState, tenantID); err != nil {
		return fmt.Errorf("put sync states: %w", err)
	}
	var tx []aztables.TransactionAction
	for _, st := range states {
		rk, err := escapeRowKey(st.Collection)
		if err != nil {
			return fmt.Errorf("put sync states: collection: %w", err)
		}
		enc, err := encodeEntity(tenantID, rk, st)
		if err != nil {
			return fmt.Errorf("put sync state %s/%s: %w", tenantID, st.Collection, err)
		}
		if len(enc.truncated) > 0 {
			return fmt.Errorf("put sync state %s/%s: too large", tenantID, st.Collection)
		}
		tx = append(tx, aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: enc.body})
	}
	for start := 0; start < len(tx); start += maxBatchActions {
		if _, err := s.svc.NewClient(TableSyncState).SubmitTransaction(ctx, tx[start:min(start+maxBatchActions, len(tx))], nil); err != nil {
			return fmt.Errorf("put sync states of %s: %w", tenantID, err)
		}
	}
	return nil
}
