package graph

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// GDAP: the partner tenant's delegated admin relationships with its customers. They exist only
// in the partner tenant; a customer tenant sees none.

type relationship struct {
	scenario.Relationship
	customer *scenario.Tenant
}

func etag(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return `W/"` + base64.StdEncoding.EncodeToString([]byte(`'"`+uuid.Must(uuid.FromBytes(sum[:16])).String()+`"'`)) + `"`
}

func unifiedRoles(ids []string) []obj {
	out := make([]obj, 0, len(ids))
	for _, id := range ids {
		out = append(out, obj{{"roleDefinitionId", id}})
	}
	return out
}

var relationshipEntity = &entity[relationship]{typeName: "delegatedAdminRelationship", props: []prop[relationship]{
	{"@odata.type", true, func(_ *call, r *relationship) any { return "#microsoft.graph.delegatedAdminRelationship" }},
	{"@odata.etag", true, func(_ *call, r *relationship) any { return etag(r.ID, r.Status) }},
	{"id", true, func(_ *call, r *relationship) any { return r.ID }},
	{"displayName", true, func(_ *call, r *relationship) any { return r.DisplayName }},
	{"duration", true, func(_ *call, r *relationship) any { return r.Duration }},
	{"customer", true, func(_ *call, r *relationship) any {
		return obj{{"tenantId", strings.ToLower(r.customer.ID)}, {"displayName", r.customer.DisplayName}}
	}},
	{"accessDetails", true, func(_ *call, r *relationship) any { return obj{{"unifiedRoles", unifiedRoles(r.Roles)}} }},
	{"status", true, func(_ *call, r *relationship) any { return r.Status }},
	{"autoExtendDuration", true, func(_ *call, r *relationship) any { return r.AutoExtendDuration }},
	{"createdDateTime", true, func(_ *call, r *relationship) any { return r.Created }},
	{"lastModifiedDateTime", true, func(_ *call, r *relationship) any {
		if r.Activated.IsZero() {
			return r.Created
		}
		return r.Activated
	}},
	{"activatedDateTime", true, func(_ *call, r *relationship) any { return r.Activated }},
	{"endDateTime", true, func(_ *call, r *relationship) any {
		if r.Activated.IsZero() {
			return nil
		}
		return r.EndDateTime
	}},
}}

var relationshipFilter = filterSpec{
	resource: "delegatedAdminRelationship",
	props: map[string]bool{
		"id": true, "status": true, "displayname": true, "customer/tenantid": true, "customer/displayname": true,
		"enddatetime": true, "autoextendduration": true,
	},
}

func relationshipGetter(r *relationship) getter {
	return func(p string) any {
		switch p {
		case "id":
			return r.ID
		case "status":
			return r.Status
		case "displayname":
			return r.DisplayName
		case "customer/tenantid":
			return r.customer.ID
		case "customer/displayname":
			return r.customer.DisplayName
		case "enddatetime":
			return r.EndDateTime
		case "autoextendduration":
			return r.AutoExtendDuration
		}
		return nil
	}
}

func handleRelationships(c *call) *gerr {
	if e := c.require(permGDAP); e != nil {
		return e
	}
	st, resumed, e := c.skipState("gdap")
	if e != nil {
		return e
	}
	if !resumed {
		st = state{Kind: "gdap", Tenant: c.ten.id}
		st.Select, _ = qget(c.q, "select")
		st.Filter, _ = qget(c.q, "filter")
		if st.Top, e = parseTop(c.q, 300, 300); e != nil {
			return e
		}
	}
	sel, e := relationshipEntity.parseSelect(st.Select)
	if e != nil {
		return e
	}
	f, e := parseFilter(st.Filter, relationshipFilter)
	if e != nil {
		return e
	}
	col := c.startCollection("delegatedAdminRelationships", nil)
	written, nextT, nextR := 0, -1, 0
	if c.ten.partner {
		w := c.s.world
	tenants:
		for i := st.Pos; i < w.TenantCount(); i++ {
			t := w.TenantAt(i)
			j0 := 0
			if i == st.Pos {
				j0 = st.Pos2
			}
			for j := j0; j < len(t.GDAP); j++ {
				r := relationship{Relationship: t.GDAP[j], customer: t}
				if !matches(f, relationshipGetter(&r)) {
					continue
				}
				if written == st.Top {
					nextT, nextR = i, j
					break tenants
				}
				relationshipEntity.write(col.j, c, &r, sel, nil)
				written++
			}
		}
	}
	link := ""
	if nextT >= 0 {
		st.Pos, st.Pos2 = nextT, nextR
		link = c.nextLink("/tenantRelationships/delegatedAdminRelationships", st, "select", "filter", "top")
	}
	col.end(link, "")
	return nil
}

// findRelationship locates a relationship by id; ids end with the customer's tenant id.
func (c *call) findRelationship(id string) (relationship, bool) {
	if !c.ten.partner {
		return relationship{}, false
	}
	w := c.s.world
	look := func(t *scenario.Tenant) (relationship, bool) {
		for _, r := range t.GDAP {
			if strings.EqualFold(r.ID, id) {
				return relationship{Relationship: r, customer: t}, true
			}
		}
		return relationship{}, false
	}
	if len(id) > 37 {
		if t, ok := w.Tenant(id[len(id)-36:]); ok {
			if r, ok := look(t); ok {
				return r, true
			}
		}
	}
	for i := 0; i < w.TenantCount(); i++ {
		if r, ok := look(w.TenantAt(i)); ok {
			return r, true
		}
	}
	return relationship{}, false
}

