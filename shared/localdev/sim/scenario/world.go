package scenario

import (
	"slices"
	"strings"
	"time"
)

// World is a loaded scenario: the explicit and generated tenants, produced lazily, plus the
// mutations applied by Step. Safe for concurrent use.
type World struct {
	impl *world
}

// Tenant is one customer tenant at the current epoch.
type Tenant struct {
	Index          int
	ID             string
	DisplayName    string
	InitialDomain  string // x.onmicrosoft.com
	DefaultDomain  string // the custom domain if any, else the initial domain
	CSP            bool
	Consented      bool // initial consent state from the scenario (live state is in package directory)
	GrantedRoles   []string
	Premium        bool
	Intune         bool
	ConcealReports bool
	// SecurityDefaults and the usage-report anomalies: see TenantSpec.
	SecurityDefaults    bool
	ReportUnknownEvery  int
	ReportRedactedEvery int
	Deleted             bool
	Faults              Faults
	GDAP                []Relationship
	Skus                []Sku
	Created             time.Time

	w *World
}

// Relationship is a GDAP relationship between the partner and this tenant.
type Relationship struct {
	ID          string
	DisplayName string
	Status      string
	Roles       []string
	Created     time.Time
	Activated   time.Time
	EndDateTime time.Time
	// AutoExtendDuration is "P180D" when auto-extend is on, "PT0S" when off (Graph's values).
	AutoExtendDuration string
	Duration           string // e.g. "P730D"
	// SecurityGroupID is the partner security group of the access assignment.
	SecurityGroupID string
	// AssignedRoles are the access assignment's roles (a subset of Roles).
	AssignedRoles []string
}

// Active reports whether the relationship grants access at now (active, or expiring, before its end).
func (r Relationship) Active(now time.Time) bool {
	st := strings.ToLower(r.Status)
	return (st == "active" || st == "expiring") && (r.EndDateTime.IsZero() || r.EndDateTime.After(now))
}

