package scenario

import (
	"strings"
	"time"
)

// Fixed ids of the built-in scenarios, exported so tests and the demo can refer to them.
const (
	DemoPartnerTenantID = "5ce257ad-9315-420b-900a-9d770d9cda65"
	DemoPartnerDomain   = "contosomsp.onmicrosoft.com"

	DemoServiceAccountID  = "aad471f2-5456-426b-aa86-654346a235de"
	DemoServiceAccountUPN = "svc-tenantsync@" + DemoPartnerDomain
	DemoAdminID           = "2517b119-8115-4ae8-a5df-545d3329824b"
	DemoAdminUPN          = "admin@" + DemoPartnerDomain
	DemoNoMFAID           = "afc27f36-14fd-475f-81c6-1a8181bac640"
	DemoNoMFAUPN          = "nomfa@" + DemoPartnerDomain
	DemoBlockedID         = "931bb1af-1599-4c16-8fd4-63d4b49eca89"
	DemoBlockedUPN        = "blocked@" + DemoPartnerDomain

	DemoAppID       = "7d1f3b52-4c1e-4a6b-9f3e-2b8c6d0a9e11"
	DemoSecretKeyID = "7a3e6851-3b38-4d8a-bbea-ffca8e746339"
	DemoSecretValue = "tSy8Q~demo.Secret-Value_0123456789abcdEF"
	DemoConnectURI  = "http://localhost:7071/api/connect/callback"
	DemoConsentURI  = "http://localhost:7071/api/consent/callback"
	// DemoSignInURI is App Service Authentication's callback (the console's sign-in).
	DemoSignInURI = "http://localhost:7071/.auth/login/aad/callback"
	// DemoAdminGroupID is the partner tenant's tenantsync admins group (ADMIN_GROUP_ID); the
	// MSP administrator is in it, the technician without MFA only in DemoTechniciansGroupID.
	DemoAdminGroupID       = "0c7a1f5e-3b2d-4c6e-8f9a-7d1e2c3b4a50"
	DemoTechniciansGroupID = "5d0f2c1a-7e3b-4f9a-8c6d-2b1e0a9f8c7d"
	DemoBigAliasCount      = 250 // proxyAddresses of user 0 of Contoso Dental

	// One customer tenant per failure mode (see DemoFile).
	DemoContosoDental      = "8ed1aad4-3aba-443c-ab88-c01a25f66cd3"
	DemoFabrikamLegal      = "10862d83-c14b-4ec3-a922-7061aa6ef27a"
	DemoNorthwindTraders   = "6714c331-a938-46db-bbab-152ed10d602d"
	DemoTailspinToys       = "c2084f36-31dd-4ad9-97cc-439a25c8c10e"
	DemoWoodgroveBank      = "bd2eafde-0c11-45a3-b940-a212c5b951d3"
	DemoAdventureWorks     = "8cc47aee-3fb4-425c-97e2-b8af786cb9d9"
	DemoLitware            = "0acf8895-1119-4c25-ae64-630984ed7f4e"
	DemoProseware          = "f76e3108-a60f-4255-9d27-2f6184852feb"
	DemoWideWorldImporters = "4d4fdbb3-c478-4d00-8c3f-025792959e7c"
	DemoAlpineSkiHouse     = "562ab566-e9b5-47ce-ada2-b4f0f7180473"
	DemoBlueYonderAirlines = "fcfb52db-02ba-4710-becf-27beb3aa8a6f"
	DemoCohoWinery         = "cff047cb-0daf-47fc-81fa-f00ac6767ecb"
	DemoFourthCoffee       = "c3b41314-170b-41b7-bba4-809948087e90"
	DemoConsolidated       = "5b1d6a3e-2f4c-4d8e-9a7b-3c6e1f0d2a91"
)

// SyncGraphPermissions are the Graph application permissions tenantsync's app is configured with
// (what an admin-consent link grants in a customer tenant): read permissions only; the demo app
// requests exactly these.
var SyncGraphPermissions = []string{
	"User.Read.All", "Group.Read.All", "Directory.Read.All", "Organization.Read.All", "Domain.Read.All",
	"DeviceManagementManagedDevices.Read.All", "Reports.Read.All", "ReportSettings.Read.All",
	"AuditLog.Read.All", "UserAuthenticationMethod.Read.All", "Policy.Read.All",
}

