package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// JoinUserSecurity adds MFA registration and last sign-in (UserSecurity rows) to a page of users.
// Both tables are keyed by user id and pages come in RowKey order, so one range query over the
// page's first..last key fetches exactly the rows needed.
func (s *Store) JoinUserSecurity(ctx context.Context, tenantID string, users []json.RawMessage) ([]json.RawMessage, error) {
	if len(users) == 0 {
		return users, nil
	}
	ids, err := userIDs(users)
	if err != nil {
		return nil, err
	}
	lo, err := escapeRowKey(ids[0])
	if err != nil {
		return nil, err
	}
	hi, err := escapeRowKey(ids[len(ids)-1])
	if err != nil {
		return nil, err
	}
	if err := checkTableTenant(TableUserSecurity, tenantID); err != nil {
		return nil, err
	}
	filter := fmt.Sprintf("PartitionKey eq '%s' and RowKey ge '%s' and RowKey le '%s'", tenantID, lo, hi)
	pager := s.svc.NewClient(TableUserSecurity).NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	sec := map[string]map[string]json.RawMessage{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("user security: %w", err)
		}
		if err := addSecurityRows(sec, page.Entities); err != nil {
			return nil, err
		}
	}
	return mergeSecurity(users, ids, sec)
}

// addSecurityRows adds UserSecurity entities to sec by user id (the id itself removed).
func addSecurityRows(sec map[string]map[string]json.RawMessage, entities [][]byte) error {
	for _, raw := range entities {
		item, err := entityJSON(raw)
		if err != nil {
			return err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(item, &m); err != nil {
			return err
		}
		var id string
		if err := json.Unmarshal(m["id"], &id); err != nil || id == "" {
			return fmt.Errorf("user security row without an id (%v)", err)
		}
		delete(m, "id")
		sec[id] = m
	}
	return nil
}

// mergeSecurity adds each user's (ids[i]) security properties to users[i].
func mergeSecurity(users []json.RawMessage, ids []string, sec map[string]map[string]json.RawMessage) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(users))
	for i, u := range users {
		extra := sec[ids[i]]
		if len(extra) == 0 {
			out[i] = u
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(u, &m); err != nil {
			return nil, err
		}
		for k, v := range extra {
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// userIDs are the users' ids, in order.
func userIDs(users []json.RawMessage) ([]string, error) {
	ids := make([]string, len(users))
	for i, u := range users {
		var k struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(u, &k); err != nil {
			return nil, err
		}
		ids[i] = k.ID
	}
	return ids, nil
}
