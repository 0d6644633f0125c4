package graph

import (
	"net/http"
	"strings"
)

// checkMemberGroups: POST /users/{id | userPrincipalName}/checkMemberGroups and
// POST /me/checkMemberGroups, as "directoryObject: checkMemberGroups" documents
// (learn.microsoft.com/graph/api/directoryobject-checkmembergroups):
//   - body {"groupIds": [...]}: "Up to 20 groups may be specified";
//   - answer 200 {"@odata.context": ".../$metadata#Collection(Edm.String)", "value": [...]}: the
//     subset of groupIds the user is a member of ("This function is transitive"; the simulator's
//     groups have no nested groups, so direct membership is all there is);
//   - permissions for a user, application: "User.Read.All and GroupMember.Read.All, User.Read.All
//     and Group.Read.All, Directory.Read.All"; delegated the same with User.ReadBasic.All (and, for
//     the signed-in user, User.Read).
//
// Not verified against Graph: the exact error for more than 20 ids or a missing groupIds (answered
// here as 400 Request_BadRequest), and that an unknown group id is silently left out of the answer
// (as the documentation's example suggests) rather than refused.
func handleCheckMemberGroups(c *call) *gerr {
	id := c.claims.ObjectID
	if strings.EqualFold(c.segs[0], "users") {
		id = c.segs[1]
	} else if c.claims.IsApp() {
		return errBadRequest("/me request is only valid with delegated authentication flow.")
	}
	self := !c.claims.IsApp() && strings.EqualFold(id, c.claims.ObjectID) && c.claims.HasScope("User.Read")
	if e := c.require(permUsers); e != nil && !self {
		return e
	}
	if e := c.require(permMembers); e != nil {
		return e
	}
	var body struct {
		GroupIDs *[]string `json:"groupIds"`
	}
	if e := decodeBody(c, &body); e != nil {
		return e
	}
	if body.GroupIDs == nil {
		return errBadRequest("Required parameter 'groupIds' is missing.")
	}
	if len(*body.GroupIDs) > 20 {
		return errBadRequest("Too many group ids: up to 20 may be specified.")
	}
	u, ok := c.ten.userByID(id)
	if !ok {
		return errNotFound(id)
	}
	member := map[string]bool{}
	if c.ten.partner {
		for _, pu := range c.s.world.Partner().Users {
			if strings.EqualFold(pu.ID, u.ID) {
				for _, g := range pu.Groups {
					member[strings.ToLower(g)] = true
				}
			}
		}
	}
	value := []string{}
	for _, gid := range *body.GroupIDs {
		if member[strings.ToLower(gid)] || c.customerMember(gid, u.Index) {
			value = append(value, gid)
		}
	}
	writeJSON(c, http.StatusOK, obj{{"@odata.context", c.s.contextURL("Collection(Edm.String)")}, {"value", value}})
	return nil
}

// customerMember reports whether user index i of a customer tenant is in group gid.
func (c *call) customerMember(gid string, i int) bool {
	if c.ten.t == nil {
		return false
	}
	g, ok := c.ten.t.GroupByID(gid)
	if !ok {
		return false
	}
	for _, m := range g.MemberIndexes {
		if m == i {
			return true
		}
	}
	return false
}
