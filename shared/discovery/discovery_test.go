package discovery_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Discovery through its entry point (Run): the real msgraph-sdk-go and the Partner Center client
// against the simulator over TLS, the Tenants table in an empty Azurite account per test.

// emptyStore is a store on an empty storage account of the shared Azurite.
func emptyStore(t *testing.T) *store.Store {
	t.Helper()
	acct, release, err := devenv.AcquireAccount(context.Background())
	if err != nil {
		t.Fatalf("discovery tests need Azurite: %v", err)
	}
	t.Cleanup(release)
	st, err := store.Open(config.Tables{ConnectionString: acct.ConnectionString()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// simWith starts the simulator with the demo partner and app and the given customer tenants.
func simWith(t *testing.T, now time.Time, tenants ...scenario.TenantSpec) *sim.Server {
	t.Helper()
	f := scenario.DemoFile(now)
	f.Name, f.Tenants = "discovery-test", tenants
	return sim.StartTest(t, f, now)
}

// discoverer is discovery as the handler wires it: the app's credentials, and Partner Center with
// an app-only token in the partner tenant.
func discoverer(t *testing.T, s *sim.Server, st *store.Store, now time.Time) *discovery.Discoverer {
	t.Helper()
	ep := s.Endpoints().Endpoints
	app := s.World.App()
	creds := &identity.AppCredentials{Mode: config.AuthSecret, ClientID: app.AppID, Secret: app.Secrets[0].Value, Endpoints: ep}
	hc, err := ep.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	pc := &pcclient.Client{BaseURL: ep.PartnerCenterURL, HTTP: hc, Token: func(ctx context.Context) (string, error) {
		cred, err := creds.For(scenario.DemoPartnerTenantID)
		if err != nil {
			return "", err
		}
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{ep.PartnerCenterAppScope()}})
		return tok.Token, err
	}}
	return &discovery.Discoverer{Store: st, Credentials: creds, Endpoints: ep, PartnerTenantID: scenario.DemoPartnerTenantID,
		PartnerCenter: pc, Now: func() time.Time { return now }, ProbeConcurrency: 3}
}

func spec(id string, mod func(*scenario.TenantSpec)) scenario.TenantSpec {
	s := scenario.TenantSpec{ID: id, DisplayName: "Tenant " + id[:8], Domain: "t" + id[:8] + ".onmicrosoft.com", Users: 2, Groups: 1}
	mod(&s)
	return s
}

var (
	roleGR  = scenario.RoleGlobalReader
	roleCAA = scenario.RoleCloudApplicationAdmin
	rolePRA = scenario.RolePrivilegedRoleAdmin
)

func active(endInDays int, autoExtend bool, roles ...string) scenario.RelationshipSpec {
	return scenario.RelationshipSpec{Status: "active", Roles: roles, EndInDays: endInDays, AutoExtend: autoExtend}
}

func flagCodes(fs []domain.Problem) []string {
	var out []string
	for _, f := range fs {
		if f.Message == "" || f.Remediation == "" {
			out = append(out, "incomplete:"+f.Code)
			continue
		}
		out = append(out, f.Code)
	}
	return out
}

// Run merges GDAP relationships and CSP customers into one row per tenant: its sources, the best
// relationship (active first, then the latest end) carrying the union of the active ones' roles,
// the flags an MSP must act on, and the consent found by probing for an app-only token. Tenants no
// source lists any more are marked missing (never deleted); exclusions and a pending consent link
// survive; the report counts what it found.
func TestRunMergesSourcesAndFlags(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	ids := map[string]string{}
	id := func(name string) string {
		if ids[name] == "" {
			ids[name] = uuid.NewString()
		}
		return ids[name]
	}
	full := []string{roleGR, roleCAA, rolePRA}
	s := simWith(t, now,
		spec(id("both"), func(s *scenario.TenantSpec) {
			s.CSP, s.Consented, s.GDAP = true, true, []scenario.RelationshipSpec{active(600, true, full...)}
		}),
		spec(id("merged"), func(s *scenario.TenantSpec) {
			s.Consented = true
			s.GDAP = []scenario.RelationshipSpec{{Status: "expired", Roles: []string{scenario.RoleUserAdmin}, EndInDays: -5},
				active(200, true, roleGR), active(100, true, roleCAA, rolePRA)}
		}),
		spec(id("cspOnly"), func(s *scenario.TenantSpec) { s.CSP = true }),
		// An expired relationship's roles are not in force: consent cannot go through it.
		spec(id("endedRoles"), func(s *scenario.TenantSpec) {
			s.Consented = true
			s.GDAP = []scenario.RelationshipSpec{{Status: "expired", Roles: []string{roleCAA, rolePRA}, EndInDays: -5}, active(300, true, roleGR)}
		}),
		spec(id("expiring"), func(s *scenario.TenantSpec) {
			s.Consented, s.GDAP = true, []scenario.RelationshipSpec{active(10, false, full...)}
		}),
		spec(id("missingRoles"), func(s *scenario.TenantSpec) {
			s.Consented, s.GDAP = true, []scenario.RelationshipSpec{active(300, true, roleGR)}
		}),
		spec(id("assignedLess"), func(s *scenario.TenantSpec) {
			r := active(300, true, full...)
			r.AssignedRoles = []string{roleGR, roleCAA}
			s.Consented, s.GDAP = true, []scenario.RelationshipSpec{r}
		}),
		spec(id("ended"), func(s *scenario.TenantSpec) {
			s.Consented, s.GDAP = true, []scenario.RelationshipSpec{{Status: "terminated", Roles: full, EndInDays: -1}}
		}),
		spec(id("pending"), func(s *scenario.TenantSpec) {
			s.Consented, s.GDAP = true, []scenario.RelationshipSpec{{Status: "approvalPending", Roles: full, EndInDays: 700}}
		}),
		spec(id("tokenFails"), func(s *scenario.TenantSpec) {
			s.Consented, s.GDAP = true, []scenario.RelationshipSpec{active(600, true, full...)}
			s.Faults = &scenario.Faults{TokenError: "65001"}
		}),
		spec(id("pendingLink"), func(s *scenario.TenantSpec) { s.GDAP = []scenario.RelationshipSpec{active(600, true, roleGR)} }),
		spec(id("excluded"), func(s *scenario.TenantSpec) { s.GDAP = []scenario.RelationshipSpec{active(600, true, full...)} }),
		spec(id("back"), func(s *scenario.TenantSpec) { s.CSP, s.Consented = true, true }),
	)
	st := emptyStore(t)
	if err := st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	// What earlier discoveries and MSP actions left in the table.
	for name, tn := range map[string]domain.Tenant{
		"pendingLink": {Consent: domain.Consent{State: domain.ConsentPending, Method: "link"}, Sync: domain.SyncStatus{State: domain.SyncNever}},
		"excluded":    {Excluded: true, Consent: domain.Consent{State: domain.ConsentNone}, Sync: domain.SyncStatus{State: domain.SyncNever}},
		"back": {DisplayName: "Old name", Missing: true, MissingAt: now.Add(-48 * time.Hour), Consent: domain.Consent{State: domain.ConsentConsented, Method: "cpv+roles"},
			Sync: domain.SyncStatus{State: domain.SyncSucceeded}},
		"gone":      {DisplayName: "Gone Ltd", Sources: []string{"gdap"}, Consent: domain.Consent{State: domain.ConsentConsented}, Sync: domain.SyncStatus{State: domain.SyncSucceeded}},
		"stillGone": {DisplayName: "Long Gone", Missing: true, MissingAt: now.Add(-time.Hour), Consent: domain.Consent{State: domain.ConsentNone}, Sync: domain.SyncStatus{State: domain.SyncNever}},
	} {
		tn.TenantID = id(name)
		if err := st.UpsertTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	d := discoverer(t, s, st, now)
	rep, err := d.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Found != 13 || rep.New != 10 || rep.Missing != 2 || rep.Consented != 9 || rep.NotConsented != 3 ||
		rep.Sources["gdap"] != 11 || rep.Sources["csp"] != 3 || len(rep.Warnings) != 0 {
		t.Errorf("report %+v, want found 13, new 10, missing 2, consented 9, not consented 3, sources gdap 11 csp 3, no warnings", rep)
	}
	get := func(name string) domain.Tenant {
		t.Helper()
		tn, err := st.GetTenant(ctx, id(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return tn
	}

	type want struct {
		sources []string
		status  string
		flags   []string
		consent string
	}
	for name, w := range map[string]want{
		"both":         {[]string{"csp", "gdap"}, "active", nil, domain.ConsentConsented},
		"merged":       {[]string{"gdap"}, "active", nil, domain.ConsentConsented},
		"cspOnly":      {[]string{"csp"}, "", nil, domain.ConsentNone},
		"expiring":     {[]string{"gdap"}, "active", []string{"relationshipExpiring"}, domain.ConsentConsented},
		"missingRoles": {[]string{"gdap"}, "active", []string{"missingRoles"}, domain.ConsentConsented},
		"endedRoles":   {[]string{"gdap"}, "active", []string{"missingRoles"}, domain.ConsentConsented},
		"assignedLess": {[]string{"gdap"}, "active", nil, domain.ConsentConsented},
		"ended":        {[]string{"gdap"}, "terminated", []string{"relationshipEnded"}, domain.ConsentConsented},
		"pending":      {[]string{"gdap"}, "approvalPending", []string{"relationshipPending"}, domain.ConsentConsented},
		"tokenFails":   {[]string{"gdap"}, "active", nil, domain.ConsentFailed},
		"pendingLink":  {[]string{"gdap"}, "active", []string{"missingRoles"}, domain.ConsentPending},
		"excluded":     {[]string{"gdap"}, "active", nil, domain.ConsentNone},
		"back":         {[]string{"csp"}, "", nil, domain.ConsentConsented},
	} {
		tn := get(name)
		if !slices.Equal(tn.Sources, w.sources) || tn.Relationship.Status != w.status || !slices.Equal(flagCodes(tn.Flags), w.flags) || tn.Consent.State != w.consent || tn.Missing {
			t.Errorf("%s: sources %v relationship %q flags %v consent %q missing %v; want %v %q %v %q, not missing",
				name, tn.Sources, tn.Relationship.Status, flagCodes(tn.Flags), tn.Consent.State, tn.Missing, w.sources, w.status, w.flags, w.consent)
		}
		if tn.DisplayName != "Tenant "+id(name)[:8] {
			t.Errorf("%s: display name %q, want the name the sources give", name, tn.DisplayName)
		}
	}

	// The best relationship of several: the active one ending last, with every active one's roles
	// (not the expired one's).
	m := get("merged")
	if !slices.Equal(m.Relationship.Roles, sorted(roleGR, roleCAA, rolePRA)) || !m.Relationship.AutoExtend ||
		m.Relationship.EndDateTime.Sub(now.AddDate(0, 0, 200)).Abs() > 24*time.Hour || m.Relationship.ID == "" {
		t.Errorf("merged relationship %+v, want active, ending in 200 days, roles of both active ones", m.Relationship)
	}
	if !m.Relationship.AccessChecked || !slices.Equal(m.Relationship.AssignedRoles, sorted(roleGR, roleCAA, rolePRA)) {
		t.Errorf("merged access %v %v, want both active relationships' assignments read", m.Relationship.AccessChecked, m.Relationship.AssignedRoles)
	}
	if e := get("expiring").Flags[0].Message; !strings.Contains(e, now.AddDate(0, 0, 10).Format("2006-01-02")) {
		t.Errorf("expiring flag %q should name the end date", e)
	}
	if c := get("both").Consent; c.Method != "existing" || !c.UpdatedAt.Equal(now) {
		t.Errorf("both consent %+v: found consented by the probe, method existing", c)
	}
	if c := get("tokenFails").Consent; !strings.Contains(c.Error, "AADSTS65001") {
		t.Errorf("tokenFails consent error %q, want the token endpoint's code", c.Error)
	}
	if c := get("cspOnly").Consent; !strings.Contains(c.Error, "AADSTS7000229") && !strings.Contains(c.Error, "AADSTS90099") {
		t.Errorf("cspOnly consent error %q, want the 'no service principal' code", c.Error)
	}
	if x := get("excluded"); !x.Excluded || x.Consent.Error != "" {
		t.Errorf("excluded tenant %+v: still excluded and not probed", x)
	}
	if b := get("back"); b.Missing || !b.MissingAt.IsZero() || b.Consent.Method != "cpv+roles" {
		t.Errorf("back %+v: found again, so no longer missing, consent kept", b)
	}
	for _, name := range []string{"gone", "stillGone"} {
		g := get(name)
		if !g.Missing || g.MissingAt.IsZero() {
			t.Errorf("%s: missing %v since %v, want marked missing (kept, not deleted)", name, g.Missing, g.MissingAt)
		}
	}
	if g := get("gone"); !g.MissingAt.Equal(now) || !slices.Equal(flagCodes(g.Flags), []string{"notFound"}) {
		t.Errorf("gone: missing since %v flags %v, want now and notFound", g.MissingAt, flagCodes(g.Flags))
	}

	// Access checks: the roles in force predict the consent path.
	paths := map[string]discovery.Access{}
	for _, a := range rep.Access {
		paths[a.TenantID] = a
	}
	if !slices.IsSortedFunc(rep.Access, func(a, b discovery.Access) int { return strings.Compare(a.TenantID, b.TenantID) }) {
		t.Error("access checks not sorted by tenant")
	}
	for name, want := range map[string]string{"both": discovery.PathCPVRoles, "merged": discovery.PathCPVRoles, "missingRoles": discovery.PathLink, "endedRoles": discovery.PathLink, "assignedLess": discovery.PathGDAP} {
		// Cloud Application Administrator + Global Reader without Privileged Role Administrator:
		// the gdap path (delegated sync), whose fix says how to reach app-only access.
		a, ok := paths[id(name)]
		if !ok || a.Path != want || (want != discovery.PathCPVRoles) != (a.Fix != "") {
			t.Errorf("%s access %+v (checked %v), want path %s", name, a, ok, want)
		}
	}
	if a := paths[id("assignedLess")]; !slices.Equal(a.RolesInForce, []string{"Cloud Application Administrator", "Global Reader"}) || !strings.Contains(a.Fix, "Privileged Role Administrator") || strings.Contains(a.Fix, "Cloud Application Administrator") {
		t.Errorf("assignedLess access %+v: the access assignment's roles are in force, the fix names only what is missing", a)
	}
	for _, name := range []string{"ended", "pending", "cspOnly"} {
		if _, ok := paths[id(name)]; ok {
			t.Errorf("%s has an access check without an active relationship", name)
		}
	}

	// A second run finds nothing new and does not flag the missing twice.
	rep2, err := d.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Found != 13 || rep2.New != 0 || rep2.Missing != 2 {
		t.Errorf("second report %+v, want found 13, new 0, missing 2", rep2)
	}
	if g := get("gone"); len(g.Flags) != 1 || !g.MissingAt.Equal(now) {
		t.Errorf("gone after a second run: flags %v since %v, want one notFound since the first", flagCodes(g.Flags), g.MissingAt)
	}
}

func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

// Without Partner Center (not connected) or when it fails, discovery still merges GDAP and says in
// a warning what was left out and what to do.
func TestPartnerCenterUnavailable(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	gdapOnly, cspOnly := uuid.NewString(), uuid.NewString()
	s := simWith(t, now,
		spec(gdapOnly, func(s *scenario.TenantSpec) {
			s.Consented, s.GDAP = true, []scenario.RelationshipSpec{active(600, true, roleGR, roleCAA)}
		}),
		spec(cspOnly, func(s *scenario.TenantSpec) { s.CSP, s.Consented = true, true }))
	cases := map[string]struct {
		pc   func(*discovery.Discoverer)
		want string
	}{
		"not connected": {func(d *discovery.Discoverer) { d.PartnerCenter = nil }, "connect the partner account"},
		"token refused": {func(d *discovery.Discoverer) {
			d.PartnerCenter.Token = func(context.Context) (string, error) {
				return "", errors.New("AADSTS700082: the refresh token has expired")
			}
		}, "Partner Center customers: "},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			st := emptyStore(t)
			d := discoverer(t, s, st, now)
			c.pc(d)
			rep, err := d.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], c.want) {
				t.Errorf("warnings %q, want one containing %q", rep.Warnings, c.want)
			}
			if rep.Found != 1 || rep.Sources["csp"] != 0 || rep.Sources["gdap"] != 1 {
				t.Errorf("report %+v, want the GDAP tenant only", rep)
			}
			if _, err := st.GetTenant(ctx, cspOnly); !store.IsNotFound(err) {
				t.Errorf("CSP-only tenant stored (%v) without Partner Center", err)
			}
		})
	}
}