func handleRelationship(c *call) *gerr {
	if e := c.require(permGDAP); e != nil {
		return e
	}
	r, ok := c.findRelationship(c.segs[2])
	if !ok {
		return errNotFound(c.segs[2])
	}
	sel, e := relationshipEntity.parseSelect(qgetOr(c.q, "select"))
	if e != nil {
		return e
	}
	writeEntityDoc(c, 200, "tenantRelationships/delegatedAdminRelationships/$entity", relationshipEntity, &r, sel)
	return nil
}

// accessAssignmentsPage is the simulator's page size for access assignments, small so that
// clients must follow @odata.nextLink (Graph pages every collection; the page size of this one is
// not documented).
const accessAssignmentsPage = 2

// rolesPerAssignment: the simulator splits a relationship's assigned roles over several access
// assignments (a relationship can hold one per security group,
// https://learn.microsoft.com/graph/api/resources/delegatedadminaccessassignment), the first for
// the service account's group, so that the roles in force are their union across pages.
const rolesPerAssignment = 2

func handleAccessAssignments(c *call) *gerr {
	if e := c.require(permGDAP); e != nil {
		return e
	}
	r, ok := c.findRelationship(c.segs[2])
	if !ok {
		return errNotFound(c.segs[2])
	}
	st, _, e := c.skipState("access")
	if e != nil {
		return e
	}
	st.Kind, st.Tenant = "access", c.ten.id
	path := "/tenantRelationships/delegatedAdminRelationships/" + r.ID + "/accessAssignments"
	col := c.startCollection("tenantRelationships/delegatedAdminRelationships('"+r.ID+"')/accessAssignments", nil)
	var chunks [][]string
	switch r.Status {
	case "active", "expiring", "activating":
		if r.SecurityGroupID != "" {
			for i := 0; i < len(r.AssignedRoles); i += rolesPerAssignment {
				chunks = append(chunks, r.AssignedRoles[i:min(i+rolesPerAssignment, len(r.AssignedRoles))])
			}
			if len(chunks) == 0 {
				chunks = [][]string{{}}
			}
		}
	}
	end := min(st.Pos+accessAssignmentsPage, len(chunks))
	for i := st.Pos; i < end; i++ {
		id := uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprintf("assignment:%s:%d", r.ID, i))).String()
		group := r.SecurityGroupID
		if i > 0 {
			group = uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprintf("group:%s:%d", r.ID, i))).String()
		}
		col.j.elem(obj{
			{"@odata.etag", etag(id)},
			{"id", id},
			{"status", "active"},
			{"createdDateTime", r.Activated},
			{"lastModifiedDateTime", r.Activated},
			{"accessContainer", obj{{"accessContainerId", group}, {"accessContainerType", "securityGroup"}}},
			// the access assignments' roles, which may be fewer than the relationship's
			{"accessDetails", obj{{"unifiedRoles", unifiedRoles(chunks[i])}}},
		})
	}
	link := ""
	if end < len(chunks) {
		st.Pos = end
		link = c.nextLink(path, st)
	}
	col.end(link, "")
	return nil
}

func customerObj(t *scenario.Tenant) obj {
	id := strings.ToLower(t.ID)
	return obj{{"id", id}, {"tenantId", id}, {"displayName", t.DisplayName}}
}

func handleCustomers(c *call) *gerr {
	if e := c.require(permGDAP); e != nil {
		return e
	}
	st, resumed, e := c.skipState("customers")
	if e != nil {
		return e
	}
	if !resumed {
		st = state{Kind: "customers", Tenant: c.ten.id}
		if st.Top, e = parseTop(c.q, 300, 300); e != nil {
			return e
		}
	}
	col := c.startCollection("tenantRelationships/delegatedAdminCustomers", nil)
	written, next := 0, -1
	if c.ten.partner {
		w := c.s.world
		for i := st.Pos; i < w.TenantCount(); i++ {
			t := w.TenantAt(i)
			if len(t.GDAP) == 0 {
				continue
			}
			if written == st.Top {
				next = i
				break
			}
			col.j.elem(customerObj(t))
			written++
		}
	}
	link := ""
	if next >= 0 {
		st.Pos = next
		link = c.nextLink("/tenantRelationships/delegatedAdminCustomers", st, "top")
	}
	col.end(link, "")
	return nil
}

func handleCustomer(c *call) *gerr {
	if e := c.require(permGDAP); e != nil {
		return e
	}
	if c.ten.partner {
		if t, ok := c.s.world.Tenant(c.segs[2]); ok && len(t.GDAP) > 0 && strings.EqualFold(t.ID, c.segs[2]) {
			writeJSON(c, 200, append(obj{{"@odata.context", c.s.contextURL("tenantRelationships/delegatedAdminCustomers/$entity")}}, customerObj(t)...))
			return nil
		}
	}
	return errNotFound(c.segs[2])
}