// PartnerGraphPermissions are assigned to the app in the partner tenant only (GDAP discovery),
// and PartnerDelegatedScopes granted there only (consent links sent with the service account's
// delegated token), as tenantsync register does: no customer tenant ever gets them.
var (
	PartnerGraphPermissions = []string{"DelegatedAdminRelationship.Read.All"}
	PartnerDelegatedScopes  = []string{"Mail.Send"}
)

// demoPartner is the MSP: shared by both built-in scenarios so the same sign-ins work in each.
func demoPartner() PartnerSpec {
	return PartnerSpec{
		TenantID:    DemoPartnerTenantID,
		DisplayName: "Contoso MSP",
		Domain:      DemoPartnerDomain,
		Users: []PartnerUserSpec{
			{ID: DemoServiceAccountID, UPN: DemoServiceAccountUPN, DisplayName: "tenantsync service account", MFA: true, GDAPAgent: true},
			{ID: DemoAdminID, UPN: DemoAdminUPN, DisplayName: "MSP Administrator", MFA: true, Groups: []string{DemoAdminGroupID, DemoTechniciansGroupID}, GDAPAgent: true},
			{ID: DemoNoMFAID, UPN: DemoNoMFAUPN, DisplayName: "Technician without MFA", MFA: false, Groups: []string{DemoTechniciansGroupID}},
			{ID: DemoBlockedID, UPN: DemoBlockedUPN, DisplayName: "Technician blocked by Conditional Access", MFA: true, SignInError: "53003"},
		},
	}
}

func demoApp(now time.Time) *AppSpec {
	return &AppSpec{
		AppID:        DemoAppID,
		DisplayName:  "tenantsync",
		Secrets:      []SecretSpec{{KeyID: DemoSecretKeyID, Value: DemoSecretValue, EndDateTime: now.AddDate(1, 0, 0).Truncate(time.Second)}},
		RedirectURIs: []string{DemoConnectURI, DemoConsentURI, DemoSignInURI},
		Roles:        append([]string(nil), SyncGraphPermissions...),
	}
}

func sku(part string, prepaid, every int) SkuSpec {
	k := knownSku(part)
	return SkuSpec{SkuID: k.SkuID, SkuPartNumber: k.SkuPartNumber, Prepaid: prepaid, AssignEvery: every}
}

// fullGDAP is the healthy relationship: the roles tenantsync's onboarding asks for, auto-extending.
func fullGDAP() []RelationshipSpec {
	return []RelationshipSpec{{Status: "active", Roles: append([]string(nil), standardRoles...), EndInDays: 600, AutoExtend: true}}
}

// DemoFile is the "demo" scenario: the partner, the app and one customer tenant per failure mode.
//
//	Contoso Dental       healthy: consented, premium, Intune, CSP + full GDAP; user 0 has 250 proxy addresses;
//	                     every 7th mailbox shows as "(Unknown)" in the usage report
//	Fabrikam Legal       no Entra ID premium: signInActivity and the MFA registration report answer 403;
//	                     per-user MFA; every 5th mailbox has a "<PII:...>" name in the usage report;
//	                     every 3rd Graph request 429 (so the MFA fallback's $batch items are throttled)
//	Northwind Traders    no Intune: managed devices answer 403
//	Tailspin Toys        report concealment on
//	Woodgrove Bank       not consented; GDAP adds Privileged Role Administrator: Partner Center consent
//	                     plus app roles assigned through GDAP (cpv+roles) works
//	Adventure Works      not consented; GDAP Global Reader only: needs the emailed admin-consent link
//	Litware              throttled: every 3rd Graph request 429, Retry-After 0.5
//	Proseware            every 4th Graph request 503, Retry-After 1, 20 ms latency
//	Wide World Importers GDAP expires in 10 days, no auto-extend
//	Alpine Ski House     GDAP terminated, not consented
//	Blue Yonder Airlines tenant deleted (AADSTS90002)
//	Coho Winery          CSP only (no GDAP); every delta token expired; Exchange Online Plan 1 only, so no
//	                     Entra ID premium: security defaults on
//	Fourth Coffee        token requests fail with AADSTS65001 (consent missing for the permissions)
//	Consolidated Messenger not consented; GDAP Cloud Application Administrator + Global Reader (+ User
//	                     and License Administrator) but no Privileged Role Administrator: Partner Center
//	                     consent works, Graph app roles cannot be granted through GDAP