// noCreds is a credential source that has nothing for any tenant.
type noCreds struct{ err error }

func (c noCreds) For(string) (azcore.TokenCredential, error) { return nil, c.err }

// Without GDAP relationships (the partner tenant's credential fails), discovery fails as a whole
// rather than mark every tenant missing.
func TestGDAPFailureFailsTheRun(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	known := uuid.NewString()
	s := simWith(t, now, spec(known, func(s *scenario.TenantSpec) { s.GDAP = []scenario.RelationshipSpec{active(600, true, roleGR)} }))
	st := emptyStore(t)
	if err := st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertTenant(ctx, domain.Tenant{TenantID: known, Consent: domain.Consent{State: domain.ConsentConsented}, Sync: domain.SyncStatus{State: domain.SyncSucceeded}}); err != nil {
		t.Fatal(err)
	}
	d := discoverer(t, s, st, now)
	boom := errors.New("APP_CERTIFICATE: no certificate")
	d.Credentials = noCreds{boom}
	rep, err := d.Run(ctx)
	if !errors.Is(err, boom) || rep != nil || !strings.Contains(err.Error(), "GDAP relationships") {
		t.Fatalf("Run: %+v %v, want the credential error naming GDAP", rep, err)
	}
	if tn, err := st.GetTenant(ctx, known); err != nil || tn.Missing {
		t.Errorf("tenant %+v (%v): a failed discovery marks nothing missing", tn, err)
	}
}

