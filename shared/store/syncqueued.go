package store

import (
	"context"
	"strings"
)

// RestoreSyncState puts back a tenant's sync state and last run id, for a caller that marked the
// tenant queued before sending its message and then could not send it (otherwise the tenant
// would look queued forever).
func (s *Store) RestoreSyncState(ctx context.Context, tenantID, state, lastRunID string) error {
	return s.merge(ctx, strings.ToLower(tenantID), map[string]any{"SyncState": state, "LastRunID": lastRunID})
}
