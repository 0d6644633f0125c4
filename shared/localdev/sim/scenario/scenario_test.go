package scenario

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustLoad(t testing.TB, name string) *World {
	t.Helper()
	w, err := Load(name, testNow)
	if err != nil {
		t.Fatalf("Load(%q): %v", name, err)
	}
	return w
}

// tenantView drops the world pointer so tenants of two worlds compare.
func tenantView(t *Tenant) Tenant {
	c := *t
	c.w = nil
	return c
}

func allUsers(t *Tenant) (live map[int]User, removed map[int]User) {
	live, removed = map[int]User{}, map[int]User{}
	for i := 0; i < t.UserSlots(); i++ {
		u, ok := t.User(i)
		if ok {
			live[i] = u
		} else {
			removed[i] = u
		}
	}
	return live, removed
}

func TestDeterminism(t *testing.T) {
	for _, name := range []string{"demo", "large"} {
		t.Run(name, func(t *testing.T) {
			a, b := mustLoad(t, name), mustLoad(t, name)
			if a.TenantCount() != b.TenantCount() {
				t.Fatalf("tenant counts %d, %d", a.TenantCount(), b.TenantCount())
			}
			step := 1
			if name == "large" {
				step = 97 // a sample is enough to catch map-order or global-state dependence
			}
			check := func() {
				for i := 0; i < a.TenantCount(); i += step {
					ta, tb := a.TenantAt(i), b.TenantAt(i)
					if !reflect.DeepEqual(tenantView(ta), tenantView(tb)) {
						t.Fatalf("tenant %d differs:\n%+v\n%+v", i, tenantView(ta), tenantView(tb))
					}
					if ta.UserSlots() != tb.UserSlots() {
						t.Fatalf("tenant %d: slots %d vs %d", i, ta.UserSlots(), tb.UserSlots())
					}
					for j := 0; j < ta.UserSlots(); j++ {
						ua, oka := ta.User(j)
						ub, okb := tb.User(j)
						if oka != okb || !reflect.DeepEqual(ua, ub) {
							t.Fatalf("tenant %d user %d differs:\n%+v\n%+v", i, j, ua, ub)
						}
					}
					for j := 0; j < ta.GroupSlots(); j++ {
						ga, _ := ta.Group(j)
						gb, _ := tb.Group(j)
						if !reflect.DeepEqual(ga, gb) {
							t.Fatalf("tenant %d group %d differs", i, j)
						}
					}
					for j := 0; j < ta.DeviceCount(); j++ {
						if !reflect.DeepEqual(ta.Device(j), tb.Device(j)) {
							t.Fatalf("tenant %d device %d differs", i, j)
						}
					}
					if !reflect.DeepEqual(ta.UserChanges(0), tb.UserChanges(0)) || !reflect.DeepEqual(ta.GroupChanges(0), tb.GroupChanges(0)) {
						t.Fatalf("tenant %d: changes differ", i)
					}
				}
			}
			check()
			for k := 0; k < 2; k++ {
				ra, rb := a.Step(), b.Step()
				if ra != rb {
					t.Fatalf("step %d: %+v vs %+v", k+1, ra, rb)
				}
			}
			check()
		})
	}
}

func TestUsersReadInAnyOrderAreTheSame(t *testing.T) {
	w := mustLoad(t, "demo")
	tn := w.TenantAt(2)
	forward := map[int]User{}
	for i := 0; i < tn.UserSlots(); i++ {
		forward[i], _ = tn.User(i)
	}
	for i := tn.UserSlots() - 1; i >= 0; i-- {
		u, _ := tn.User(i)
		if !reflect.DeepEqual(u, forward[i]) {
			t.Fatalf("user %d depends on generation order", i)
		}
	}
}

func TestSeedChangesData(t *testing.T) {
	f := DemoFile(testNow)
	a, err := New(f, testNow)
	if err != nil {
		t.Fatal(err)
	}
	f.Seed++
	b, err := New(f, testNow)
	if err != nil {
		t.Fatal(err)
	}
	ua, _ := a.TenantAt(0).User(1)
	ub, _ := b.TenantAt(0).User(1)
	if ua.ID == ub.ID || ua.UserPrincipalName == ub.UserPrincipalName && ua.JobTitle == ub.JobTitle && ua.Created == ub.Created {
		t.Fatalf("seed does not reach user generation: %s %s", ua.ID, ub.ID)
	}
}

