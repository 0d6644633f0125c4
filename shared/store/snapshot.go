package store

import (
	"context"
	"encoding/json"
	"fmt"
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
// last time while the ETag is unchanged: one point query instead of the partition scan. Readers
// read the version before the rows, so a write that lands in between makes the next read load
// again rather than keep stale rows. Per process; each instance keeps its own copy.
const (
	metaPartition = "meta"
	versionRowKey = "version"
)

type snapshot struct {
	etag  azcore.ETag
	value any
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

// cached returns load's value for key, reused while table c's version row is unchanged.
func (s *Store) cached(ctx context.Context, c *aztables.Client, table, key string, load func(context.Context) (any, error)) (any, error) {
	var etag azcore.ETag
	resp, err := c.GetEntity(ctx, metaPartition, versionRowKey, nil)
	switch {
	case err == nil:
		etag = resp.ETag
	case IsNotFound(err): // never written since the version row exists: "" until the first write
	default:
		return nil, fmt.Errorf("read %s version: %w", table, err)
	}
	s.snap.mu.Lock()
	hit, ok := s.snap.m[key]
	s.snap.mu.Unlock()
	if ok && hit.etag == etag && etag != "" {
		return hit.value, nil
	}
	v, err := load(ctx)
	if err != nil {
		return nil, err
	}
	s.snap.mu.Lock()
	if s.snap.m == nil {
		s.snap.m = map[string]snapshot{}
	}
	s.snap.m[key] = snapshot{etag: etag, value: v}
	s.snap.mu.Unlock()
	return v, nil
}

// TenantsSnapshot is ListTenants for pages that read every tenant: the rows as last read while
// the Tenants table is unchanged (one point query), sync states derived for now as ListTenants
// does. The slice is the caller's; the tenants' own slices and maps are shared and read-only.
func (s *Store) TenantsSnapshot(ctx context.Context) ([]domain.Tenant, error) {
	v, err := s.cached(ctx, s.tenants, TableTenants, "tenants", func(ctx context.Context) (any, error) { return s.listTenantRows(ctx) })
	if err != nil {
		return nil, err
	}
	rows := v.([]domain.Tenant)
	out := make([]domain.Tenant, len(rows))
	now := time.Now()
	for i, t := range rows {
		t.Sync = t.Sync.Effective(now, s.RunTimeout)
		out[i] = t
	}
	return out, nil
}

// SummariesSnapshot is the decoded insights summaries by tenant, reused while the Summaries
// table is unchanged; decode turns one summary's JSON into the caller's type. The map is shared
// and read-only.
func (s *Store) SummariesSnapshot(ctx context.Context, key string, decode func(tenantID string, data []byte) (any, error)) (map[string]any, error) {
	c, err := s.summaries(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.cached(ctx, c, TableSummaries, "summaries:"+key, func(ctx context.Context) (any, error) {
		out := map[string]any{}
		err := s.ListSummaries(ctx, func(id string, data []byte) error {
			v, err := decode(id, data)
			out[id] = v
			return err
		})
		return out, err
	})
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}