// Path predicts the consent path from the roles in force: Partner Center consent needs an
// application administrator role (or Global Administrator), assigning Graph app roles needs
// Privileged Role Administrator (or Global Administrator).
func TestPath(t *testing.T) {
	cases := []struct {
		roles   []string
		path    string
		missing []string
	}{
		{[]string{roleCAA, rolePRA}, discovery.PathCPVRoles, nil},
		{[]string{discovery.RoleApplicationAdmin, rolePRA, roleGR}, discovery.PathCPVRoles, nil},
		{[]string{discovery.RoleGlobalAdmin}, discovery.PathCPVRoles, nil},
		{[]string{roleCAA}, discovery.PathLink, []string{"Privileged Role Administrator"}},
		{[]string{rolePRA}, discovery.PathLink, []string{"Cloud Application Administrator"}},
		{[]string{roleGR}, discovery.PathLink, []string{"Cloud Application Administrator", "Privileged Role Administrator"}},
		{nil, discovery.PathLink, []string{"Cloud Application Administrator", "Privileged Role Administrator"}},
	}
	for _, c := range cases {
		path, missing := discovery.Path(c.roles)
		if path != c.path || !slices.Equal(missing, c.missing) {
			t.Errorf("Path(%v) = %s %v, want %s %v", c.roles, path, missing, c.path, c.missing)
		}
	}
}
