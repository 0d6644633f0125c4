package graph

import (
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

func groupNickname(g *scenario.Group) string {
	if g.Mail != "" {
		local, _, _ := strings.Cut(g.Mail, "@")
		return local
	}
	var b strings.Builder
	for _, r := range strings.ToLower(g.DisplayName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isUnified(g *scenario.Group) bool {
	for _, t := range g.GroupTypes {
		if strings.EqualFold(t, "Unified") {
			return true
		}
	}
	return false
}

var groupEntity = &entity[scenario.Group]{typeName: "group", props: []prop[scenario.Group]{
	{"id", true, func(_ *call, g *scenario.Group) any { return g.ID }},
	{"deletedDateTime", true, func(_ *call, g *scenario.Group) any { return nil }},
	{"classification", true, func(_ *call, g *scenario.Group) any { return nil }},
	{"createdDateTime", true, func(_ *call, g *scenario.Group) any { return g.Created }},
	{"creationOptions", true, func(_ *call, g *scenario.Group) any { return []string{} }},
	{"description", true, func(_ *call, g *scenario.Group) any { return nilIfEmpty(g.Description) }},
	{"displayName", true, func(_ *call, g *scenario.Group) any { return g.DisplayName }},
	{"expirationDateTime", true, func(_ *call, g *scenario.Group) any { return nil }},
	{"groupTypes", true, func(_ *call, g *scenario.Group) any {
		if g.GroupTypes == nil {
			return []string{}
		}
		return g.GroupTypes
	}},
	{"isAssignableToRole", true, func(_ *call, g *scenario.Group) any { return nil }},
	{"mail", true, func(_ *call, g *scenario.Group) any { return nilIfEmpty(g.Mail) }},
	{"mailEnabled", true, func(_ *call, g *scenario.Group) any { return g.MailEnabled }},
	{"mailNickname", true, func(_ *call, g *scenario.Group) any { return groupNickname(g) }},
	{"membershipRule", true, func(_ *call, g *scenario.Group) any { return nil }},
	{"membershipRuleProcessingState", true, func(_ *call, g *scenario.Group) any { return nil }},
	{"onPremisesSyncEnabled", true, func(_ *call, g *scenario.Group) any { return nil }},
	{"preferredDataLocation", true, func(_ *call, g *scenario.Group) any { return nil }},
	{"proxyAddresses", true, func(_ *call, g *scenario.Group) any {
		if g.Mail == "" {
			return []string{}
		}
		return []string{"SMTP:" + g.Mail}
	}},
	{"renewedDateTime", true, func(_ *call, g *scenario.Group) any { return g.Created }},
	{"resourceBehaviorOptions", true, func(_ *call, g *scenario.Group) any { return []string{} }},
	{"securityEnabled", true, func(_ *call, g *scenario.Group) any { return g.SecurityEnabled }},
	{"securityIdentifier", true, func(c *call, g *scenario.Group) any {
		u := uuid.MustParse(g.ID)
		return "S-1-12-1-" + sidPart(u[0:4]) + "-" + sidPart(u[4:8]) + "-" + sidPart(u[8:12]) + "-" + sidPart(u[12:16])
	}},
	{"visibility", true, func(_ *call, g *scenario.Group) any {
		if isUnified(g) {
			return "Private"
		}
		return nil
	}},
}}

// sidPart is one little-endian 32-bit part of the SID Entra derives from a group's object id.
func sidPart(b []byte) string {
	return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b)), 10)
}

var groupFilter = filterSpec{
	resource: "Group",
	props: map[string]bool{
		"id": true, "displayname": true, "mail": true, "mailenabled": true, "securityenabled": true,
		"mailnickname": true, "createddatetime": true, "description": true,
	},
	colls: map[string]bool{"grouptypes": true, "proxyaddresses": true},
}

