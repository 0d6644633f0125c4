package graph

import (
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// ---- the tenant's users: lazily generated customers, or the partner's few sign-in users ----

func (tc *tenantCtx) userSlots() int {
	if tc.t != nil {
		return tc.t.UserSlots()
	}
	return len(tc.partnerUsers())
}

func (tc *tenantCtx) user(i int) (scenario.User, bool) {
	if tc.t != nil {
		return tc.t.User(i)
	}
	pu := tc.partnerUsers()
	if i < 0 || i >= len(pu) {
		return scenario.User{}, false
	}
	return pu[i], true
}

func (tc *tenantCtx) userByID(idOrUPN string) (scenario.User, bool) {
	if tc.t != nil {
		return tc.t.UserByID(idOrUPN)
	}
	for _, u := range tc.partnerUsers() {
		if strings.EqualFold(u.ID, idOrUPN) || strings.EqualFold(u.UserPrincipalName, idOrUPN) {
			return u, true
		}
	}
	return scenario.User{}, false
}

// partnerUsers are the partner tenant's scenario users as Graph users (licensed, with mailboxes:
// the MSP sends its consent mails from them).
func (tc *tenantCtx) partnerUsers() []scenario.User {
	return tc.pusers
}

func partnerUsersOf(p scenario.PartnerSpec) []scenario.User {
	out := make([]scenario.User, 0, len(p.Users))
	for i, pu := range p.Users {
		given, sur, _ := strings.Cut(pu.DisplayName, " ")
		methods := []string{}
		if pu.MFA {
			methods = []string{"microsoftAuthenticatorPush"}
		}
		out = append(out, scenario.User{
			Index: i, ID: pu.ID, UserPrincipalName: pu.UPN, DisplayName: pu.DisplayName, GivenName: given, Surname: sur,
			Mail: pu.UPN, ProxyAddresses: []string{"SMTP:" + pu.UPN}, AccountEnabled: true, UserType: "Member",
			BusinessPhones: []string{}, UsageLocation: "US", MFARegistered: pu.MFA, MFACapable: pu.MFA,
			MethodsRegistered: methods, IsAdmin: true, HasMailbox: true, Version: 1,
		})
	}
	return out
}

// ---- the user entity ----

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func mailNickname(upn string) string {
	local, _, _ := strings.Cut(upn, "@")
	return local
}

// requestID is a stable fake sign-in request id for a user and time.
func requestID(u *scenario.User, kind string) any {
	if u.LastSignIn.IsZero() {
		return nil
	}
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(kind+u.ID+u.LastSignIn.String())).String()
}