func DemoFile(now time.Time) File {
	healthy := func(id, name, domain string, users, groups, devices int, skus ...SkuSpec) TenantSpec {
		return TenantSpec{
			ID: id, DisplayName: name, Domain: domain, Users: users, Groups: groups, Devices: devices,
			Skus: skus, GDAP: fullGDAP(), CSP: true, Consented: true, Premium: true, Intune: true,
		}
	}
	tenants := []TenantSpec{
		healthy(DemoContosoDental, "Contoso Dental", "contosodental.onmicrosoft.com", 40, 6, 25,
			sku("SPB", 45, 1)),
		healthy(DemoFabrikamLegal, "Fabrikam Legal", "fabrikamlegal.onmicrosoft.com", 25, 4, 12,
			sku("O365_BUSINESS_PREMIUM", 25, 1), sku("INTUNE_A", 15, 2)),
		healthy(DemoNorthwindTraders, "Northwind Traders", "northwindtraders.onmicrosoft.com", 30, 5, 10,
			sku("O365_BUSINESS_PREMIUM", 30, 1), sku("AAD_PREMIUM", 30, 1)),
		healthy(DemoTailspinToys, "Tailspin Toys", "tailspintoys.onmicrosoft.com", 20, 4, 8,
			sku("SPE_E3", 20, 1)),
		healthy(DemoWoodgroveBank, "Woodgrove Bank", "woodgrovebank.onmicrosoft.com", 35, 6, 20,
			sku("SPE_E3", 40, 1)),
		healthy(DemoAdventureWorks, "Adventure Works", "adventureworks.onmicrosoft.com", 15, 3, 6,
			sku("SPB", 15, 1)),
		healthy(DemoLitware, "Litware", "litware.onmicrosoft.com", 30, 4, 10,
			sku("SPB", 30, 1)),
		healthy(DemoProseware, "Proseware", "proseware.onmicrosoft.com", 20, 3, 8,
			sku("SPB", 20, 1)),
		healthy(DemoWideWorldImporters, "Wide World Importers", "wideworldimporters.onmicrosoft.com", 25, 4, 10,
			sku("SPE_E3", 25, 1), sku("EXCHANGESTANDARD", 5, 8)),
		healthy(DemoAlpineSkiHouse, "Alpine Ski House", "alpineskihouse.onmicrosoft.com", 12, 3, 5,
			sku("O365_BUSINESS_PREMIUM", 12, 1)),
		healthy(DemoBlueYonderAirlines, "Blue Yonder Airlines", "blueyonderairlines.onmicrosoft.com", 18, 3, 6,
			sku("SPB", 20, 1)),
		healthy(DemoCohoWinery, "Coho Winery", "cohowinery.onmicrosoft.com", 10, 3, 5,
			sku("EXCHANGESTANDARD", 10, 1)),
		healthy(DemoFourthCoffee, "Fourth Coffee", "fourthcoffee.onmicrosoft.com", 15, 3, 6,
			sku("SPB", 15, 1)),
		healthy(DemoConsolidated, "Consolidated Messenger", "consolidatedmessenger.onmicrosoft.com", 12, 3, 5,
			sku("SPB", 12, 1)),
	}
	byID := map[string]*TenantSpec{}
	for i := range tenants {
		byID[tenants[i].ID] = &tenants[i]
	}
	t := byID[DemoContosoDental]
	t.CustomDomain = "contosodental.com"

	t = byID[DemoFabrikamLegal]
	t.CustomDomain = "fabrikamlegal.com"
	t.Premium = false // Business Standard + Intune: no Entra ID P1/P2; MFA through per-user MFA
	t.ReportRedactedEvery = 5
	t.Faults = &Faults{ThrottleEvery: 3, RetryAfter: "0.5"}

	byID[DemoContosoDental].ReportUnknownEvery = 7

	byID[DemoNorthwindTraders].Intune = false

	t = byID[DemoTailspinToys]
	t.CustomDomain = "tailspintoys.com"
	t.ConcealReports = true

	t = byID[DemoWoodgroveBank]
	t.Consented = false
	t.GDAP[0].Roles = append(t.GDAP[0].Roles, RolePrivilegedRoleAdmin)

	t = byID[DemoAdventureWorks]
	t.Consented = false
	t.GDAP[0].Roles = []string{RoleGlobalReader}

	byID[DemoLitware].Faults = &Faults{ThrottleEvery: 3, RetryAfter: "0.5"}
	byID[DemoProseware].Faults = &Faults{UnavailableEvery: 4, RetryAfter: "1", LatencyMs: 20}

	t = byID[DemoWideWorldImporters]
	t.GDAP[0].EndInDays = 10
	t.GDAP[0].AutoExtend = false

	t = byID[DemoAlpineSkiHouse]
	t.Consented = false
	t.CSP = false
	t.GDAP[0].Status = "terminated"
	t.GDAP[0].EndInDays = -5
	t.GDAP[0].AutoExtend = false

	byID[DemoBlueYonderAirlines].Deleted = true

	t = byID[DemoCohoWinery]
	t.GDAP = nil
	t.Premium, t.SecurityDefaults = false, true
	t.Faults = &Faults{ExpireDeltaTokens: true}

	byID[DemoFourthCoffee].Faults = &Faults{TokenError: "65001"}

	byID[DemoConsolidated].Consented = false

	return File{
		Name:    "demo",
		Seed:    20240917,
		Partner: demoPartner(),
		App:     demoApp(now),
		Tenants: tenants,
	}
}