func groupGetter(g *scenario.Group) getter {
	return func(p string) any {
		switch p {
		case "id":
			return g.ID
		case "displayname":
			return g.DisplayName
		case "mail":
			return g.Mail
		case "mailenabled":
			return g.MailEnabled
		case "securityenabled":
			return g.SecurityEnabled
		case "mailnickname":
			return groupNickname(g)
		case "createddatetime":
			return g.Created
		case "description":
			return g.Description
		case "grouptypes":
			if g.GroupTypes == nil {
				return []string{}
			}
			return g.GroupTypes
		case "proxyaddresses":
			if g.Mail == "" {
				return []string{}
			}
			return []string{"SMTP:" + g.Mail}
		}
		return nil
	}
}

func handleGroups(c *call) *gerr {
	if e := c.require(permGroups); e != nil {
		return e
	}
	st, resumed, e := c.skipState("groups")
	if e != nil {
		return e
	}
	if !resumed {
		st = state{Kind: "groups", Tenant: c.ten.id}
		st.Select, _ = qget(c.q, "select")
		st.Filter, _ = qget(c.q, "filter")
		if st.Top, e = parseTop(c.q, 100, 999); e != nil {
			return e
		}
	}
	sel, e := groupEntity.parseSelect(st.Select)
	if e != nil {
		return e
	}
	f, e := parseFilter(st.Filter, groupFilter)
	if e != nil {
		return e
	}
	col := c.startCollection("groups", nil)
	written, next := 0, -1
	if t := c.ten.t; t != nil {
		for i := st.Pos; i < t.GroupSlots(); i++ {
			g, ok := t.Group(i)
			if !ok || !matches(f, groupGetter(&g)) {
				continue
			}
			if written == st.Top {
				next = i
				break
			}
			groupEntity.write(col.j, c, &g, sel, nil)
			written++
		}
	}
	link := ""
	if next >= 0 {
		st.Pos = next
		link = c.nextLink("/groups", st, "select", "filter", "top")
	}
	col.end(link, "")
	return nil
}

func (c *call) groupByID(id string) (scenario.Group, bool) {
	if c.ten.t == nil {
		return scenario.Group{}, false
	}
	return c.ten.t.GroupByID(id)
}

func handleGroup(c *call) *gerr {
	if e := c.require(permGroups); e != nil {
		return e
	}
	sel, e := groupEntity.parseSelect(qgetOr(c.q, "select"))
	if e != nil {
		return e
	}
	g, ok := c.groupByID(c.segs[1])
	if !ok {
		return errNotFound(c.segs[1])
	}
	writeEntityDoc(c, http.StatusOK, "groups/$entity", groupEntity, &g, sel)
	return nil
}

func handleGroupMembers(c *call) *gerr {
	if e := c.require(permMembers); e != nil {
		return e
	}
	g, ok := c.groupByID(c.segs[1])
	if !ok {
		return errNotFound(c.segs[1])
	}
	st, resumed, e := c.skipState("members")
	if e != nil {
		return e
	}
	if resumed && !strings.EqualFold(st.Ref, g.ID) {
		return errf(http.StatusBadRequest, "Directory_ExpiredPageToken", msgPageToken)
	}
	if !resumed {
		st = state{Kind: "members", Tenant: c.ten.id, Ref: g.ID}
		st.Select, _ = qget(c.q, "select")
		if st.Top, e = parseTop(c.q, 100, 999); e != nil {
			return e
		}
	}
	sel, e := userEntity.parseSelect(st.Select)
	if e != nil {
		return e
	}
	col := c.startCollection("directoryObjects", nil)
	written, next := 0, -1
	for k := st.Pos; k < len(g.MemberIndexes); k++ {
		u, ok := c.ten.t.User(g.MemberIndexes[k])
		if !ok {
			continue
		}
		if written == st.Top {
			next = k
			break
		}
		col.j.objStart()
		col.j.field("@odata.type", "#microsoft.graph.user")
		for _, i := range sel {
			col.j.field(userEntity.props[i].name, userEntity.props[i].get(c, &u))
		}
		col.j.objEnd()
		written++
	}
	link := ""
	if next >= 0 {
		st.Pos = next
		link = c.nextLink("/groups/"+g.ID+"/members", st, "select", "top")
	}
	col.end(link, "")
	return nil
}