var userEntity = &entity[scenario.User]{typeName: "user", props: []prop[scenario.User]{
	{"businessPhones", true, func(_ *call, u *scenario.User) any { return u.BusinessPhones }},
	{"displayName", true, func(_ *call, u *scenario.User) any { return u.DisplayName }},
	{"givenName", true, func(_ *call, u *scenario.User) any { return nilIfEmpty(u.GivenName) }},
	{"jobTitle", true, func(_ *call, u *scenario.User) any { return nilIfEmpty(u.JobTitle) }},
	{"mail", true, func(_ *call, u *scenario.User) any { return nilIfEmpty(u.Mail) }},
	{"mobilePhone", true, func(_ *call, u *scenario.User) any { return nilIfEmpty(u.MobilePhone) }},
	{"officeLocation", true, func(_ *call, u *scenario.User) any { return nilIfEmpty(u.OfficeLocation) }},
	{"preferredLanguage", true, func(_ *call, u *scenario.User) any {
		if u.UserType == "Guest" {
			return nil
		}
		return "en-US"
	}},
	{"surname", true, func(_ *call, u *scenario.User) any { return nilIfEmpty(u.Surname) }},
	{"userPrincipalName", true, func(_ *call, u *scenario.User) any { return u.UserPrincipalName }},
	{"id", true, func(_ *call, u *scenario.User) any { return u.ID }},
	{"accountEnabled", false, func(_ *call, u *scenario.User) any { return u.AccountEnabled }},
	{"assignedLicenses", false, func(_ *call, u *scenario.User) any {
		out := make([]obj, 0, len(u.AssignedSkuIDs))
		for _, s := range u.AssignedSkuIDs {
			out = append(out, obj{{"disabledPlans", []string{}}, {"skuId", strings.ToLower(s)}})
		}
		return out
	}},
	{"city", false, func(_ *call, u *scenario.User) any { return nil }},
	{"companyName", false, func(_ *call, u *scenario.User) any { return nil }},
	{"country", false, func(_ *call, u *scenario.User) any { return nil }},
	{"createdDateTime", false, func(_ *call, u *scenario.User) any { return u.Created }},
	{"creationType", false, func(_ *call, u *scenario.User) any {
		if u.UserType == "Guest" {
			return "Invitation"
		}
		return nil
	}},
	{"department", false, func(_ *call, u *scenario.User) any { return nilIfEmpty(u.Department) }},
	{"employeeId", false, func(_ *call, u *scenario.User) any { return nil }},
	{"externalUserState", false, func(_ *call, u *scenario.User) any {
		if u.UserType == "Guest" {
			return "Accepted"
		}
		return nil
	}},
	{"lastPasswordChangeDateTime", false, func(_ *call, u *scenario.User) any { return u.LastPasswordChange }},
	{"mailNickname", false, func(_ *call, u *scenario.User) any { return mailNickname(u.UserPrincipalName) }},
	{"onPremisesImmutableId", false, func(_ *call, u *scenario.User) any { return nil }},
	{"onPremisesSyncEnabled", false, func(_ *call, u *scenario.User) any { return nil }},
	{"otherMails", false, func(_ *call, u *scenario.User) any { return []string{} }},
	{"proxyAddresses", false, func(_ *call, u *scenario.User) any { return u.ProxyAddresses }},
	{"signInActivity", false, func(_ *call, u *scenario.User) any {
		return obj{
			{"lastSignInDateTime", u.LastSignIn}, {"lastSignInRequestId", requestID(u, "i")},
			{"lastNonInteractiveSignInDateTime", u.LastSignIn}, {"lastNonInteractiveSignInRequestId", requestID(u, "n")},
			{"lastSuccessfulSignInDateTime", u.LastSignIn}, {"lastSuccessfulSignInRequestId", requestID(u, "i")},
		}
	}},
	{"state", false, func(_ *call, u *scenario.User) any { return nil }},
	{"streetAddress", false, func(_ *call, u *scenario.User) any { return nil }},
	{"usageLocation", false, func(_ *call, u *scenario.User) any { return nilIfEmpty(u.UsageLocation) }},
	{"userType", false, func(_ *call, u *scenario.User) any { return u.UserType }},
}}

var userFilter = filterSpec{
	resource: "User",
	props: map[string]bool{
		"id": true, "userprincipalname": true, "mail": true, "displayname": true, "givenname": true, "surname": true,
		"accountenabled": true, "usertype": true, "department": true, "jobtitle": true, "usagelocation": true,
		"createddatetime": true, "mailnickname": true, "signinactivity/lastsignindatetime": true,
		"signinactivity/lastnoninteractivesignindatetime": true,
	},
	colls: map[string]bool{"assignedlicenses": true, "proxyaddresses": true, "businessphones": true},
}

// userGetter exposes u to $filter.
func userGetter(u *scenario.User) getter {
	return func(p string) any {
		switch p {
		case "id":
			return u.ID
		case "userprincipalname":
			return u.UserPrincipalName
		case "mail":
			return u.Mail
		case "displayname":
			return u.DisplayName
		case "givenname":
			return u.GivenName
		case "surname":
			return u.Surname
		case "accountenabled":
			return u.AccountEnabled
		case "usertype":
			return u.UserType
		case "department":
			return u.Department
		case "jobtitle":
			return u.JobTitle
		case "usagelocation":
			return u.UsageLocation
		case "createddatetime":
			return u.Created
		case "mailnickname":
			return mailNickname(u.UserPrincipalName)
		case "signinactivity/lastsignindatetime", "signinactivity/lastnoninteractivesignindatetime":
			return u.LastSignIn
		case "assignedlicenses":
			out := make([]map[string]any, len(u.AssignedSkuIDs))
			for i, s := range u.AssignedSkuIDs {
				out[i] = map[string]any{"skuid": s}
			}
			return out
		case "proxyaddresses":
			return u.ProxyAddresses
		case "businessphones":
			return u.BusinessPhones
		}
		return nil
	}
}

// userQuery is a resolved /users query: from the URL or from a $skiptoken.
type userQuery struct {
	st     state
	sel    selection
	filter filterExpr
}

