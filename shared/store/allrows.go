package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// AllRows reads every tenant's rows of a collection table (all partitions, 1,000 per request)
// and calls fn with each row's tenant id and domain-shaped JSON. Cross-tenant insights use it on
// small tables (licence subscriptions: a few rows per tenant), never on users.
func (s *Store) AllRows(ctx context.Context, table string, fn func(tenantID string, item json.RawMessage) error) error {
	pager := s.svc.NewClient(table).NewListEntitiesPager(&aztables.ListEntitiesOptions{})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("read %s: %w", table, err)
		}
		for _, raw := range page.Entities {
			var keys struct{ PartitionKey string }
			if err := json.Unmarshal(raw, &keys); err != nil {
				return fmt.Errorf("read %s: %w", table, err)
			}
			item, err := entityJSON(raw)
			if err != nil {
				return fmt.Errorf("read %s: %w", table, err)
			}
			if err := fn(keys.PartitionKey, item); err != nil {
				return err
			}
		}
	}
	return nil
}
