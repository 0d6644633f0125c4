package scenario

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// world is the implementation behind World.
//
// Memory model: tenants (a few hundred bytes each) are built at load; users, groups and devices
// never are. Object i of a tenant is a pure function of (seed, tenant key, i) plus, once Step has
// touched it, a small overlay entry (version, epoch of last change, removal, the mutable fields it
// changed). So a 200,000-user world costs about as much as its 1,000 Tenant values until it is
// mutated, and each Step adds a handful of overlay entries per tenant.
type world struct {
	file    File
	now     time.Time
	seed    uint64
	pub     *World
	tenants []*Tenant
	info    []tenantInfo
	byKey   map[string]int // lower-case tenant id and every domain → tenant index

	mu     sync.RWMutex
	ep     int
	states []*tenantState // nil until the tenant's first mutation

	cacheMu       sync.Mutex
	consumedCache map[int]consumedEntry
}

// tenantInfo is the per-tenant generation input that Tenant does not expose.
type tenantInfo struct {
	key                    uint64 // hash(seed, tenant id): root of every per-tenant stream
	userIDKey              uint64
	groupIDKey             uint64
	deviceIDKey            uint64
	users, groups, devices int // initial counts
	country                int // index into countries
	nameMul, nameAdd       uint32
	aliasUser, aliasCount  int    // user with a huge proxyAddresses list (demo), -1: none
	exchange               []bool // per Skus entry: carries a mailbox
	groupDensity           []uint8
}

// tenantState is a tenant's mutation overlay.
type tenantState struct {
	userSlots    int
	removedUsers int
	users        map[int]*userState
	groups       map[int]*groupState
}

// Flags of the mutable user fields an overlay entry overrides.
const (
	ovJobTitle uint8 = 1 << iota
	ovDepartment
	ovSkus
)

type userState struct {
	version    int
	changed    int // epoch of the last add/change/removal
	added      int // epoch the user was added; 0: present at load
	removed    bool
	set        uint8 // ov* flags
	jobTitle   string
	department string
	skus       []string // replaced, never modified in place: readers share it without the lock
}

type groupState struct {
	version int
	changed int
	// toggled holds user indexes whose membership differs from the generated one.
	toggled map[int]struct{}
}

type consumedEntry struct {
	epoch  int
	counts map[string]int // lower-case skuId → live users assigned
}

// worldOptions carries what built-in scenarios need beyond the file format.
type worldOptions struct {
	// bigAliases gives user 0 of the tenant with this id this many proxy addresses.
	bigAliases map[string]int
}

func newWorld(f File, now time.Time) (*World, error) { return newWorldWith(f, now, worldOptions{}) }

func newWorldWith(f File, now time.Time, opts worldOptions) (*World, error) {
	if err := validate(&f); err != nil {
		return nil, err
	}
	w := &world{file: f, now: now, seed: uint64(f.Seed), consumedCache: map[int]consumedEntry{}}
	w.pub = &World{impl: w}
	n := len(f.Tenants)
	if f.Generate != nil {
		n += f.Generate.Count
	}
	w.tenants = make([]*Tenant, 0, n)
	w.info = make([]tenantInfo, 0, n)
	w.byKey = make(map[string]int, 2*n)
	for i := range f.Tenants {
		t, ti := w.explicitTenant(i, &f.Tenants[i])
		if c, ok := opts.bigAliases[strings.ToLower(t.ID)]; ok {
			ti.aliasUser, ti.aliasCount = 0, c
		}
		if err := w.add(t, ti); err != nil {
			return nil, err
		}
	}
	if g := f.Generate; g != nil {
		for k := 0; k < g.Count; k++ {
			t, ti := w.generatedTenant(k, g)
			if err := w.add(t, ti); err != nil {
				return nil, err
			}
		}
	}
	w.states = make([]*tenantState, len(w.tenants))
	return w.pub, nil
}

// add registers a tenant under its id and domains, refusing duplicates (explicit tenants are
// already validated; this catches a generated domain colliding with an explicit one).
func (w *world) add(t *Tenant, ti tenantInfo) error {
	keys := []string{strings.ToLower(t.ID), strings.ToLower(t.InitialDomain)}
	if !strings.EqualFold(t.DefaultDomain, t.InitialDomain) {
		keys = append(keys, strings.ToLower(t.DefaultDomain))
	}
	for _, k := range keys {
		if j, dup := w.byKey[k]; dup {
			return fmt.Errorf("tenant %d %q: %q already used by tenant %d %q", t.Index, t.DisplayName, k, j, w.tenants[j].DisplayName)
		}
	}
	for _, k := range keys {
		w.byKey[k] = t.Index
	}
	w.tenants = append(w.tenants, t)
	w.info = append(w.info, ti)
	return nil
}