func demoOptions() worldOptions {
	return worldOptions{bigAliases: map[string]int{strings.ToLower(DemoContosoDental): DemoBigAliasCount}}
}

// LargeFile is the "large" scenario: the demo's partner and app with 1,000 generated customers
// and about 200,000 users, for load and memory tests.
func LargeFile(now time.Time) File {
	return File{
		Name:    "large",
		Seed:    1000003,
		Partner: demoPartner(),
		App:     demoApp(now),
		Generate: &GenerateSpec{
			Count: 1000, MinUsers: 100, MaxUsers: 300,
			Premium: 0.5, Intune: 0.6, ConcealReports: 0.1, Consented: 0.95, CSP: 0.7, SecurityDefaults: 0.6,
		},
	}
}

// StormSize is the shape of a "storm" scenario; the built-in one is DefaultStorm, tests use smaller.
type StormSize struct {
	Tenants, MinUsers, MaxUsers, LatencyMs int
}

// DefaultStorm is the built-in "storm" scenario's size (issue 9's measurement).
var DefaultStorm = StormSize{Tenants: 30, MinUsers: 100, MaxUsers: 200, LatencyMs: 300}

// StormFile is the "storm" scenario: the demo's partner and app with generated, healthy, consented
// customers whose Graph answers every 2nd request 429 (Retry-After: 0.5, fractional as Graph
// sends it) and every 3rd 503, with added latency. Every tenant must still end succeeded with
// exactly this data: per-request retries honouring Retry-After are what Microsoft asks of clients
// (https://learn.microsoft.com/graph/throttling, "Best practices to handle throttling").
func StormFile(now time.Time, size StormSize) File {
	return File{
		Name:    "storm",
		Seed:    9000009,
		Partner: demoPartner(),
		App:     demoApp(now),
		Generate: &GenerateSpec{
			Count: size.Tenants, MinUsers: size.MinUsers, MaxUsers: size.MaxUsers,
			Premium: 1, Intune: 1, ConcealReports: 0, Consented: 1, CSP: 1,
		},
		Faults: Faults{ThrottleEvery: 2, RetryAfter: "0.5", UnavailableEvery: 3, LatencyMs: size.LatencyMs},
	}
}
