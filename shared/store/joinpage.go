package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// PageUsersJoined is Page of the Users table joined with UserSecurity (JoinUserSecurity), with
// both tables read at once instead of one after the other: both are keyed by user id, so the
// first top UserSecurity rows from the page's first key cover the page's users whenever every
// user of the range has at most one security row. When they do not cover it (the security query
// stopped short of the page's last user: rows for users no longer listed, or the service
// returning fewer rows with a continuation) the page falls back to JoinUserSecurity's range
// query, so the answer is always the full join.
func (s *Store) PageUsersJoined(ctx context.Context, tenantID string, top int, skipToken string) ([]json.RawMessage, string, error) {
	if err := checkTableTenant(TableUserSecurity, tenantID); err != nil {
		return nil, "", err
	}
	top = min(max(top, 1), MaxPageSize)
	start := ""
	if skipToken != "" {
		c, err := decodeSkipToken(skipToken, TableUsers, tenantID)
		if err != nil {
			return nil, "", err
		}
		start = c.RK
	}
	type secAnswer struct {
		rows    map[string]map[string]json.RawMessage
		lastKey string
		more    bool
		err     error
	}
	secc := make(chan secAnswer, 1)
	go func() {
		filter := fmt.Sprintf("PartitionKey eq '%s'", tenantID)
		if start != "" {
			filter += fmt.Sprintf(" and RowKey ge '%s'", start)
		}
		n := int32(top)
		var a secAnswer
		resp, err := s.svc.NewClient(TableUserSecurity).NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Top: &n}).NextPage(ctx)
		if err != nil {
			a.err = fmt.Errorf("user security: %w", err)
			secc <- a
			return
		}
		a.rows = map[string]map[string]json.RawMessage{}
		a.err = addSecurityRows(a.rows, resp.Entities)
		a.more = strOrEmpty(resp.NextPartitionKey) != "" || strOrEmpty(resp.NextRowKey) != ""
		if k := len(resp.Entities); k > 0 {
			var last struct{ RowKey string }
			_ = json.Unmarshal(resp.Entities[k-1], &last)
			a.lastKey = last.RowKey
		}
		secc <- a
	}()
	users, next, err := s.Page(ctx, TableUsers, tenantID, top, skipToken)
	sec := <-secc
	if err != nil {
		return nil, "", err
	}
	if sec.err != nil {
		return nil, "", sec.err
	}
	if len(users) == 0 {
		return users, next, nil
	}
	ids, err := userIDs(users)
	if err != nil {
		return nil, "", err
	}
	lastUser, err := escapeRowKey(ids[len(ids)-1])
	if err != nil {
		return nil, "", err
	}
	if sec.more && sec.lastKey < lastUser {
		joined, err := s.JoinUserSecurity(ctx, tenantID, users)
		return joined, next, err
	}
	joined, err := mergeSecurity(users, ids, sec.rows)
	return joined, next, err
}