func TestLargeIsLazy(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := mustLoad(t, "large")
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("loading large allocated %.2f MB", float64(allocated)/1e6)
	if allocated > 10<<20 {
		t.Fatalf("loading large allocated %d bytes; users must be generated on demand", allocated)
	}
	if w.TenantCount() != 1000 {
		t.Fatalf("TenantCount = %d", w.TenantCount())
	}
	total := 0
	for i := 0; i < w.TenantCount(); i++ {
		n := w.TenantAt(i).UserSlots()
		if n < 100 || n > 300 {
			t.Fatalf("tenant %d has %d users, want 100..300", i, n)
		}
		total += n
	}
	if total < 180_000 || total > 220_000 {
		t.Fatalf("large has %d users, want about 200,000", total)
	}

	tn := w.TenantAt(999)
	want := 250 < tn.UserSlots()
	if _, ok := tn.User(250); ok != want {
		t.Fatalf("tenant 999 user 250: ok=%v with %d slots", ok, tn.UserSlots())
	}
	// Touching one user costs that user only.
	allocs := testing.AllocsPerRun(20, func() { tn.User(100) })
	if allocs > 80 {
		t.Fatalf("User(i) makes %v allocations", allocs)
	}
	runtime.GC()
	var touched runtime.MemStats
	runtime.ReadMemStats(&touched)
	for i := 0; i < w.TenantCount(); i++ {
		w.TenantAt(i).User(0)
	}
	runtime.GC()
	var after2 runtime.MemStats
	runtime.ReadMemStats(&after2)
	if after2.HeapAlloc > touched.HeapAlloc+1<<20 {
		t.Fatalf("reading users retained %d bytes", after2.HeapAlloc-touched.HeapAlloc)
	}
	runtime.KeepAlive(w)
}

func TestLargeGeneratedTenants(t *testing.T) {
	w := mustLoad(t, "large")
	n := float64(w.TenantCount())
	var premium, intune, conceal, consented, csp, expiring, standard, custom int
	for i := 0; i < w.TenantCount(); i++ {
		tn := w.TenantAt(i)
		if !strings.HasSuffix(tn.InitialDomain, ".onmicrosoft.com") || !strings.Contains(tn.DisplayName, fmt.Sprintf("%04d", i)) {
			t.Fatalf("tenant %d: name %q domain %q", i, tn.DisplayName, tn.InitialDomain)
		}
		if tn.DefaultDomain != tn.InitialDomain {
			custom++
		}
		if tn.Premium {
			premium++
		}
		if tn.Intune {
			intune++
		}
		if tn.ConcealReports {
			conceal++
		}
		if tn.Consented {
			consented++
		}
		if tn.CSP {
			csp++
		}
		if len(tn.GDAP) != 1 || len(tn.Skus) == 0 || tn.GroupSlots() < 3 || tn.DeviceCount() == 0 {
			t.Fatalf("tenant %d: gdap %d skus %d groups %d devices %d", i, len(tn.GDAP), len(tn.Skus), tn.GroupSlots(), tn.DeviceCount())
		}
		// subscribedSkus lists each SKU once: a duplicate row was rewritten on every sync.
		seenSku := map[string]bool{}
		for _, k := range tn.Skus {
			if seenSku[k.SkuPartNumber] {
				t.Fatalf("tenant %d lists %s twice", i, k.SkuPartNumber)
			}
			seenSku[k.SkuPartNumber] = true
		}
		r := tn.GDAP[0]
		if r.Status == "active" && reflect.DeepEqual(r.Roles, standardRoles) {
			standard++
			if r.EndDateTime.Sub(testNow) < 30*day {
				expiring++
			}
		}
		if _, err := uuid.Parse(tn.ID); err != nil {
			t.Fatalf("tenant %d id %q", i, tn.ID)
		}
	}
	frac := func(k int) float64 { return float64(k) / n }
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"premium", frac(premium), .5}, {"intune", frac(intune), .6}, {"conceal", frac(conceal), .1},
		{"consented", frac(consented), .95}, {"csp", frac(csp), .7},
	} {
		if c.got < c.want-0.05 || c.got > c.want+0.05 {
			t.Errorf("%s fraction %.3f, want about %.2f", c.name, c.got, c.want)
		}
	}
	if frac(standard) < 0.8 || expiring < 20 || expiring > 150 {
		t.Errorf("GDAP: %d active with the standard roles, %d expiring within 30 days", standard, expiring)
	}
	if custom == 0 {
		t.Error("no generated tenant has a custom domain")
	}
}

