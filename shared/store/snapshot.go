package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Reading every tenant row (and every insights summary) for each console page costs a query over
// the whole partition, hundreds of milliseconds at a thousand tenants. Each of those tables
// therefore carries a version row (PartitionKey "meta", outside the partitions the lists read)
// that every write of the table upserts after its own write; its ETag changes with each upsert
// ("ETag ... is used for optimistic concurrency: the ETag is updated every time the entity is
// updated", Table service data model). A page reads that one row and reuses the rows it read
// last time while the ETag is unchanged: one point query instead of the partition scan; after a
// change it reads only the rows written since (Timestamp filter). Readers read the version before
// the rows, so a write that lands in between makes the next read look again rather than keep
// stale rows. Per process; each instance keeps its own copy.
const (
	metaPartition = "meta"
	versionRowKey = "version"
)

// deltaOverlap: after a change, only rows whose Timestamp is at most this much older than the
// newest one already read are read again. Table Storage sets Timestamp itself when it writes an
// entity ("Timestamp ... maintained by the server ... the time the entity was last modified",
// Table service data model); the overlap covers writes that committed while the last read ran
// (a scan of one partition of a thousand rows takes well under a second) and clock steps.
const deltaOverlap = 15 * time.Second

// partition is one cached partition: decoded rows by RowKey and the newest Timestamp read.
type partition struct {
	rows  map[string]any
	maxTS time.Time
}

type snapshot struct {
	etag azcore.ETag
	part *partition
}

// snapshots are per store (per process).
type snapshots struct {
	mu sync.Mutex
	m  map[string]snapshot
}

// bumpVersion marks the table changed; called after every write to it.
func (s *Store) bumpVersion(ctx context.Context, c *aztables.Client, table string) error {
	e, _ := json.Marshal(map[string]any{"PartitionKey": metaPartition, "RowKey": versionRowKey,
		"ChangedAt": time.Now().UTC().Format(time.RFC3339Nano), "ChangedAt@odata.type": "Edm.DateTime"})
	if _, err := c.UpsertEntity(ctx, e, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace}); err != nil {
		return fmt.Errorf("mark %s changed: %w", table, err)
	}
	return nil
}

// partitionSnapshot returns every row of partition pk of table c, decoded, reusing the last read
// while the table's version row is unchanged, and after a change reading only the rows written
// since (Timestamp) into a copy. Rows are never deleted from these partitions (tenants are marked
// missing, never deleted), so a delta needs no removals. The map is shared and read-only.
func (s *Store) partitionSnapshot(ctx context.Context, c *aztables.Client, table, pk string, decode func(raw []byte) (any, error)) (map[string]any, error) {
	var etag azcore.ETag
	resp, err := c.GetEntity(ctx, metaPartition, versionRowKey, nil)
	switch {
	case err == nil:
		etag = resp.ETag
	case IsNotFound(err): // not written since version rows exist: read in full every time
	default:
		return nil, fmt.Errorf("read %s version: %w", table, err)
	}
	key := table + "/" + pk
	s.snap.mu.Lock()
	hit, ok := s.snap.m[key]
	s.snap.mu.Unlock()
	if ok && etag != "" && hit.etag == etag {
		return hit.part.rows, nil
	}
	filter := fmt.Sprintf("PartitionKey eq '%s'", pk)
	next := &partition{rows: map[string]any{}}
	if ok && etag != "" {
		next.maxTS = hit.part.maxTS
		for k, v := range hit.part.rows {
			next.rows[k] = v
		}
		if !hit.part.maxTS.IsZero() {
			filter += " and Timestamp ge datetime'" + hit.part.maxTS.Add(-deltaOverlap).UTC().Format(time.RFC3339Nano) + "'"
		}
	}
	pager := c.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", table, err)
		}
		for _, raw := range page.Entities {
			var meta struct{ RowKey, Timestamp string }
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, fmt.Errorf("list %s: %w", table, err)
			}
			v, err := decode(raw)
			if err != nil {
				return nil, err
			}
			next.rows[meta.RowKey] = v
			if ts, err := time.Parse(time.RFC3339Nano, meta.Timestamp); err == nil && ts.After(next.maxTS) {
				next.maxTS = ts
			}
		}
	}
	s.snap.mu.Lock()
	if s.snap.m == nil {
		s.snap.m = map[string]snapshot{}
	}
	s.snap.m[key] = snapshot{etag: etag, part: next}
	s.snap.mu.Unlock()
	return next.rows, nil
}

// TenantsSnapshot is ListTenants for pages that read every tenant: the rows as last read while
// the Tenants table is unchanged (one point query), only the changed rows read after a change,
// and states that depend on the clock (sync abandoned, consent link expired) derived for now as
// ListTenants does. The slice is the caller's, in tenant id order; the tenants' own slices and
// maps are shared and read-only.
func (s *Store) TenantsSnapshot(ctx context.Context) ([]domain.Tenant, error) {
	rows, err := s.partitionSnapshot(ctx, s.tenants, TableTenants, tenantPartition, func(raw []byte) (any, error) { return decodeTenant(raw) })
	if err != nil {
		return nil, err
	}
	out := make([]domain.Tenant, 0, len(rows))
	now := time.Now()
	for _, v := range rows {
		t := v.(domain.Tenant)
		t.Sync = t.Sync.Effective(now, s.RunTimeout)
		t.Consent = t.Consent.Effective(now)
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b domain.Tenant) int { return strings.Compare(a.TenantID, b.TenantID) })
	return out, nil
}

// SummariesSnapshot is every insights summary by tenant, decoded by decode, reused and refreshed
// like TenantsSnapshot. The map is shared and read-only.
func (s *Store) SummariesSnapshot(ctx context.Context, decode func(data []byte) (any, error)) (map[string]any, error) {
	c, err := s.summaries(ctx)
	if err != nil {
		return nil, err
	}
	return s.partitionSnapshot(ctx, c, TableSummaries, summaryPartition, func(raw []byte) (any, error) {
		var e struct{ Data string }
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		return decode([]byte(e.Data))
	})
}
