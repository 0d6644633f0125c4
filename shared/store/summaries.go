package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// TableSummaries holds one precomputed insights summary per tenant (PartitionKey "summary",
// RowKey tenant id, the summary as JSON in Data), written by the sync so the console's
// cross-tenant pages read one partition instead of every tenant's users.
const TableSummaries = "Summaries"

const summaryPartition = "summary"

// A summary must stay under the 64 KiB string property limit; writers cap their lists.
const maxSummaryBytes = 60 * 1024

var summariesOnce sync.Map // *aztables.ServiceClient → error of the table's creation

func (s *Store) summaries(ctx context.Context) (*aztables.Client, error) {
	v, _ := summariesOnce.LoadOrStore(s.svc, new(sync.Once))
	var err error
	v.(*sync.Once).Do(func() {
		if _, e := s.svc.CreateTable(ctx, TableSummaries, nil); e != nil && !isCode(e, aztables.TableAlreadyExists) {
			err = e
			summariesOnce.Delete(s.svc) // try again next time
		}
	})
	if err != nil {
		return nil, fmt.Errorf("create table %s: %w", TableSummaries, err)
	}
	return s.svc.NewClient(TableSummaries), nil
}

// PutSummary stores a tenant's summary (any JSON-encodable value, at most ~60 KiB).
func (s *Store) PutSummary(ctx context.Context, tenantID string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(data) > maxSummaryBytes {
		return fmt.Errorf("summary of %s is %d bytes, over the %d limit", tenantID, len(data), maxSummaryBytes)
	}
	c, err := s.summaries(ctx)
	if err != nil {
		return err
	}
	e, _ := json.Marshal(map[string]any{"PartitionKey": summaryPartition, "RowKey": strings.ToLower(tenantID), "Data": string(data)})
	if _, err = c.UpsertEntity(ctx, e, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		return err
	}
	return s.bumpVersion(ctx, c, TableSummaries)
}

// ListSummaries calls fn with every tenant's summary JSON.
func (s *Store) ListSummaries(ctx context.Context, fn func(tenantID string, data []byte) error) error {
	c, err := s.summaries(ctx)
	if err != nil {
		return err
	}
	filter := fmt.Sprintf("PartitionKey eq '%s'", summaryPartition)
	pager := c.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list summaries: %w", err)
		}
		for _, raw := range page.Entities {
			var e struct{ RowKey, Data string }
			if err := json.Unmarshal(raw, &e); err != nil {
				return fmt.Errorf("list summaries: %w", err)
			}
			if err := fn(e.RowKey, []byte(e.Data)); err != nil {
				return err
			}
		}
	}
	return nil
}
