package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Tenant rows are flat properties (Table Storage has no nesting); lists and maps are JSON strings.
// Each writer merges only the columns it owns — discovery, consent, sync, the exclusion switch —
// so they never overwrite each other.

func dt(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// merge writes props onto the tenant row (creating it if needed).
func (s *Store) merge(ctx context.Context, tenantID string, props map[string]any) error {
	e := map[string]any{"PartitionKey": tenantPartition, "RowKey": strings.ToLower(tenantID)}
	for k, v := range props {
		if v == nil {
			continue
		}
		e[k] = v
		if str, ok := v.(string); ok && str != "" && (strings.HasSuffix(k, "At") || k == "RelEndDateTime") {
			e[k+"@odata.type"] = "Edm.DateTime"
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err = s.tenants.UpsertEntity(ctx, b, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeMerge}); err != nil {
		return err
	}
	return s.bumpVersion(ctx, s.tenants, TableTenants)
}

func discoveredProps(t domain.Tenant) map[string]any {
	sources := t.Sources
	if sources == nil {
		sources = []string{}
	}
	roles := t.Relationship.Roles
	if roles == nil {
		roles = []string{}
	}
	flags := t.Flags
	if flags == nil {
		flags = []domain.Problem{}
	}
	return map[string]any{
		"DisplayName": t.DisplayName, "DefaultDomain": t.DefaultDomain, "Sources": jsonString(sources),
		"RelID": t.Relationship.ID, "RelStatus": t.Relationship.Status, "RelEndDateTime": dt(t.Relationship.EndDateTime),
		"RelAutoExtend": t.Relationship.AutoExtend, "RelRoles": jsonString(roles), "Flags": jsonString(flags),
		"RelAssignedRoles": jsonString(t.Relationship.AssignedRoles), "RelAccessChecked": t.Relationship.AccessChecked,
		"RelAgentRoles": jsonString(t.Relationship.AgentRoles), "RelAgentChecked": t.Relationship.AgentChecked,
		"Missing": t.Missing, "MissingAt": dt(t.MissingAt),
	}
}

// SaveDiscovered writes what discovery owns: names, sources, relationship, flags, missing. New
// tenants also get their initial consent and sync state; Excluded is never touched here.
func (s *Store) SaveDiscovered(ctx context.Context, t domain.Tenant) error {
	props := discoveredProps(t)
	if t.Consent.State != "" {
		props["ConsentState"] = t.Consent.State
	}
	if t.Sync.State != "" {
		props["SyncState"] = t.Sync.State
	}
	if t.Missing {
		props["MissingAt"] = dt(t.MissingAt)
	} else {
		props["MissingAt"] = "" // cleared (a string, so merge overwrites it)
	}
	return s.merge(ctx, t.TenantID, props)
}

// UpsertTenant writes every column of t (seeding and tests).
func (s *Store) UpsertTenant(ctx context.Context, t domain.Tenant) error {
	props := discoveredProps(t)
	props["Excluded"] = t.Excluded
	props["ConsentState"], props["ConsentMethod"], props["ConsentUpdatedAt"], props["ConsentError"] = t.Consent.State, t.Consent.Method, dt(t.Consent.UpdatedAt), t.Consent.Error
	for k, v := range pendingProps(t.Consent) {
		props[k] = v
	}
	props["SyncState"], props["LastRunID"], props["LastSuccessAt"] = t.Sync.State, t.Sync.LastRunID, dt(t.Sync.LastSuccessAt)
	return s.merge(ctx, t.TenantID, props)
}

// SetConsent records the tenant's consent state, including the pending link's columns (cleared
// when c has none, so a consent that is no longer pending does not keep a stale recipient).
func (s *Store) SetConsent(ctx context.Context, tenantID string, c domain.Consent) error {
	props := map[string]any{"ConsentState": c.State, "ConsentMethod": c.Method, "ConsentUpdatedAt": dt(c.UpdatedAt), "ConsentError": c.Error}
	for k, v := range pendingProps(c) {
		props[k] = v
	}
	return s.merge(ctx, tenantID, props)
}

// pendingProps are the emailed link's columns; zero times are written as "" so merge clears them.
func pendingProps(c domain.Consent) map[string]any {
	clearable := func(t time.Time) any {
		if t.IsZero() {
			return ""
		}
		return dt(t)
	}
	return map[string]any{"ConsentPendingTo": c.PendingTo, "ConsentSentAt": clearable(c.SentAt),
		"ConsentRequestedBy": c.RequestedBy, "ConsentExpiresAt": clearable(c.ExpiresAt)}
}

// SetExcluded switches a tenant out of (or back into) scheduled syncs.
func (s *Store) SetExcluded(ctx context.Context, tenantID string, excluded bool) error {
	return s.merge(ctx, tenantID, map[string]any{"Excluded": excluded})
}

// MarkQueued marks tenants queued for a run, in batch transactions (all tenant rows share one
// partition), so a fan-out of a thousand tenants costs ten round trips, not a thousand.
func (s *Store) MarkQueued(ctx context.Context, reqs []domain.SyncRequest) error {
	for start := 0; start < len(reqs); start += 100 {
		var actions []aztables.TransactionAction
		for _, r := range reqs[start:min(start+100, len(reqs))] {
			b, _ := json.Marshal(map[string]any{"PartitionKey": tenantPartition, "RowKey": strings.ToLower(r.TenantID), "SyncState": domain.SyncQueued, "LastRunID": r.RunID,
				"SyncQueuedAt": r.QueuedAt.UTC().Format(time.RFC3339Nano)})
			actions = append(actions, aztables.TransactionAction{ActionType: aztables.TransactionTypeUpdateMerge, Entity: b})
		}
		if _, err := s.tenants.SubmitTransaction(ctx, actions, nil); err != nil {
			return fmt.Errorf("mark tenants queued: %w", err)
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	return s.bumpVersion(ctx, s.tenants, TableTenants)
}

// GetTenant reads one tenant; a missing tenant gives an error for which IsNotFound is true.
func (s *Store) GetTenant(ctx context.Context, tenantID string) (domain.Tenant, error) {
	resp, err := s.tenants.GetEntity(ctx, tenantPartition, strings.ToLower(tenantID), nil)
	if err != nil {
		return domain.Tenant{}, err
	}
	t, err := decodeTenant(resp.Value)
	t.Sync = t.Sync.Effective(time.Now(), s.RunTimeout)
	return t, err
}

// ListTenants reads every tenant, ordered by id (the RowKey).
func (s *Store) ListTenants(ctx context.Context) ([]domain.Tenant, error) {
	out, err := s.listTenantRows(ctx)
	now := time.Now()
	for i := range out {
		out[i].Sync = out[i].Sync.Effective(now, s.RunTimeout)
	}
	return out, err
}

// listTenantRows reads every tenant row as stored.
func (s *Store) listTenantRows(ctx context.Context) ([]domain.Tenant, error) {
	filter := fmt.Sprintf("PartitionKey eq '%s'", tenantPartition)
	pager := s.tenants.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	var out []domain.Tenant
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list tenants: %w", err)
		}
		for _, raw := range page.Entities {
			t, err := decodeTenant(raw)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func decodeTenant(raw []byte) (domain.Tenant, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return domain.Tenant{}, fmt.Errorf("tenant row: %w", err)
	}
	s := func(k string) string { v, _ := m[k].(string); return v }
	b := func(k string) bool { v, _ := m[k].(bool); return v }
	tm := func(k string) time.Time {
		t, _ := time.Parse(time.RFC3339Nano, s(k))
		return t.UTC()
	}
	t := domain.Tenant{
		TenantID: s("RowKey"), DisplayName: s("DisplayName"), DefaultDomain: s("DefaultDomain"), Excluded: b("Excluded"),
		Relationship: domain.Relationship{ID: s("RelID"), Status: s("RelStatus"), EndDateTime: tm("RelEndDateTime"), AutoExtend: b("RelAutoExtend"), Roles: []string{}},
		Consent: domain.Consent{State: s("ConsentState"), Method: s("ConsentMethod"), UpdatedAt: tm("ConsentUpdatedAt"), Error: s("ConsentError"),
			PendingTo: s("ConsentPendingTo"), SentAt: tm("ConsentSentAt"), RequestedBy: s("ConsentRequestedBy"), ExpiresAt: tm("ConsentExpiresAt")},
		Sync:    domain.SyncStatus{State: s("SyncState"), LastRunID: s("LastRunID"), LastSuccessAt: tm("LastSuccessAt"), StartedAt: tm("SyncStartedAt")},
		Missing: b("Missing"), MissingAt: tm("MissingAt"), Sources: []string{}, Flags: []domain.Problem{},
	}
	if t.Sync.State == domain.SyncQueued {
		t.Sync.QueuedAt = tm("SyncQueuedAt") // shown only while queued
	}
	if t.Consent.State == "" {
		t.Consent.State = domain.ConsentNone
	}
	t.Consent = t.Consent.Effective(time.Now()) // a pending link past its expiry reads as expired
	if t.Sync.State == "" {
		t.Sync.State = domain.SyncNever
	}
	if code := s("ErrorCode"); code != "" {
		t.Sync.Error = &domain.Problem{Code: code, Message: s("ErrorMessage"), Remediation: s("Remediation")}
	}
	t.Relationship.AccessChecked = b("RelAccessChecked")
	t.Relationship.AgentChecked = b("RelAgentChecked")
	for k, into := range map[string]any{"Sources": &t.Sources, "RelRoles": &t.Relationship.Roles, "RelAssignedRoles": &t.Relationship.AssignedRoles, "RelAgentRoles": &t.Relationship.AgentRoles, "Flags": &t.Flags, "Counts": &t.Counts, "Collections": &t.Collections} {
		if v := s(k); v != "" {
			if err := json.Unmarshal([]byte(v), into); err != nil {
				return t, fmt.Errorf("tenant %s column %s: %w", t.TenantID, k, err)
			}
		}
	}
	if v, ok := m["MFARegisteredPercent"].(float64); ok {
		t.MFARegisteredPercent = &v
	}
	t.MFASource = s("MFASource")
	return t, nil
}
