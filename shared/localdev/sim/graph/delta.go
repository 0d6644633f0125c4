package graph

import (
	"net/http"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// Delta queries. A round starts with a full sync (every live object, paged with $skiptoken) or
// with a $deltatoken; it ends with a page carrying @odata.deltaLink whose sealed token holds the
// world epoch the round started at. Following it lists objects changed after that epoch, removed
// ones as {"id", "@removed":{"reason":"deleted"}}. Objects changed during a round may be sent
// twice, which Graph also allows.
//
// Expired, foreign or garbled delta tokens, and every token of a tenant with
// Faults.ExpireDeltaTokens, answer what Graph documents for directory objects since 2020: 400
// with code syncStateNotFound ("The sync state generation is not found. The delta token is
// expired and data must be synchronized again."); directory delta tokens live 7 days.

const deltaTokenLifetime = 7 * 24 * time.Hour

func errSyncState() *gerr {
	return errf(http.StatusBadRequest, "syncStateNotFound", msgDeltaExpired)
}

// deltaState resolves the round state from $skiptoken / $deltatoken or starts a full sync.
// latest reports $deltatoken=latest (an empty page with a deltaLink for "sync from now").
func (c *call) deltaState(kind string) (st state, latest bool, e *gerr) {
	if _, ok := qget(c.q, "skiptoken"); ok {
		st, _, e = c.skipState(kind)
		return st, false, e
	}
	world := c.s.world
	if tok, ok := qget(c.q, "deltatoken"); ok {
		if strings.EqualFold(tok, "latest") {
			return state{Kind: kind, Tenant: c.ten.id, Epoch: world.Epoch()}, true, nil
		}
		dt, ok := c.s.open("delta", tok)
		if !ok || dt.Kind != kind || dt.Tenant != c.ten.id || c.ten.faults.ExpireDeltaTokens ||
			c.s.now().Sub(time.Unix(dt.Issued, 0)) > deltaTokenLifetime {
			return state{}, false, errSyncState()
		}
		st = state{Kind: kind, Tenant: c.ten.id, Since: dt.Epoch, Epoch: world.Epoch(), Select: dt.Select, Members: dt.Members}
	} else {
		st = state{Kind: kind, Tenant: c.ten.id, Since: -1, Epoch: world.Epoch()}
		st.Select, _ = qget(c.q, "select")
	}
	top, e := parseTop(c.q, 100, 999)
	if e != nil {
		return st, false, e
	}
	st.Top = maxPageSize(c.r, top, 999)
	return st, false, nil
}

// deltaLinks ends a page: a nextLink to continue at pos, or the deltaLink for the next round.
func (c *call) deltaLinks(path string, st state, next int) (nextLink, deltaLink string) {
	if next >= 0 {
		st.Pos = next
		return c.s.base + "/v1.0" + path + "?$skiptoken=" + c.s.seal("skip", st), ""
	}
	dt := state{Kind: st.Kind, Tenant: st.Tenant, Epoch: st.Epoch, Select: st.Select, Members: st.Members, Issued: c.s.now().Unix()}
	return "", c.s.base + "/v1.0" + path + "?$deltatoken=" + c.s.seal("delta", dt)
}

func removedItem(j *jw, id string) {
	j.objStart()
	j.field("id", id)
	j.key("@removed")
	j.value(obj{{"reason", "deleted"}})
	j.objEnd()
}

func handleUsersDelta(c *call) *gerr {
	if e := c.require(permUsers); e != nil {
		return e
	}
	st, latest, e := c.deltaState("delta:users")
	if e != nil {
		return e
	}
	sel, e := userEntity.parseSelect(st.Select)
	if e != nil {
		return e
	}
	if userEntity.has(sel, "signInActivity") {
		return errBadRequest("Property 'signInActivity' is not supported in delta queries.")
	}
	col := c.startCollection("users", nil)
	written, next := 0, -1
	switch {
	case latest:
	case st.Since < 0:
		c.eachUser(st.Pos, nil, func(i int, u *scenario.User) bool {
			if written == st.Top {
				next = i
				return false
			}
			userEntity.write(col.j, c, u, sel, nil)
			written++
			return true
		})
	case c.ten.t != nil:
		t := c.ten.t
		for _, ch := range t.UserChanges(st.Since) {
			if ch.Index < st.Pos {
				continue
			}
			if written == st.Top {
				next = ch.Index
				break
			}
			u, live := t.User(ch.Index)
			if ch.Removed || !live {
				removedItem(col.j, u.ID)
			} else {
				userEntity.write(col.j, c, &u, sel, nil)
			}
			written++
		}
	}
	col.end(c.deltaLinks("/users/delta", st, next))
	return nil
}

func handleGroupsDelta(c *call) *gerr {
	if e := c.require(permGroups); e != nil {
		return e
	}
	st, latest, e := c.deltaState("delta:groups")
	if e != nil {
		return e
	}
	_, skip := qget(c.q, "skiptoken")
	_, delta := qget(c.q, "deltatoken")
	if !skip && !delta {
		// members is a navigation property: it asks for members@delta rather than a value.
		st.Select, st.Members = splitMembers(st.Select)
	}
	sel, e := groupEntity.parseSelect(st.Select)
	if e != nil {
		return e
	}
	col := c.startCollection("groups", nil)
	written, next := 0, -1
	t := c.ten.t
	emit := func(g *scenario.Group) {
		var extra func(*jw)
		if st.Members {
			// Current members: the scenario keeps no membership history, so incremental rounds
			// list every member as present rather than only the ones that changed.
			extra = func(j *jw) {
				j.key("members@delta")
				j.arrStart()
				for _, ui := range g.MemberIndexes {
					if u, ok := t.User(ui); ok {
						j.sep()
						obj{{"@odata.type", "#microsoft.graph.user"}, {"id", u.ID}}.writeTo(j)
					}
				}
				j.arrEnd()
			}
		}
		groupEntity.write(col.j, c, g, sel, extra)
	}
	switch {
	case latest || t == nil:
	case st.Since < 0:
		for i := st.Pos; i < t.GroupSlots(); i++ {
			g, ok := t.Group(i)
			if !ok {
				continue
			}
			if written == st.Top {
				next = i
				break
			}
			emit(&g)
			written++
		}
	default:
		for _, ch := range t.GroupChanges(st.Since) {
			if ch.Index < st.Pos {
				continue
			}
			if written == st.Top {
				next = ch.Index
				break
			}
			g, ok := t.Group(ch.Index)
			if ch.Removed || !ok {
				removedItem(col.j, g.ID)
			} else {
				emit(&g)
			}
			written++
		}
	}
	col.end(c.deltaLinks("/groups/delta", st, next))
	return nil
}

// splitMembers removes "members" from a $select list; with no $select Graph includes
// members@delta.
func splitMembers(sel string) (string, bool) {
	if strings.TrimSpace(sel) == "" {
		return "", true
	}
	var keep []string
	members := false
	for _, p := range strings.Split(sel, ",") {
		if strings.EqualFold(strings.TrimSpace(p), "members") {
			members = true
			continue
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, ","), members
}