func (w *world) epoch() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.ep
}

func (w *world) tenantCount() int { return len(w.tenants) }

func (w *world) tenantAt(i int) *Tenant {
	if i < 0 || i >= len(w.tenants) {
		return nil
	}
	return w.tenants[i]
}

func (w *world) tenant(idOrDomain string) (*Tenant, bool) {
	i, ok := w.byKey[strings.ToLower(strings.TrimSpace(idOrDomain))]
	if !ok {
		return nil, false
	}
	return w.tenants[i], true
}

// own checks that t belongs to this world (a Tenant from another world would index wrongly).
func (w *world) own(t *Tenant) bool {
	return t != nil && t.Index >= 0 && t.Index < len(w.tenants) && w.tenants[t.Index] == t
}

// snapshotUser reads slot count and overlay entry of user i under the read lock.
func (w *world) snapshotUser(t *Tenant, i int) (slots int, st userState, touched bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	ts := w.states[t.Index]
	if ts == nil {
		return w.info[t.Index].users, userState{}, false
	}
	if p := ts.users[i]; p != nil {
		return ts.userSlots, *p, true
	}
	return ts.userSlots, userState{}, false
}

func (w *world) userSlots(t *Tenant) int {
	if !w.own(t) {
		return 0
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if ts := w.states[t.Index]; ts != nil {
		return ts.userSlots
	}
	return w.info[t.Index].users
}

// liveUsers is the number of users not removed.
func (w *world) liveUsers(t *Tenant) int {
	if !w.own(t) {
		return 0
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if ts := w.states[t.Index]; ts != nil {
		return ts.userSlots - ts.removedUsers
	}
	return w.info[t.Index].users
}

func (w *world) user(t *Tenant, i int) (User, bool) {
	if !w.own(t) || i < 0 {
		return User{}, false
	}
	slots, st, touched := w.snapshotUser(t, i)
	if i >= slots {
		return User{}, false
	}
	var stp *userState
	if touched {
		stp = &st
	}
	u := w.genUser(t, &w.info[t.Index], i, stp)
	return u, !st.removed
}

func (w *world) userByID(t *Tenant, idOrUPN string) (User, bool) {
	if !w.own(t) {
		return User{}, false
	}
	ti := &w.info[t.Index]
	s := strings.TrimSpace(idOrUPN)
	if i := objectIndex(ti.userIDKey, s); i >= 0 {
		return w.user(t, i)
	}
	if !strings.Contains(s, "@") {
		return User{}, false
	}
	// UPNs are not invertible (guests, suffixes), but computing only the UPN is cheap and
	// tenants hold hundreds of users, so a scan is fine.
	slots := w.userSlots(t)
	for i := 0; i < slots; i++ {
		if strings.EqualFold(w.userUPN(t, ti, i), s) {
			if u, ok := w.user(t, i); ok {
				return u, true
			}
		}
	}
	return User{}, false
}

func (w *world) userChanges(t *Tenant, since int) []Change {
	if !w.own(t) {
		return nil
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	ts := w.states[t.Index]
	if ts == nil {
		return nil
	}
	var out []Change
	for i, u := range ts.users {
		if u.changed > since {
			out = append(out, Change{Index: i, Removed: u.removed})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out
}

func (w *world) groupSlots(t *Tenant) int {
	if !w.own(t) {
		return 0
	}
	return w.info[t.Index].groups
}

func (w *world) group(t *Tenant, i int) (Group, bool) {
	if !w.own(t) || i < 0 || i >= w.info[t.Index].groups {
		return Group{}, false
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	// Membership depends on every user's removal state, so the group is built under the lock.
	return w.genGroup(t, &w.info[t.Index], i, w.states[t.Index]), true
}

func (w *world) groupByID(t *Tenant, id string) (Group, bool) {
	if !w.own(t) {
		return Group{}, false
	}
	i := objectIndex(w.info[t.Index].groupIDKey, strings.TrimSpace(id))
	if i < 0 {
		return Group{}, false
	}
	return w.group(t, i)
}

func (w *world) groupChanges(t *Tenant, since int) []Change {
	if !w.own(t) {
		return nil
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	ts := w.states[t.Index]
	if ts == nil {
		return nil
	}
	var out []Change
	for i, g := range ts.groups {
		if g.changed > since {
			out = append(out, Change{Index: i})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out
}

func (w *world) deviceCount(t *Tenant) int {
	if !w.own(t) {
		return 0
	}
	return w.info[t.Index].devices
}

func (w *world) device(t *Tenant, i int) Device {
	if !w.own(t) || i < 0 || i >= w.info[t.Index].devices {
		return Device{Index: i, UserIndex: -1}
	}
	return w.genDevice(t, &w.info[t.Index], i)
}

// consumed counts live users holding skuID. Partner Center and /subscribedSkus ask once per sync,
// so counts for every SKU of the tenant are computed together and cached for the epoch.
func (w *world) consumed(t *Tenant, skuID string) int {
	if !w.own(t) {
		return 0
	}
	key := strings.ToLower(skuID)
	w.mu.RLock()
	ep := w.ep
	w.cacheMu.Lock()
	c, ok := w.consumedCache[t.Index]
	w.cacheMu.Unlock()
	if ok && c.epoch == ep {
		w.mu.RUnlock()
		return c.counts[key]
	}
	counts := w.countSkus(t, w.states[t.Index])
	w.mu.RUnlock()
	w.cacheMu.Lock()
	w.consumedCache[t.Index] = consumedEntry{epoch: ep, counts: counts}
	w.cacheMu.Unlock()
	return counts[key]
}

// countSkus is the brute-force count; called with the read lock held.
func (w *world) countSkus(t *Tenant, ts *tenantState) map[string]int {
	ti := &w.info[t.Index]
	counts := make(map[string]int, len(t.Skus))
	slots := ti.users
	if ts != nil {
		slots = ts.userSlots
	}
	for i := 0; i < slots; i++ {
		var st *userState
		if ts != nil {
			st = ts.users[i]
		}
		if st != nil && st.removed {
			continue
		}
		if st != nil && st.set&ovSkus != 0 {
			for _, s := range st.skus {
				counts[strings.ToLower(s)]++
			}
			continue
		}
		if ti.isGuest(i) {
			continue
		}
		for _, s := range t.Skus {
			if s.AssignEvery > 0 && i%s.AssignEvery == 0 {
				counts[strings.ToLower(s.SkuID)]++
			}
		}
	}
	return counts
}

// state returns the tenant's overlay, creating it; called with the write lock held.
func (w *world) state(i int) *tenantState {
	ts := w.states[i]
	if ts == nil {
		ts = &tenantState{userSlots: w.info[i].users, users: map[int]*userState{}, groups: map[int]*groupState{}}
		w.states[i] = ts
	}
	return ts
}

func (ts *tenantState) userEntry(i int) *userState {
	u := ts.users[i]
	if u == nil {
		u = &userState{version: 1}
		ts.users[i] = u
	}
	return u
}

func (ts *tenantState) groupEntry(i int) *groupState {
	g := ts.groups[i]
	if g == nil {
		g = &groupState{version: 1}
		ts.groups[i] = g
	}
	return g
}

// step mutates every live tenant. Each tenant draws its mutations from its own stream keyed by
// the epoch, so the outcome depends only on the scenario and the number of steps.
func (w *world) step() StepResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ep++
	res := StepResult{Epoch: w.ep}
	for i, t := range w.tenants {
		if t.Deleted {
			continue
		}
		w.stepTenant(t, &w.info[i], w.state(i), w.ep, &res)
	}
	return res
}

func (w *world) stepTenant(t *Tenant, ti *tenantInfo, ts *tenantState, e int, res *StepResult) {
	r := newRNG(ti.key, tagStep, uint64(e))
	before := ts.userSlots

	// Changes and removals only touch users that existed before this step and were not already
	// touched in it, so every touched user is counted exactly once in the StepResult.
	changes := r.between(2, 4)
	for k := 0; k < changes; k++ {
		i := w.pickUser(ts, &r, 0, before, e)
		if i < 0 {
			break
		}
		u := ts.userEntry(i)
		if w.changeUser(t, ti, i, u, &r) {
			res.LicencesReassigned++
		}
		u.version++
		u.changed = e
		res.UsersChanged++
	}

	// One removal, never user 0 (the tenant's first admin, and the demo's 250-alias user).
	if before-ts.removedUsers > 2 {
		if i := w.pickUser(ts, &r, 1, before, e); i >= 0 {
			u := ts.userEntry(i)
			u.removed = true
			u.version++
			u.changed = e
			ts.removedUsers++
			res.UsersRemoved++
			// Deleted users leave their groups: those groups changed too.
			for g := 0; g < ti.groups; g++ {
				if w.isMember(ti, ts, g, i) {
					w.touchGroup(ts, g, e, res)
				}
			}
		}
	}

	// One membership change: a live user joins or leaves a group.
	if ti.groups > 0 {
		g := r.intn(ti.groups)
		for try := 0; try < 8; try++ {
			i := r.intn(ts.userSlots)
			if u := ts.users[i]; ts.userSlots == 0 || (u != nil && u.removed) {
				continue
			}
			gs := ts.groupEntry(g)
			if gs.toggled == nil {
				gs.toggled = map[int]struct{}{}
			}
			if _, ok := gs.toggled[i]; ok {
				delete(gs.toggled, i)
			} else {
				gs.toggled[i] = struct{}{}
			}
			w.touchGroup(ts, g, e, res)
			break
		}
	}

	// New hires: the index space grows; the users are generated like the others.
	adds := r.between(1, 3)
	for k := 0; k < adds; k++ {
		i := ts.userSlots
		ts.userSlots++
		ts.users[i] = &userState{version: 1, changed: e, added: e}
		res.UsersAdded++
	}
}

func (w *world) touchGroup(ts *tenantState, g, e int, res *StepResult) {
	gs := ts.groupEntry(g)
	if gs.changed != e {
		res.GroupsChanged++
	}
	gs.version++
	gs.changed = e
}

// pickUser draws a live user in [lo, hi) not yet touched in epoch e, or -1.
func (w *world) pickUser(ts *tenantState, r *rng, lo, hi, e int) int {
	if hi <= lo {
		return -1
	}
	for try := 0; try < 16; try++ {
		i := lo + r.intn(hi-lo)
		if u := ts.users[i]; u != nil && (u.removed || u.changed == e) {
			continue
		}
		return i
	}
	return -1
}

// changeUser applies one HR-style change to u and reports whether it was a licence change.
func (w *world) changeUser(t *Tenant, ti *tenantInfo, i int, u *userState, r *rng) bool {
	kind := r.intn(3)
	guest := ti.isGuest(i)
	if kind == 2 && (guest || len(t.Skus) == 0) {
		kind = 0
	}
	tr := ti.traits(i)
	dept, title := departments[tr.dept].name, tr.title
	if u.set&ovDepartment != 0 {
		dept = u.department
	}
	if u.set&ovJobTitle != 0 {
		title = u.jobTitle
	}
	switch kind {
	case 0: // promotion or new role in the same department
		d := departmentByName(dept)
		nt := pick(r, d.titles)
		if nt == title {
			nt = d.titles[(indexOf(d.titles, nt)+1)%len(d.titles)]
		}
		u.jobTitle, u.set = nt, u.set|ovJobTitle
	case 1: // transfer
		d := departments[r.intn(len(departments))]
		if d.name == dept {
			d = departments[(departmentIndex(d.name)+1)%len(departments)]
		}
		u.department, u.jobTitle = d.name, pick(r, d.titles)
		u.set |= ovDepartment | ovJobTitle
	case 2: // licence added or removed
		cur := u.skus
		if u.set&ovSkus == 0 {
			cur = ti.baseSkus(t, i)
		}
		s := t.Skus[r.intn(len(t.Skus))].SkuID
		next := make([]string, 0, len(cur)+1)
		had := false
		for _, c := range cur {
			if strings.EqualFold(c, s) {
				had = true
				continue
			}
			next = append(next, c)
		}
		if !had {
			next = append(next, s)
		}
		u.skus, u.set = next, u.set|ovSkus
		return true
	}
	return false
}

func departmentIndex(name string) int {
	for i, d := range departments {
		if d.name == name {
			return i
		}
	}
	return 0
}

func departmentByName(name string) department { return departments[departmentIndex(name)] }

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return 0
}