// signInActivityGate: signInActivity needs AuditLog.Read.All and an Entra ID P1/P2 tenant.
func (c *call) signInActivityGate(sel selection, filter string) *gerr {
	if !userEntity.has(sel, "signInActivity") && !strings.Contains(strings.ToLower(filter), "signinactivity") {
		return nil
	}
	if e := c.requireAuditLog(); e != nil {
		return e
	}
	if e := c.reportingRoles(); e != nil {
		return e
	}
	if !c.ten.premium {
		return errf(http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", msgNonPremium)
	}
	return nil
}

func handleUsers(c *call) *gerr {
	if e := c.require(permUsers); e != nil {
		return e
	}
	st, resumed, e := c.skipState("users")
	if e != nil {
		return e
	}
	if !resumed {
		st = state{Kind: "users", Tenant: c.ten.id}
		st.Select, _ = qget(c.q, "select")
		st.Filter, _ = qget(c.q, "filter")
	}
	sel, e := userEntity.parseSelect(st.Select)
	if e != nil {
		return e
	}
	f, e := parseFilter(st.Filter, userFilter)
	if e != nil {
		return e
	}
	if e := c.signInActivityGate(sel, st.Filter); e != nil {
		return e
	}
	if !resumed {
		maxTop := 999
		if userEntity.has(sel, "signInActivity") {
			maxTop = 500
		}
		if st.Top, e = parseTop(c.q, 100, maxTop); e != nil {
			return e
		}
	}
	var count *int
	if v, ok := qget(c.q, "count"); ok && strings.EqualFold(v, "true") && !resumed {
		if !strings.EqualFold(c.r.Header.Get("ConsistencyLevel"), "eventual") {
			return errBadRequest("$count is not currently supported.")
		}
		n := 0
		c.eachUser(0, f, func(int, *scenario.User) bool { n++; return true })
		count = &n
	}
	// Graph charges a user list 2 resource units, 1 with $select.
	if st.Select != "" {
		c.w.Header().Set("x-ms-resource-unit", "1")
	} else {
		c.w.Header().Set("x-ms-resource-unit", "2")
	}
	col := c.startCollection("users", count)
	written, next := 0, -1
	c.eachUser(st.Pos, f, func(i int, u *scenario.User) bool {
		if written == st.Top {
			next = i
			return false
		}
		userEntity.write(col.j, c, u, sel, nil)
		written++
		return true
	})
	link := ""
	if next >= 0 {
		st.Pos = next
		link = c.nextLink("/users", st, "select", "filter", "top")
	}
	col.end(link, "")
	return nil
}

// eachUser calls fn for live users matching f from slot start on, until fn returns false. A
// filter on id or userPrincipalName equality is answered by lookup, not by scanning.
func (c *call) eachUser(start int, f filterExpr, fn func(int, *scenario.User) bool) {
	if cmp, ok := f.(fCmp); ok && cmp.op == "eq" && (cmp.path == "id" || cmp.path == "userprincipalname") {
		if u, ok := c.ten.userByID(cmp.lit.s); ok && u.Index >= start && matches(f, userGetter(&u)) {
			fn(u.Index, &u)
		}
		return
	}
	slots := c.ten.userSlots()
	for i := start; i < slots; i++ {
		u, ok := c.ten.user(i)
		if !ok || !matches(f, userGetter(&u)) {
			continue
		}
		if !fn(i, &u) {
			return
		}
	}
}

func handleUser(c *call) *gerr {
	return c.getUser(c.segs[1])
}

func handleMe(c *call) *gerr {
	if c.claims.IsApp() {
		return errBadRequest("/me request is only valid with delegated authentication flow.")
	}
	return c.getUser(c.claims.ObjectID)
}

func (c *call) getUser(idOrUPN string) *gerr {
	if e := c.require(permUsers); e != nil {
		// Delegated callers may always read themselves (User.Read).
		if c.claims.IsApp() || !strings.EqualFold(idOrUPN, c.claims.ObjectID) || !c.claims.HasScope("User.Read") {
			return e
		}
	}
	sel, e := userEntity.parseSelect(qgetOr(c.q, "select"))
	if e != nil {
		return e
	}
	if e := c.signInActivityGate(sel, ""); e != nil {
		return e
	}
	u, ok := c.ten.userByID(idOrUPN)
	if !ok {
		return errNotFound(idOrUPN)
	}
	writeEntityDoc(c, http.StatusOK, "users/$entity", userEntity, &u, sel)
	return nil
}

func qgetOr(q map[string][]string, name string) string {
	v, _ := qget(q, name)
	return v
}
