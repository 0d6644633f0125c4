package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/oauthstate"
)

// TableUsedStates records OAuth state nonces already redeemed (single use of connect and consent
// callbacks). Rows carry their expiry; an expired state is refused by its signature check anyway.
const TableUsedStates = "UsedStates"

// Consume marks nonce used; a second call for the same nonce returns oauthstate.ErrReplayed. The
// insert-if-absent is atomic in Table Storage, so two racing callbacks cannot both succeed.
func (s *Store) Consume(ctx context.Context, nonce string, expires time.Time) error {
	rk, err := escapeRowKey(nonce)
	if err != nil {
		return fmt.Errorf("state nonce: %w", err)
	}
	b, _ := json.Marshal(map[string]any{"PartitionKey": "state", "RowKey": rk, "Expires": expires.UTC().Format(time.RFC3339), "Expires@odata.type": "Edm.DateTime"})
	_, err = s.svc.NewClient(TableUsedStates).AddEntity(ctx, b, nil)
	if isCode(err, aztables.EntityAlreadyExists) {
		return oauthstate.ErrReplayed
	}
	return err
}

var _ oauthstate.Consumer = (*Store)(nil)