func TestTenantLookup(t *testing.T) {
	w := mustLoad(t, "demo")
	cases := map[string]string{
		DemoContosoDental:                         DemoContosoDental,
		strings.ToUpper(DemoContosoDental):        DemoContosoDental,
		"contosodental.onmicrosoft.com":           DemoContosoDental,
		"ContosoDental.com":                       DemoContosoDental,
		"  fabrikamlegal.com ":                    DemoFabrikamLegal,
		"FOURTHCOFFEE.onmicrosoft.com":            DemoFourthCoffee,
		DemoBlueYonderAirlines:                    DemoBlueYonderAirlines,
		"blueyonderairlines.onmicrosoft.com":      DemoBlueYonderAirlines,
		"00000000-0000-0000-0000-000000000000":    "",
		"nosuchtenant.onmicrosoft.com":            "",
		DemoPartnerTenantID:                       "", // the partner is not a customer
		"":                                        "",
		"contosodental":                           "",
		"wideworldimporters.onmicrosoft.com.evil": "",
	}
	for key, want := range cases {
		tn, ok := w.Tenant(key)
		if want == "" {
			if ok {
				t.Errorf("Tenant(%q) found %s", key, tn.DisplayName)
			}
			continue
		}
		if !ok || tn.ID != want {
			t.Errorf("Tenant(%q) = %v, %v; want %s", key, tn, ok, want)
		}
	}

	l := mustLoad(t, "large")
	for _, i := range []int{0, 1, 500, 999} {
		tn := l.TenantAt(i)
		for _, key := range []string{tn.ID, strings.ToUpper(tn.InitialDomain), tn.DefaultDomain} {
			if got, ok := l.Tenant(key); !ok || got != tn {
				t.Errorf("large: Tenant(%q) did not find tenant %d", key, i)
			}
		}
	}
	if l.TenantAt(-1) != nil || l.TenantAt(1000) != nil {
		t.Error("TenantAt out of range returned a tenant")
	}
}