// AgentRoles are the directory roles a GDAP agent (a member of the access assignments' security
// group) holds in this tenant at now: the roles of the access assignments of active relationships,
// not the relationships' role lists ("delegatedAdminAccessAssignment",
// https://learn.microsoft.com/graph/api/resources/delegatedadminaccessassignment).
func (t *Tenant) AgentRoles(now time.Time) []string {
	var out []string
	for _, r := range t.GDAP {
		if !r.Active(now) {
			continue
		}
		for _, id := range r.AssignedRoles {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// Sku is a subscribed SKU; Consumed is derived from the current user assignments.
type Sku struct {
	SkuID         string
	SkuPartNumber string
	Prepaid       int
	AssignEvery   int
}

// User is a user at the current epoch.
type User struct {
	Index              int
	ID                 string
	UserPrincipalName  string
	DisplayName        string
	GivenName          string
	Surname            string
	Mail               string
	ProxyAddresses     []string // "SMTP:primary", "smtp:alias", ...
	AccountEnabled     bool
	JobTitle           string
	Department         string
	MobilePhone        string
	BusinessPhones     []string
	OfficeLocation     string
	UsageLocation      string
	UserType           string // Member or Guest
	Created            time.Time
	LastPasswordChange time.Time
	LastSignIn         time.Time // zero: never
	AssignedSkuIDs     []string
	MFARegistered      bool
	MFACapable         bool
	MethodsRegistered  []string
	// PerUserMFA is the legacy per-user MFA state: disabled, enabled or enforced.
	PerUserMFA string
	// ReportUPN is the name usage reports show for the user's mailbox: the UPN, or an anomaly.
	ReportUPN           string
	IsAdmin             bool
	HasMailbox          bool
	MailboxStorageBytes int64
	MailboxItemCount    int64
	MailboxLastActivity time.Time
	Version             int // increments when the user changes (for delta)
}

// Group is a group at the current epoch.
type Group struct {
	Index           int
	ID              string
	DisplayName     string
	Description     string
	Mail            string
	MailEnabled     bool
	SecurityEnabled bool
	GroupTypes      []string // "Unified" for Microsoft 365 groups
	Created         time.Time
	MemberIndexes   []int // user indexes
	Version         int
}

// Device is an Intune managed device.
type Device struct {
	Index             int
	ID                string
	DeviceName        string
	OperatingSystem   string
	OSVersion         string
	ComplianceState   string // compliant, noncompliant, unknown
	ManagementAgent   string
	Manufacturer      string
	Model             string
	SerialNumber      string
	EnrolledDateTime  time.Time
	LastSyncDateTime  time.Time
	UserIndex         int // -1: no primary user
	UserID            string
	UserPrincipalName string
}

// Change is one object changed since an epoch: for delta queries.
type Change struct {
	Index   int
	Removed bool // deleted (Graph answers {"id":..., "@removed":{"reason":"deleted"}})
}

// StepResult summarises one mutation step.
type StepResult struct {
	Epoch                                  int
	UsersAdded, UsersChanged, UsersRemoved int
	GroupsChanged                          int
	LicencesReassigned                     int
}

// Load reads a scenario file, or a built-in scenario by name ("demo", "large", "storm").
func Load(nameOrPath string, now time.Time) (*World, error) { return load(nameOrPath, now) }

// New builds a world from a scenario. now anchors relative dates (GDAP end dates, creation times).
func New(f File, now time.Time) (*World, error) { return newWorld(f, now) }

// File returns the scenario as loaded.
func (w *World) File() File { return w.impl.file }

// Partner returns the partner tenant.
func (w *World) Partner() PartnerSpec { return w.impl.file.Partner }

// App returns the pre-registered app, or nil.
func (w *World) App() *AppSpec { return w.impl.file.App }

// Epoch is the number of Steps applied so far.
func (w *World) Epoch() int { return w.impl.epoch() }

// TenantCount is the number of customer tenants (explicit plus generated).
func (w *World) TenantCount() int { return w.impl.tenantCount() }

// TenantAt returns tenant i (0 <= i < TenantCount), or nil. Tenants are built once at load and
// shared: treat them as read-only.
func (w *World) TenantAt(i int) *Tenant { return w.impl.tenantAt(i) }

// Tenant finds a tenant by id or by one of its domains (case-insensitive). Deleted tenants are
// found too (check Deleted): the simulator answers AADSTS90002 for them.
func (w *World) Tenant(idOrDomain string) (*Tenant, bool) { return w.impl.tenant(idOrDomain) }

// Step applies one round of deterministic mutations to every tenant (users added, changed and
// removed; licences reassigned; group membership changed) and advances the epoch.
func (w *World) Step() StepResult { return w.impl.step() }

// UserSlots is the size of the user index space (users ever created, removed ones included).
func (t *Tenant) UserSlots() int { return t.w.impl.userSlots(t) }

// User returns user i; ok is false if it was removed or i is out of range. A removed user still
// carries its last state (ID, UPN), which delta responses need for "@removed".
func (t *Tenant) User(i int) (u User, ok bool) { return t.w.impl.user(t, i) }

// UserByID finds a live user by object id or user principal name (case-insensitive).
func (t *Tenant) UserByID(idOrUPN string) (User, bool) { return t.w.impl.userByID(t, idOrUPN) }

// UserChanges lists users added, changed or removed after epoch since, in index order. Epoch 0 is
// the loaded state, so UserChanges(0) is empty until the first Step.
func (t *Tenant) UserChanges(since int) []Change { return t.w.impl.userChanges(t, since) }

// GroupSlots, Group, GroupChanges: the same for groups.
func (t *Tenant) GroupSlots() int                   { return t.w.impl.groupSlots(t) }
func (t *Tenant) Group(i int) (Group, bool)         { return t.w.impl.group(t, i) }
func (t *Tenant) GroupByID(id string) (Group, bool) { return t.w.impl.groupByID(t, id) }
func (t *Tenant) GroupChanges(since int) []Change   { return t.w.impl.groupChanges(t, since) }

// DeviceCount and Device: Intune managed devices (present whatever the Intune flag; Graph
// answers 403 when the tenant has no Intune licence). Device out of range is the zero Device
// with UserIndex -1.
func (t *Tenant) DeviceCount() int    { return t.w.impl.deviceCount(t) }
func (t *Tenant) Device(i int) Device { return t.w.impl.device(t, i) }

// Consumed is the number of live users assigned sku.
func (t *Tenant) Consumed(skuID string) int { return t.w.impl.consumed(t, skuID) }
