package scenario

import (
	"math"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// gdapDuration is the relationship length the sync's onboarding asks for (the GDAP maximum).
const gdapDuration = 730 * day

func (w *world) newInfo(id string, users, groups, devices int) tenantInfo {
	key := hash(w.seed, tagTenant, hashString(strings.ToLower(id)))
	ti := tenantInfo{
		key:         key,
		userIDKey:   hash(key, tagUserID),
		groupIDKey:  hash(key, tagGroupID),
		deviceIDKey: hash(key, tagDeviceID),
		users:       users, groups: groups, devices: devices,
		country:   int(hash(key, 1) % uint64(len(countries))),
		nameMul:   uint32(hash(key, tagNames)) | 1, // odd: a bijection modulo 4096
		nameAdd:   uint32(hash(key, tagNames, 1)),
		aliasUser: -1,
	}
	return ti
}

// finish fills the SKU-derived fields once Skus are known.
func (ti *tenantInfo) finish(t *Tenant) {
	ti.exchange = make([]bool, len(t.Skus))
	for i, s := range t.Skus {
		ti.exchange[i] = skuHasExchange(s)
	}
}

func (w *world) explicitTenant(i int, s *TenantSpec) (*Tenant, tenantInfo) {
	ti := w.newInfo(s.ID, s.Users, s.Groups, s.Devices)
	t := &Tenant{
		Index: i, ID: s.ID, DisplayName: s.DisplayName,
		InitialDomain: s.Domain, DefaultDomain: s.Domain,
		CSP: s.CSP, Consented: s.Consented, GrantedRoles: s.GrantedRoles, Premium: s.Premium, Intune: s.Intune,
		ConcealReports: s.ConcealReports, Deleted: s.Deleted, SecurityDefaults: s.SecurityDefaults,
		ReportUnknownEvery: s.ReportUnknownEvery, ReportRedactedEvery: s.ReportRedactedEvery,
		Faults: w.file.Faults,
		w:      w.pub,
	}
	if s.CustomDomain != "" {
		t.DefaultDomain = s.CustomDomain
	}
	if s.Faults != nil {
		t.Faults = *s.Faults
	}
	r := newRNG(ti.key, tagTenant)
	t.Created = w.now.Add(-time.Duration(r.between(2*365, 12*365))*day - time.Duration(r.intn(86400))*time.Second)
	t.Skus = make([]Sku, len(s.Skus))
	for j, k := range s.Skus {
		t.Skus[j] = Sku(k)
	}
	t.GDAP = make([]Relationship, len(s.GDAP))
	for j := range s.GDAP {
		t.GDAP[j] = w.relationship(t, &ti, j, s.GDAP[j])
	}
	ti.finish(t)
	return t, ti
}

func (w *world) generatedTenant(k int, g *GenerateSpec) (*Tenant, tenantInfo) {
	index := len(w.tenants)
	r := newRNG(w.seed, tagTenant, uint64(k))
	company := pick(&r, companies)
	num := strconv.Itoa(10000 + k)[1:] // zero-padded to four digits below 10,000
	if k >= 10000 {
		num = strconv.Itoa(k)
	}
	base := slug(company) + num
	t := &Tenant{
		Index:         index,
		ID:            guidFrom(w.seed, tagTenantID, uint64(k)),
		DisplayName:   company + " " + num,
		InitialDomain: base + ".onmicrosoft.com",
		DefaultDomain: base + ".onmicrosoft.com",
		Faults:        w.file.Faults,
		w:             w.pub,
	}
	// Each property has its own hash so changing one fraction leaves the others' picks alone.
	has := func(tag uint64, p float64) bool { return frac(hash(w.seed, tagTenant, uint64(k), tag)) < p }
	t.Premium = has(1, g.Premium)
	t.Intune = has(2, g.Intune)
	t.ConcealReports = has(3, g.ConcealReports)
	t.Consented = has(4, g.Consented)
	t.CSP = has(5, g.CSP)
	t.SecurityDefaults = !t.Premium && has(6, g.SecurityDefaults)
	if r.chance(0.4) {
		t.DefaultDomain = base + ".com"
	}
	users := r.between(g.MinUsers, g.MaxUsers)
	groups, devices := 3+users/40, users/5
	ti := w.newInfo(t.ID, users, groups, devices)
	t.Created = w.now.Add(-time.Duration(r.between(2*365, 12*365))*day - time.Duration(r.intn(86400))*time.Second)
	t.Skus = generatedSkus(&r, t, users)
	t.GDAP = []Relationship{w.relationship(t, &ti, 0, generatedRelationship(&r))}
	ti.finish(t)
	return t, ti
}

// generatedSkus picks a plausible licence mix consistent with the tenant's premium and Intune
// flags (the flags decide what Graph allows; the SKUs are what Partner Center shows).
func generatedSkus(r *rng, t *Tenant, users int) []Sku {
	var skus []Sku
	add := func(part string, every int) {
		k := knownSku(part)
		assigned := 0
		if every > 0 && users > 0 {
			assigned = (users + every - 1) / every
		}
		prepaid := (assigned+4)/5*5 + 5*r.intn(3) // bought in fives, some spare
		skus = append(skus, Sku{SkuID: k.SkuID, SkuPartNumber: k.SkuPartNumber, Prepaid: prepaid, AssignEvery: every})
	}
	if t.Premium && t.Intune {
		if r.chance(0.5) {
			add("SPB", 1)
		} else {
			add("SPE_E3", 1)
		}
	} else {
		if r.chance(0.7) {
			add("O365_BUSINESS_PREMIUM", 1)
		} else {
			add("EXCHANGESTANDARD", 1)
		}
		if t.Premium {
			add("AAD_PREMIUM", 1+r.intn(2))
		}
		if t.Intune {
			add("INTUNE_A", 1+r.intn(3))
		}
	}
	if r.chance(0.3) {
		// Shared-mailbox style extras. A tenant already on EXCHANGESTANDARD keeps its one row:
		// subscribedSkus lists a SKU once, and a second row of the same skuId was rewritten on
		// every sync. The same random numbers are drawn either way, so every later tenant of a
		// seed stays what it was.
		n := len(skus)
		add("EXCHANGESTANDARD", 7+r.intn(8))
		for _, k := range skus[:n] {
			if k.SkuPartNumber == "EXCHANGESTANDARD" {
				skus = skus[:n]
				break
			}
		}
	}
	return skus
}

// Roles the sync's GDAP template grants.
var standardRoles = []string{RoleGlobalReader, RoleCloudApplicationAdmin, RoleUserAdmin, RoleLicenseAdmin}

func generatedRelationship(r *rng) RelationshipSpec {
	roll := r.float()
	switch {
	case roll < 0.85:
		return RelationshipSpec{Status: "active", Roles: standardRoles, EndInDays: r.between(30, 729), AutoExtend: r.chance(0.8)}
	case roll < 0.92: // expiring soon, nobody turned auto-extend on
		return RelationshipSpec{Status: "active", Roles: standardRoles, EndInDays: r.between(1, 29)}
	case roll < 0.96:
		return RelationshipSpec{Status: "active", Roles: []string{RoleGlobalReader}, EndInDays: r.between(30, 729), AutoExtend: true}
	case roll < 0.98:
		return RelationshipSpec{Status: "expired", Roles: standardRoles, EndInDays: -r.between(1, 90)}
	default:
		return RelationshipSpec{Status: "approvalPending", Roles: standardRoles, EndInDays: 730}
	}
}

// relationship turns a spec into the Graph view, dates relative to now.
func (w *world) relationship(t *Tenant, ti *tenantInfo, j int, s RelationshipSpec) Relationship {
	rel := Relationship{
		ID:                 s.ID,
		Status:             s.Status,
		Roles:              append([]string(nil), s.Roles...),
		AssignedRoles:      append([]string(nil), s.Roles...),
		EndDateTime:        w.now.Add(time.Duration(s.EndInDays) * day).Truncate(time.Second),
		Duration:           "P730D",
		AutoExtendDuration: "PT0S",
		SecurityGroupID:    guidFrom(w.seed, tagSecurityGroup, hashString(strings.ToLower(w.file.Partner.TenantID))),
	}
	if s.AssignedRoles != nil {
		rel.AssignedRoles = append([]string(nil), s.AssignedRoles...)
	}
	if rel.ID == "" {
		// Graph's relationship ids are two GUIDs joined by a hyphen, the second the customer's tenant id.
		rel.ID = guidFrom(ti.key, tagRelationship, uint64(j)) + "-" + strings.ToLower(t.ID)
	}
	if s.AutoExtend {
		rel.AutoExtendDuration = "P180D"
	}
	name := t.DisplayName
	if len(name) > 36 {
		name = name[:36]
	}
	rel.DisplayName = "tenantsync " + name // Graph limits displayName to 50 characters
	if j > 0 {
		rel.DisplayName += " " + strconv.Itoa(j+1)
	}
	switch s.Status {
	case "approvalPending", "created", "approved", "activating":
		rel.Created = w.now.Add(-2 * day).Truncate(time.Second)
	default:
		act := rel.EndDateTime.Add(-gdapDuration)
		if latest := w.now.Add(-day).Truncate(time.Second); act.After(latest) {
			act = latest
		}
		rel.Activated = act
		rel.Created = act.Add(-26 * time.Hour)
	}
	return rel
}

// isGuest: about 4% of users other than user 0 are B2B guests.
func (ti *tenantInfo) isGuest(i int) bool { return i != 0 && hash(ti.key, tagGuest, uint64(i))%100 < 4 }

// isAdmin: user 0 (the tenant's first global admin) and about 3% of members.
func (ti *tenantInfo) isAdmin(i int) bool {
	return i == 0 || (!ti.isGuest(i) && hash(ti.key, tagAdmin, uint64(i))%100 < 3)
}

// name returns user i's name cell. Indexes are spread over the 64×64 name grid by an affine
// bijection modulo 4096, so the first 4,096 users of a tenant have distinct names and UPNs; later
// ones repeat the grid with a numeric suffix ("john.smith2").
func (ti *tenantInfo) name(i int) (given, surname string, gen int) {
	q, rem := i/4096, i%4096
	p := (uint32(rem)*ti.nameMul + ti.nameAdd) & 4095
	return givenNames[p&63], surnames[p>>6], q
}

// localPart is the mail nickname: given.surname[N].
func (ti *tenantInfo) localPart(i int) string {
	g, s, q := ti.name(i)
	l := strings.ToLower(g) + "." + strings.ToLower(s)
	if q > 0 {
		l += strconv.Itoa(q + 1)
	}
	return l
}

func (ti *tenantInfo) guestDomain(i int) string {
	return guestDomains[hash(ti.key, tagGuest, uint64(i), 1)%uint64(len(guestDomains))]
}

// userUPN is user i's UPN; cheap, for lookups by UPN.
func (w *world) userUPN(t *Tenant, ti *tenantInfo, i int) string {
	l := ti.localPart(i)
	if ti.isGuest(i) {
		// B2B guests: the external address with @ replaced by _, then #EXT# at the initial domain.
		return l + "_" + ti.guestDomain(i) + "#EXT#@" + t.InitialDomain
	}
	return l + "@" + t.DefaultDomain
}

// baseSkus is user i's generated licence set: the AssignEvery rule; guests get none.
func (ti *tenantInfo) baseSkus(t *Tenant, i int) []string {
	out := []string{}
	if ti.isGuest(i) {
		return out
	}
	for _, s := range t.Skus {
		if s.AssignEvery > 0 && i%s.AssignEvery == 0 {
			out = append(out, s.SkuID)
		}
	}
	return out
}

// userTraits are user i's generated values, drawn in a fixed order from the user's own stream
// (every draw is made whatever the branch, so one field never shifts another).
type userTraits struct {
	enabled                bool
	dept                   int
	title                  string
	office                 string
	mobile, business       bool
	mobileNum, businessNum int
	createdFrac            float64
	pwdAgeDays             int
	pwdSecs                int
	neverSignedIn          bool
	signInFrac             float64
	oldSignInDays          int
	mfa                    float64
	methods                [3]int
	nMethods               int
	storageFrac            float64
	itemSize               int
	activityFrac           float64
	alias                  bool
	emailMethod            bool
}

func (ti *tenantInfo) traits(i int) userTraits {
	r := newRNG(ti.key, tagUser, uint64(i))
	c := &countries[ti.country]
	var t userTraits
	t.enabled = r.chance(0.93)
	t.dept = r.intn(len(departments))
	t.title = pick(&r, departments[t.dept].titles)
	// Offices: the tenant's first city dominates.
	if r.chance(0.7) {
		t.office = c.cities[0]
		r.next()
	} else {
		t.office = pick(&r, c.cities)
	}
	t.mobile = r.chance(0.75)
	t.business = r.chance(0.6)
	t.mobileNum = r.intn(pow10(c.digits))
	t.businessNum = r.intn(pow10(c.digits))
	t.createdFrac = r.float()
	t.pwdAgeDays = r.between(1, 400)
	t.pwdSecs = r.intn(86400)
	t.neverSignedIn = r.chance(0.05)
	t.signInFrac = r.float()
	t.oldSignInDays = r.between(45, 400)
	t.mfa = r.float()
	t.methods = [3]int{r.intn(3), r.intn(len(strongMethods)), r.intn(len(strongMethods))}
	t.nMethods = r.between(1, 3)
	t.storageFrac = r.float()
	t.itemSize = r.between(30_000, 120_000)
	t.activityFrac = r.float()
	t.alias = r.chance(0.3)
	t.emailMethod = r.chance(0.2)
	return t
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// genUser builds user i. st is its overlay entry or nil.
func (w *world) genUser(t *Tenant, ti *tenantInfo, i int, st *userState) User {
	tr := ti.traits(i)
	c := &countries[ti.country]
	given, surname, _ := ti.name(i)
	guest, admin := ti.isGuest(i), ti.isAdmin(i)
	local := ti.localPart(i)
	u := User{
		Index:             i,
		ID:                objectUUID(ti.userIDKey, i).String(),
		UserPrincipalName: w.userUPN(t, ti, i),
		DisplayName:       given + " " + surname,
		GivenName:         given,
		Surname:           surname,
		AccountEnabled:    tr.enabled || admin,
		JobTitle:          tr.title,
		Department:        departments[tr.dept].name,
		OfficeLocation:    tr.office,
		UsageLocation:     c.code,
		UserType:          "Member",
		BusinessPhones:    []string{},
		ProxyAddresses:    []string{},
		MethodsRegistered: []string{},
		IsAdmin:           admin,
		Version:           1,
	}
	if tr.mobile {
		u.MobilePhone = c.mobile + pad(tr.mobileNum, c.digits)
	}
	if tr.business {
		u.BusinessPhones = []string{c.prefix + pad(tr.businessNum, c.digits)}
	}
	added := st != nil && st.added > 0

	// Dates: users were created after the tenant and before now; users added by Step at now.
	span := w.now.Add(-2 * day).Sub(t.Created)
	u.Created = t.Created.Add(time.Duration(tr.createdFrac * float64(span))).Truncate(time.Second)
	if added {
		u.Created = w.now.Truncate(time.Second)
	}
	u.LastPasswordChange = w.now.Add(-time.Duration(tr.pwdAgeDays)*day - time.Duration(tr.pwdSecs)*time.Second).Truncate(time.Second)
	if u.LastPasswordChange.Before(u.Created) {
		u.LastPasswordChange = u.Created
	}
	switch {
	case added || tr.neverSignedIn:
	case u.AccountEnabled:
		// Skewed towards recent: most active users signed in within days.
		u.LastSignIn = w.now.Add(-time.Duration(tr.signInFrac * tr.signInFrac * float64(30*day))).Truncate(time.Second)
	default:
		u.LastSignIn = w.now.Add(-time.Duration(tr.oldSignInDays) * day).Add(-time.Duration(tr.signInFrac * float64(day))).Truncate(time.Second)
	}
	if !u.LastSignIn.IsZero() && u.LastSignIn.Before(u.Created) {
		u.LastSignIn = u.Created.Add(time.Hour)
	}

	if guest {
		ext := local + "@" + ti.guestDomain(i)
		u.UserType = "Guest"
		u.Mail = ext
		u.ProxyAddresses = []string{"SMTP:" + ext}
		u.JobTitle, u.Department, u.OfficeLocation, u.UsageLocation = "", "", "", ""
		u.MobilePhone, u.BusinessPhones = "", []string{}
	} else {
		u.Mail = u.UserPrincipalName
	}

	// Mutable fields from the overlay.
	skus := []string(nil)
	if st != nil {
		u.Version = st.version
		if st.set&ovJobTitle != 0 {
			u.JobTitle = st.jobTitle
		}
		if st.set&ovDepartment != 0 {
			u.Department = st.department
		}
		if st.set&ovSkus != 0 {
			skus = append([]string{}, st.skus...)
		}
	}
	if skus == nil {
		skus = ti.baseSkus(t, i)
	}
	u.AssignedSkuIDs = skus

	// MFA: ~70% of members registered, admins always; guests register in their home tenant.
	if !guest {
		u.MFARegistered = admin || tr.mfa < 0.7
	}
	if u.MFARegistered {
		u.MethodsRegistered = appendMethod(u.MethodsRegistered, strongMethods[tr.methods[0]])
		for k := 1; k < tr.nMethods; k++ {
			u.MethodsRegistered = appendMethod(u.MethodsRegistered, strongMethods[tr.methods[k]])
		}
	}
	if !guest && tr.emailMethod {
		u.MethodsRegistered = appendMethod(u.MethodsRegistered, "email") // SSPR only: not MFA
	}
	u.MFACapable = u.MFARegistered && u.AccountEnabled
	u.PerUserMFA = perUserMFA(t, guest, admin, u.MFARegistered, tr.mfa)

	// Mailbox: licensed members holding an Exchange plan.
	if !guest && ti.hasExchange(t, skus) {
		u.HasMailbox = true
		u.ProxyAddresses = w.proxyAddresses(t, ti, i, local, u.Mail, tr.alias)
		if added {
			u.MailboxStorageBytes = int64(tr.storageFrac * 2e6)
			u.MailboxItemCount = int64(tr.storageFrac * 20)
		} else {
			// Log-uniform from 50 MB to about 36 GB: most mailboxes small, a few near quota.
			u.MailboxStorageBytes = int64(5e7 * math.Pow(2, tr.storageFrac*9.5))
			u.MailboxItemCount = u.MailboxStorageBytes / int64(tr.itemSize)
			switch {
			case u.AccountEnabled:
				u.MailboxLastActivity = w.now.Add(-time.Duration(tr.activityFrac * float64(7*day))).Truncate(time.Second)
			case !u.LastSignIn.IsZero():
				u.MailboxLastActivity = u.LastSignIn
			}
			if u.MailboxLastActivity.Before(u.Created) {
				u.MailboxLastActivity = time.Time{}
			}
		}
	}
	u.ReportUPN = reportUPN(t, &u)
	return u
}

func appendMethod(list []string, m string) []string {
	for _, x := range list {
		if x == m {
			return list
		}
	}
	return append(list, m)
}

func (ti *tenantInfo) hasExchange(t *Tenant, skus []string) bool {
	for _, id := range skus {
		for j, s := range t.Skus {
			if ti.exchange[j] && strings.EqualFold(s.SkuID, id) {
				return true
			}
		}
	}
	return false
}

// proxyAddresses: the primary SMTP address, the initial-domain alias Exchange adds when a custom
// domain is the default, sometimes a nickname alias; the demo's big-alias user gets hundreds.
func (w *world) proxyAddresses(t *Tenant, ti *tenantInfo, i int, local, mail string, alias bool) []string {
	n := 2
	if i == ti.aliasUser {
		n = ti.aliasCount
	}
	out := make([]string, 0, n)
	out = append(out, "SMTP:"+mail)
	if !strings.EqualFold(t.DefaultDomain, t.InitialDomain) {
		out = append(out, "smtp:"+local+"@"+t.InitialDomain)
	}
	if alias {
		// given+surname without the dot: unique wherever given.surname is.
		out = append(out, "smtp:"+strings.ReplaceAll(local, ".", "")+"@"+t.DefaultDomain)
	}
	if i == ti.aliasUser {
		for k := 1; len(out) < ti.aliasCount; k++ {
			out = append(out, "smtp:"+local+".alias"+pad(k, 3)+"@"+t.DefaultDomain)
		}
	}
	return out
}

// groupKind: group 0 is the organisation-wide Microsoft 365 group; others are Microsoft 365
// groups one time in three, otherwise security groups; density is 1 in 2..7 members.
func (ti *tenantInfo) groupKind(g int) (unified bool, density uint64) {
	if g == 0 {
		return true, 1
	}
	h := hash(ti.key, tagGroup, uint64(g), 1)
	return h%3 == 0, 2 + (h>>8)%6
}

// baseMember is generated membership: initial members (not guests) picked by hash.
func (ti *tenantInfo) baseMember(g, i int) bool {
	if i >= ti.users || ti.isGuest(i) {
		return false
	}
	_, density := ti.groupKind(g)
	return density == 1 || hash(ti.key, tagMember, uint64(g), uint64(i))%density == 0
}

// isMember is membership ignoring removals; called with the lock held (ts may be nil).
func (w *world) isMember(ti *tenantInfo, ts *tenantState, g, i int) bool {
	m := ti.baseMember(g, i)
	if ts != nil {
		if gs := ts.groups[g]; gs != nil {
			if _, ok := gs.toggled[i]; ok {
				m = !m
			}
		}
	}
	return m
}

// genGroup builds group g; called with the read lock held (ts may be nil).
func (w *world) genGroup(t *Tenant, ti *tenantInfo, g int, ts *tenantState) Group {
	r := newRNG(ti.key, tagGroup, uint64(g))
	name := groupNames[g%len(groupNames)]
	if g >= len(groupNames) {
		name += " " + strconv.Itoa(g/len(groupNames)+1)
	}
	unified, _ := ti.groupKind(g)
	span := w.now.Add(-day).Sub(t.Created)
	gr := Group{
		Index:         g,
		ID:            objectUUID(ti.groupIDKey, g).String(),
		DisplayName:   name,
		GroupTypes:    []string{},
		Created:       t.Created.Add(time.Duration(r.float() * float64(span))).Truncate(time.Second),
		MemberIndexes: []int{},
		Version:       1,
	}
	if unified {
		gr.GroupTypes = []string{"Unified"}
		gr.MailEnabled = true
		gr.Mail = slug(name) + "@" + t.DefaultDomain
		gr.Description = "Microsoft 365 group for " + name
	} else {
		gr.SecurityEnabled = true
		gr.Description = "Security group: " + name
	}
	slots := ti.users
	var gs *groupState
	if ts != nil {
		slots = ts.userSlots
		gs = ts.groups[g]
	}
	if gs != nil {
		gr.Version = gs.version
	}
	for i := 0; i < slots; i++ {
		if !w.isMember(ti, ts, g, i) {
			continue
		}
		if ts != nil {
			if u := ts.users[i]; u != nil && u.removed {
				continue
			}
		}
		gr.MemberIndexes = append(gr.MemberIndexes, i)
	}
	return gr
}

var complianceStates = []string{"compliant", "noncompliant", "unknown"}

// genDevice builds Intune managed device i.
func (w *world) genDevice(t *Tenant, ti *tenantInfo, i int) Device {
	r := newRNG(ti.key, tagDevice, uint64(i))
	m := deviceModels[r.intn(len(deviceModels))]
	d := Device{
		Index:           i,
		ID:              objectUUID(ti.deviceIDKey, i).String(),
		OperatingSystem: m.os,
		OSVersion:       pick(&r, m.versions),
		ManagementAgent: "mdm",
		Manufacturer:    m.manufacturer,
		Model:           m.model,
		UserIndex:       -1,
	}
	roll := r.float()
	switch {
	case roll < 0.8:
		d.ComplianceState = complianceStates[0]
	case roll < 0.92:
		d.ComplianceState = complianceStates[1]
	default:
		d.ComplianceState = complianceStates[2]
	}
	const alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
	serial := make([]byte, 10)
	for k := range serial {
		serial[k] = alnum[r.intn(len(alnum))]
	}
	d.SerialNumber = string(serial)
	userPick, owned := r.intn(max(ti.users, 1)), r.chance(0.9)
	enrolledDays, syncFrac, stale := r.between(1, 700), r.float(), r.chance(0.1)
	enrolledSecs := r.intn(86400)
	if owned && ti.users > 0 {
		d.UserIndex = userPick
		d.UserID = objectUUID(ti.userIDKey, userPick).String()
		d.UserPrincipalName = w.userUPN(t, ti, userPick)
	}
	owner := ""
	if d.UserIndex >= 0 {
		g, _, _ := ti.name(d.UserIndex)
		owner = g + "'s "
	}
	switch {
	case m.os == "Windows":
		d.DeviceName = "DESKTOP-" + string(serial[:7])
	case owner == "":
		d.DeviceName = strings.ToUpper(slug(m.model)) + "-" + string(serial[:5])
	case m.os == "macOS":
		d.DeviceName = owner + "MacBook"
	case strings.HasPrefix(m.model, "iPad"):
		d.DeviceName = owner + "iPad"
	case m.os == "iOS":
		d.DeviceName = owner + "iPhone"
	default:
		d.DeviceName = owner + m.model
	}
	d.EnrolledDateTime = w.now.Add(-time.Duration(enrolledDays)*day - time.Duration(enrolledSecs)*time.Second).Truncate(time.Second)
	if d.EnrolledDateTime.Before(t.Created) {
		d.EnrolledDateTime = t.Created.Add(day)
	}
	last := time.Duration(syncFrac * float64(2*day))
	if stale {
		last = time.Duration(10+syncFrac*40) * day // not checked in for weeks: typically noncompliant
		d.ComplianceState = "noncompliant"
	}
	d.LastSyncDateTime = w.now.Add(-last).Truncate(time.Second)
	if d.LastSyncDateTime.Before(d.EnrolledDateTime) {
		d.LastSyncDateTime = d.EnrolledDateTime
	}
	return d
}

// perUserMFA is the per-user MFA state of a member of a tenant without security defaults: most
// registered users enforced (an enabled user who registers becomes enforced, per "Enable per-user
// Microsoft Entra multifactor authentication"), some enabled who have not registered yet, the rest
// disabled. With security defaults on, per-user MFA is not used (everyone disabled).
func perUserMFA(t *Tenant, guest, admin, registered bool, mfa float64) string {
	switch {
	case guest || t.SecurityDefaults:
		return "disabled"
	case admin || (registered && mfa < 0.6):
		return "enforced"
	case !registered && mfa < 0.8:
		return "enabled"
	}
	return "disabled"
}

// reportUPN is the name the usage reports show for u (see TenantSpec.ReportUnknownEvery).
func reportUPN(t *Tenant, u *User) string {
	every := func(n int) bool { return n > 0 && u.Index%n == n-1 }
	switch {
	case !u.HasMailbox:
		return ""
	case every(t.ReportUnknownEvery):
		return "(Unknown)"
	case every(t.ReportRedactedEvery):
		_, dom, _ := strings.Cut(u.UserPrincipalName, "@")
		return "<PII:H105(" + u.ID[:8] + "q0Iw=)>@" + dom
	}
	return u.UserPrincipalName
}