func TestDemoScenario(t *testing.T) {
	w := mustLoad(t, "demo")
	p := w.Partner()
	if p.TenantID != DemoPartnerTenantID || p.DisplayName != "Contoso MSP" {
		t.Fatalf("partner %+v", p)
	}
	users := map[string]PartnerUserSpec{}
	for _, u := range p.Users {
		users[strings.Split(u.UPN, "@")[0]] = u
	}
	if !users["svc-tenantsync"].MFA || !users["admin"].MFA || users["nomfa"].MFA || users["blocked"].SignInError != "53003" {
		t.Fatalf("partner users %+v", p.Users)
	}
	app := w.App()
	if app == nil || app.AppID != "7d1f3b52-4c1e-4a6b-9f3e-2b8c6d0a9e11" || app.DisplayName != "tenantsync" {
		t.Fatalf("app %+v", app)
	}
	if len(app.Secrets) != 1 || app.Secrets[0].Value == "" || app.Secrets[0].KeyID == "" ||
		!app.Secrets[0].EndDateTime.Equal(testNow.AddDate(1, 0, 0)) {
		t.Fatalf("secrets %+v", app.Secrets)
	}
	if !reflect.DeepEqual(app.RedirectURIs, []string{"http://localhost:7071/api/connect/callback", "http://localhost:7071/api/consent/callback", "http://localhost:7071/.auth/login/aad/callback"}) {
		t.Fatalf("redirect URIs %v", app.RedirectURIs)
	}
	for _, perm := range []string{"User.Read.All", "Group.Read.All", "Directory.Read.All", "Organization.Read.All", "Domain.Read.All",
		"DeviceManagementManagedDevices.Read.All", "Reports.Read.All", "ReportSettings.Read.All", "AuditLog.Read.All",
		"UserAuthenticationMethod.Read.All"} {
		if !contains(app.Roles, perm) {
			t.Errorf("app roles lack %s", perm)
		}
	}
	// What a customer's consent grants is read-only: Mail.Send and the GDAP read are partner-only.
	for _, perm := range []string{"Mail.Send", "DelegatedAdminRelationship.Read.All"} {
		if contains(app.Roles, perm) {
			t.Errorf("the app is configured with %s, which a customer's consent would grant", perm)
		}
	}

	if n := w.TenantCount(); n != 14 {
		t.Fatalf("demo has %d tenants", n)
	}
	get := func(id string) *Tenant {
		tn, ok := w.Tenant(id)
		if !ok {
			t.Fatalf("tenant %s missing", id)
		}
		return tn
	}
	hasRole := func(tn *Tenant, role string) bool { return len(tn.GDAP) > 0 && contains(tn.GDAP[0].Roles, role) }

	cd := get(DemoContosoDental)
	if !cd.Consented || !cd.Premium || !cd.Intune || !cd.CSP || cd.ConcealReports || cd.GDAP[0].Status != "active" ||
		!hasRole(cd, RoleGlobalReader) || !hasRole(cd, RoleCloudApplicationAdmin) || !hasRole(cd, RoleUserAdmin) || !hasRole(cd, RoleLicenseAdmin) ||
		cd.GDAP[0].AutoExtendDuration != "P180D" || cd.GDAP[0].Duration != "P730D" {
		t.Errorf("Contoso Dental not healthy: %+v", tenantView(cd))
	}
	u0, _ := cd.User(0)
	if len(u0.ProxyAddresses) != 250 || !strings.HasPrefix(u0.ProxyAddresses[0], "SMTP:") || !u0.HasMailbox {
		t.Errorf("Contoso Dental user 0 has %d proxy addresses", len(u0.ProxyAddresses))
	}
	seen := map[string]bool{}
	for _, a := range u0.ProxyAddresses {
		if seen[strings.ToLower(a)] {
			t.Errorf("duplicate proxy address %s", a)
		}
		seen[strings.ToLower(a)] = true
	}
	if u1, _ := cd.User(1); len(u1.ProxyAddresses) > 3 {
		t.Errorf("user 1 has %d proxy addresses", len(u1.ProxyAddresses))
	}

	if f := get(DemoFabrikamLegal); f.Premium || !f.Consented {
		t.Error("Fabrikam Legal should lack premium")
	}
	if n := get(DemoNorthwindTraders); n.Intune || !n.Consented {
		t.Error("Northwind Traders should lack Intune")
	}
	if tt := get(DemoTailspinToys); !tt.ConcealReports || !tt.Consented {
		t.Error("Tailspin Toys should conceal reports")
	}
	if wb := get(DemoWoodgroveBank); wb.Consented || wb.GDAP[0].Status != "active" || !hasRole(wb, RoleCloudApplicationAdmin) || !hasRole(wb, RolePrivilegedRoleAdmin) {
		t.Error("Woodgrove Bank should be unconsented with Cloud Application Administrator and Privileged Role Administrator (the cpv+roles path)")
	}
	if aw := get(DemoAdventureWorks); aw.Consented || aw.GDAP[0].Status != "active" || !reflect.DeepEqual(aw.GDAP[0].Roles, []string{RoleGlobalReader}) {
		t.Error("Adventure Works should be unconsented with Global Reader only")
	}
	if lw := get(DemoLitware); lw.Faults.ThrottleEvery != 3 || lw.Faults.RetryAfter != "0.5" || !lw.Consented {
		t.Errorf("Litware faults %+v", lw.Faults)
	}
	if pw := get(DemoProseware); pw.Faults.UnavailableEvery != 4 || pw.Faults.RetryAfter != "1" || pw.Faults.LatencyMs != 20 {
		t.Errorf("Proseware faults %+v", pw.Faults)
	}
	ww := get(DemoWideWorldImporters)
	if r := ww.GDAP[0]; r.Status != "active" || r.AutoExtendDuration != "PT0S" || !r.EndDateTime.Equal(testNow.Add(10*day)) {
		t.Errorf("Wide World Importers GDAP %+v", r)
	}
	if as := get(DemoAlpineSkiHouse); as.Consented || as.GDAP[0].Status != "terminated" || !as.GDAP[0].EndDateTime.Before(testNow) {
		t.Errorf("Alpine Ski House %+v", tenantView(as))
	}
	if by := get(DemoBlueYonderAirlines); !by.Deleted {
		t.Error("Blue Yonder Airlines should be deleted")
	}
	if cw := get(DemoCohoWinery); len(cw.GDAP) != 0 || !cw.CSP || !cw.Consented || !cw.Faults.ExpireDeltaTokens {
		t.Errorf("Coho Winery %+v", tenantView(cw))
	}
	if fc := get(DemoFourthCoffee); fc.Faults.TokenError != "65001" || !fc.Consented {
		t.Errorf("Fourth Coffee %+v", fc.Faults)
	}
	// Faults are only where the table says: the others are clean.
	for i := 0; i < w.TenantCount(); i++ {
		tn := w.TenantAt(i)
		if n := tn.UserSlots(); n < 10 || n > 40 {
			t.Errorf("%s has %d users", tn.DisplayName, n)
		}
		switch tn.ID {
		case DemoLitware, DemoProseware, DemoCohoWinery, DemoFourthCoffee, DemoFabrikamLegal:
		default:
			if !reflect.DeepEqual(tn.Faults, Faults{}) {
				t.Errorf("%s has faults %+v", tn.DisplayName, tn.Faults)
			}
		}
		for _, r := range tn.GDAP {
			if r.Status != "approvalPending" && (r.Activated.IsZero() || !r.Activated.Before(testNow) || !r.Created.Before(r.Activated)) {
				t.Errorf("%s relationship dates: created %v activated %v", tn.DisplayName, r.Created, r.Activated)
			}
			if !strings.HasSuffix(r.ID, "-"+tn.ID) || len(r.ID) != 73 || r.DisplayName == "" || len(r.DisplayName) > 50 || r.SecurityGroupID == "" {
				t.Errorf("%s relationship id %q name %q", tn.DisplayName, r.ID, r.DisplayName)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestUserFields(t *testing.T) {
	w := mustLoad(t, "large")
	var n, mfa, guests, admins, enabled, mailboxes, neverSignedIn int
	for ti := 0; ti < w.TenantCount(); ti += 50 {
		tn := w.TenantAt(ti)
		ids, upns := map[string]bool{}, map[string]bool{}
		for i := 0; i < tn.UserSlots(); i++ {
			u, ok := tn.User(i)
			if !ok || u.Index != i {
				t.Fatalf("%s user %d: ok=%v index %d", tn.DisplayName, i, ok, u.Index)
			}
			n++
			if _, err := uuid.Parse(u.ID); err != nil || ids[u.ID] {
				t.Fatalf("user id %q invalid or duplicate", u.ID)
			}
			ids[u.ID] = true
			if upns[strings.ToLower(u.UserPrincipalName)] {
				t.Fatalf("%s: duplicate UPN %s", tn.DisplayName, u.UserPrincipalName)
			}
			upns[strings.ToLower(u.UserPrincipalName)] = true
			if u.DisplayName != u.GivenName+" "+u.Surname || u.Version != 1 {
				t.Fatalf("user %+v", u)
			}
			switch u.UserType {
			case "Guest":
				guests++
				if !strings.Contains(u.UserPrincipalName, "#EXT#@"+tn.InitialDomain) || len(u.AssignedSkuIDs) != 0 || u.HasMailbox || u.MFARegistered {
					t.Fatalf("guest %+v", u)
				}
			case "Member":
				if u.UserPrincipalName != u.Mail || !strings.HasSuffix(u.UserPrincipalName, "@"+tn.DefaultDomain) || u.UsageLocation == "" || u.JobTitle == "" || u.Department == "" {
					t.Fatalf("member %+v", u)
				}
			default:
				t.Fatalf("user type %q", u.UserType)
			}
			// The AssignEvery rule.
			if u.UserType == "Member" {
				var want []string
				for _, s := range tn.Skus {
					if s.AssignEvery > 0 && i%s.AssignEvery == 0 {
						want = append(want, s.SkuID)
					}
				}
				if !reflect.DeepEqual(u.AssignedSkuIDs, want) && !(len(want) == 0 && len(u.AssignedSkuIDs) == 0) {
					t.Fatalf("user %d skus %v, want %v", i, u.AssignedSkuIDs, want)
				}
			}
			if u.HasMailbox {
				mailboxes++
				if len(u.ProxyAddresses) == 0 || u.ProxyAddresses[0] != "SMTP:"+u.Mail || u.MailboxStorageBytes <= 0 || u.MailboxItemCount <= 0 {
					t.Fatalf("mailbox user %+v", u)
				}
				for _, a := range u.ProxyAddresses[1:] {
					if !strings.HasPrefix(a, "smtp:") {
						t.Fatalf("alias %q", a)
					}
				}
			}
			if u.MFARegistered {
				mfa++
				if len(u.MethodsRegistered) == 0 {
					t.Fatalf("MFA without methods: %+v", u)
				}
			}
			if u.MFACapable && !(u.MFARegistered && u.AccountEnabled) {
				t.Fatalf("capable but not registered and enabled: %+v", u)
			}
			if u.IsAdmin {
				admins++
				if !u.MFARegistered {
					t.Fatalf("admin without MFA: %+v", u)
				}
			}
			if u.AccountEnabled {
				enabled++
			}
			if u.LastSignIn.IsZero() {
				neverSignedIn++
			}
			if !u.Created.Before(testNow) || u.Created.Before(tn.Created) || u.LastPasswordChange.Before(u.Created) || u.LastPasswordChange.After(testNow) ||
				(!u.LastSignIn.IsZero() && (u.LastSignIn.Before(u.Created) || u.LastSignIn.After(testNow))) {
				t.Fatalf("dates: tenant %v, user %+v", tn.Created, u)
			}
			if u.ProxyAddresses == nil || u.BusinessPhones == nil || u.MethodsRegistered == nil || u.AssignedSkuIDs == nil {
				t.Fatalf("nil collections (Graph answers []): %+v", u)
			}
		}
	}
	frac := func(k int) float64 { return float64(k) / float64(n) }
	t.Logf("%d users: MFA %.2f, guests %.3f, admins %.3f, enabled %.2f, mailboxes %.2f, never signed in %.3f",
		n, frac(mfa), frac(guests), frac(admins), frac(enabled), frac(mailboxes), frac(neverSignedIn))
	if frac(mfa) < 0.6 || frac(mfa) > 0.8 {
		t.Errorf("MFA registered fraction %.2f, want about 0.7", frac(mfa))
	}
	if guests == 0 || frac(guests) > 0.1 || admins == 0 || frac(enabled) < 0.85 || frac(enabled) == 1 || mailboxes == 0 || neverSignedIn == 0 {
		t.Errorf("implausible mix")
	}
}

func TestUserByID(t *testing.T) {
	w := mustLoad(t, "demo")
	a, b := w.TenantAt(0), w.TenantAt(1)
	for i := 0; i < a.UserSlots(); i++ {
		u, _ := a.User(i)
		for _, key := range []string{u.ID, strings.ToUpper(u.ID), u.UserPrincipalName, strings.ToUpper(u.UserPrincipalName)} {
			got, ok := a.UserByID(key)
			if !ok || got.Index != i {
				t.Fatalf("UserByID(%q) = %d, %v; want %d", key, got.Index, ok, i)
			}
		}
		if _, ok := b.UserByID(u.ID); ok {
			t.Fatalf("user %s of one tenant found in another", u.ID)
		}
	}
	for _, bad := range []string{"", "not-a-guid", uuid.NewString(), "nobody@contosodental.com", "00000000-0000-0000-0000-000000000000"} {
		if _, ok := a.UserByID(bad); ok {
			t.Errorf("UserByID(%q) found a user", bad)
		}
	}
	g, _ := a.Group(2)
	if got, ok := a.GroupByID(g.ID); !ok || got.Index != 2 {
		t.Errorf("GroupByID(%s) = %d, %v", g.ID, got.Index, ok)
	}
	if _, ok := a.GroupByID(uuid.NewString()); ok {
		t.Error("GroupByID found a random id")
	}
	// Removed users are not found.
	w.Step()
	for _, c := range a.UserChanges(0) {
		if !c.Removed {
			continue
		}
		u, ok := a.User(c.Index)
		if ok || u.ID == "" {
			t.Fatalf("removed user %d: ok=%v id=%q (the id must stay known for delta)", c.Index, ok, u.ID)
		}
		if _, ok := a.UserByID(u.ID); ok {
			t.Errorf("UserByID found removed user %d", c.Index)
		}
		if _, ok := a.UserByID(u.UserPrincipalName); ok {
			t.Errorf("UserByID found removed user %d by UPN", c.Index)
		}
	}
}

func TestObjectIDsInvert(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for k := 0; k < 10000; k++ {
		x := r.Uint32()
		if unpermute32(permute32(x)) != x {
			t.Fatalf("unpermute32(permute32(%d)) != %d", x, x)
		}
		key := r.Uint64()
		i := int(r.Uint32() % maxObjects)
		id := objectUUID(key, i).String()
		if got := objectIndex(key, id); got != i {
			t.Fatalf("objectIndex(objectUUID(%d)) = %d", i, got)
		}
		if got := objectIndex(key^1, id); got != -1 {
			t.Fatalf("id found under another key: %d", got)
		}
		if u := uuid.MustParse(id); u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%s is not a v4 GUID", id)
		}
	}
}

func TestNameListsHaveNoDuplicates(t *testing.T) {
	// UPN uniqueness rests on the 64×64 name grid being a real grid.
	for _, list := range [][]string{givenNames[:], surnames[:]} {
		seen := map[string]bool{}
		for _, n := range list {
			if seen[strings.ToLower(n)] {
				t.Errorf("duplicate name %q", n)
			}
			seen[strings.ToLower(n)] = true
		}
	}
}

func TestGroupsAndDevices(t *testing.T) {
	w := mustLoad(t, "demo")
	tn, _ := w.Tenant(DemoContosoDental)
	var unified, security int
	for g := 0; g < tn.GroupSlots(); g++ {
		gr, ok := tn.Group(g)
		if !ok || gr.Index != g || gr.DisplayName == "" || gr.Version != 1 {
			t.Fatalf("group %d: %+v", g, gr)
		}
		if contains(gr.GroupTypes, "Unified") {
			unified++
			if !gr.MailEnabled || !strings.HasSuffix(gr.Mail, "@"+tn.DefaultDomain) {
				t.Errorf("unified group without mail: %+v", gr)
			}
		} else {
			security++
			if !gr.SecurityEnabled {
				t.Errorf("security group not security enabled: %+v", gr)
			}
		}
		if len(gr.MemberIndexes) == 0 {
			t.Errorf("group %s has no members", gr.DisplayName)
		}
		for _, m := range gr.MemberIndexes {
			if _, ok := tn.User(m); !ok {
				t.Errorf("group %s has member %d that is not a live user", gr.DisplayName, m)
			}
		}
	}
	if unified == 0 || security == 0 {
		t.Errorf("%d unified, %d security groups", unified, security)
	}
	if _, ok := tn.Group(tn.GroupSlots()); ok {
		t.Error("Group beyond GroupSlots")
	}
	oses := map[string]int{}
	for i := 0; i < tn.DeviceCount(); i++ {
		d := tn.Device(i)
		oses[d.OperatingSystem]++
		if _, err := uuid.Parse(d.ID); err != nil || d.DeviceName == "" || d.SerialNumber == "" || d.Model == "" {
			t.Fatalf("device %+v", d)
		}
		if !contains(complianceStates, d.ComplianceState) {
			t.Fatalf("compliance %q", d.ComplianceState)
		}
		if d.UserIndex >= 0 {
			u, _ := tn.User(d.UserIndex)
			if u.ID != d.UserID || u.UserPrincipalName != d.UserPrincipalName {
				t.Fatalf("device %d user link %d: %s/%s vs %s/%s", i, d.UserIndex, d.UserID, d.UserPrincipalName, u.ID, u.UserPrincipalName)
			}
		} else if d.UserID != "" {
			t.Fatalf("device without user has user id %s", d.UserID)
		}
		if d.EnrolledDateTime.After(d.LastSyncDateTime) || d.LastSyncDateTime.After(testNow) {
			t.Fatalf("device dates %+v", d)
		}
	}
	if len(oses) < 2 {
		t.Errorf("device platforms %v", oses)
	}
	if d := tn.Device(tn.DeviceCount()); d.ID != "" || d.UserIndex != -1 {
		t.Errorf("device beyond DeviceCount: %+v", d)
	}
}

func TestJSONRoundTripOfDemoFile(t *testing.T) {
	// The demo is also a valid scenario file (less the 250-alias option, which is built-in only).
	data, err := json.Marshal(DemoFile(testNow))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(f, testNow)
	if err != nil {
		t.Fatal(err)
	}
	d := mustLoad(t, "demo")
	for i := 0; i < d.TenantCount(); i++ {
		if !reflect.DeepEqual(tenantView(d.TenantAt(i)), tenantView(w.TenantAt(i))) {
			t.Fatalf("tenant %d differs after a JSON round trip", i)
		}
	}
}

// Tenants without P1/P2 protect users with security defaults or per-user MFA, and usage reports
// name some mailboxes "(Unknown)" or with a redacted name, as the demo's tenants say.
func TestMFAAndReportAnomalies(t *testing.T) {
	w, err := New(DemoFile(time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)), time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	get := func(id string) *Tenant {
		tn, ok := w.Tenant(id)
		if !ok {
			t.Fatalf("no tenant %s", id)
		}
		return tn
	}
	coho, fab, contoso := get(DemoCohoWinery), get(DemoFabrikamLegal), get(DemoContosoDental)
	if !reflect.DeepEqual(fab.Faults, Faults{ThrottleEvery: 3, RetryAfter: "0.5"}) {
		t.Errorf("Fabrikam Legal faults %+v, want every 3rd request throttled (the MFA fallback under throttling)", fab.Faults)
	}
	if coho.Premium || !coho.SecurityDefaults || fab.Premium || fab.SecurityDefaults || !contoso.Premium {
		t.Fatalf("flags: coho premium %v sd %v, fabrikam premium %v sd %v", coho.Premium, coho.SecurityDefaults, fab.Premium, fab.SecurityDefaults)
	}
	states := map[string]int{}
	for i := 0; i < fab.UserSlots(); i++ {
		u, ok := fab.User(i)
		if !ok {
			continue
		}
		states[u.PerUserMFA]++
		switch {
		case u.UserType == "Guest" && u.PerUserMFA != "disabled":
			t.Errorf("guest %s per-user MFA %q", u.UserPrincipalName, u.PerUserMFA)
		case u.IsAdmin && u.PerUserMFA != "enforced":
			t.Errorf("admin %s per-user MFA %q, want enforced", u.UserPrincipalName, u.PerUserMFA)
		case u.PerUserMFA == "enforced" && !u.MFARegistered:
			t.Errorf("%s enforced but not registered", u.UserPrincipalName)
		case u.PerUserMFA == "enabled" && u.MFARegistered:
			t.Errorf("%s enabled although registered (registering moves it to enforced)", u.UserPrincipalName)
		}
		want := u.UserPrincipalName
		if u.HasMailbox && u.Index%5 == 4 {
			want = "<PII:"
		}
		if !u.HasMailbox {
			want = ""
		}
		if !strings.HasPrefix(u.ReportUPN, want) || (want == "" && u.ReportUPN != "") {
			t.Errorf("%s (index %d, mailbox %v) report name %q, want %q...", u.UserPrincipalName, u.Index, u.HasMailbox, u.ReportUPN, want)
		}
	}
	if states["enforced"] == 0 || states["enforced"]+states["enabled"]+states["disabled"] != fab.UserSlots() || len(states) < 2 {
		t.Errorf("Fabrikam per-user MFA states %v: want enforced users and another state, only disabled/enabled/enforced", states)
	}
	for _, tn := range []*Tenant{coho, contoso} {
		for i := 0; i < tn.UserSlots(); i++ {
			if u, ok := tn.User(i); ok && u.PerUserMFA != "disabled" && tn == coho {
				t.Errorf("%s per-user MFA %q under security defaults", u.UserPrincipalName, u.PerUserMFA)
			} else if ok && tn == contoso && u.HasMailbox && (u.ReportUPN == "(Unknown)") != (u.Index%7 == 6) {
				t.Errorf("%s (index %d) report name %q", u.UserPrincipalName, u.Index, u.ReportUPN)
			}
		}
	}
}
