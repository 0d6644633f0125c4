package scenario

import "strings"

// Small fixed lists that generated objects draw from. Their lengths are part of the scenario's
// determinism: changing a list changes every generated world.

// Given names and surnames: 64 each (a power of two) so the name grid is a clean permutation target.
var givenNames = [64]string{
	"Adele", "Alex", "Allan", "Amara", "Ana", "Ben", "Bianca", "Carlos",
	"Chen", "Christie", "Clara", "Daniel", "Diego", "Elena", "Emily", "Enrico",
	"Farah", "Grady", "Hannah", "Henrietta", "Ian", "Irvin", "Isaiah", "Jamal",
	"Johanna", "Joni", "Kenji", "Laura", "Lee", "Lidia", "Lynne", "Mamta",
	"Marcus", "Maria", "Megan", "Miriam", "Nestor", "Nina", "Olga", "Omar",
	"Patti", "Pradeep", "Priya", "Rafael", "Raul", "Rosa", "Sakura", "Samuel",
	"Sara", "Sean", "Sofia", "Tariq", "Thomas", "Ulrike", "Valentina", "Victor",
	"Wei", "Wilma", "Xavier", "Yara", "Yusuf", "Zara", "Zoe", "Noah",
}

var surnames = [64]string{
	"Vance", "Wilber", "Deyoung", "Okafor", "Silva", "Walters", "Rossi", "Mendes",
	"Wang", "Cline", "Hoffmann", "Kim", "Garcia", "Petrova", "Brown", "Bianchi",
	"Haddad", "Archie", "Schmidt", "Harris", "Bowen", "Bellinger", "Adams", "Nasser",
	"Lindqvist", "Sherman", "Tanaka", "Giovanni", "Gu", "Holloway", "Robbins", "Patel",
	"Johnson", "Lopez", "Okoro", "Cohen", "Kowalski", "Novak", "Ivanova", "Farouk",
	"Fernandez", "Gupta", "Raman", "Costa", "Moreno", "Alvarez", "Sato", "Osei",
	"Nilsson", "Murphy", "Russo", "Aziz", "Mueller", "Becker", "Conti", "Dubois",
	"Zhang", "Jansen", "Laurent", "Haddadi", "Demir", "Kaur", "Evans", "Byrne",
}

// department and the job titles seen in it.
type department struct {
	name   string
	titles []string
}

var departments = []department{
	{"Sales", []string{"Account Executive", "Sales Manager", "Inside Sales Representative", "Sales Director"}},
	{"Marketing", []string{"Marketing Coordinator", "Marketing Manager", "Content Strategist", "Brand Manager"}},
	{"Finance", []string{"Accountant", "Financial Analyst", "Controller", "Accounts Payable Clerk"}},
	{"Human Resources", []string{"HR Generalist", "Recruiter", "HR Manager", "Payroll Specialist"}},
	{"IT", []string{"IT Administrator", "Systems Engineer", "Help Desk Technician", "IT Manager"}},
	{"Operations", []string{"Operations Manager", "Logistics Coordinator", "Office Manager", "Facilities Coordinator"}},
	{"Engineering", []string{"Software Engineer", "QA Engineer", "Engineering Manager", "DevOps Engineer"}},
	{"Customer Service", []string{"Customer Service Representative", "Support Team Lead", "Customer Success Manager"}},
	{"Legal", []string{"Paralegal", "Legal Counsel", "Contracts Manager"}},
	{"Executive", []string{"Chief Executive Officer", "Chief Financial Officer", "Chief Operating Officer", "Executive Assistant"}},
}

// Generated customers borrow Microsoft's fictitious company names.
var companies = []string{
	"Contoso", "Fabrikam", "Northwind", "Tailspin", "Woodgrove", "Adventure Works", "Litware",
	"Proseware", "Wide World", "Alpine Ski House", "Blue Yonder", "Coho Winery", "Fourth Coffee",
	"Lamna Healthcare", "Trey Research", "Relecloud", "VanArsdel", "Wingtip Toys", "Margie's Travel",
	"Humongous Insurance", "A. Datum", "Southridge Video", "City Power & Light", "Consolidated Messenger",
	"Lucerne Publishing", "Nod Publishers", "Graphic Design Institute", "Fincher Architects",
	"First Up Consultants", "Bellows College", "Munson's Pickles", "Best For You Organics",
}

// country is a usage location with plausible offices and phone formats (555 numbers are fictional).
type country struct {
	code   string
	cities []string
	prefix string // international dialling prefix with area code
	mobile string
	digits int // local digits after prefix
}

var countries = []country{
	{code: "US", cities: []string{"Seattle", "Redmond", "Chicago", "Austin", "Boston"}, prefix: "+1 425 555 ", mobile: "+1 206 555 ", digits: 4},
	{code: "GB", cities: []string{"London", "Manchester", "Leeds"}, prefix: "+44 20 7946 0", mobile: "+44 7700 900", digits: 3},
	{code: "DE", cities: []string{"Berlin", "Munich", "Hamburg"}, prefix: "+49 30 555 ", mobile: "+49 151 555 ", digits: 4},
	{code: "NL", cities: []string{"Amsterdam", "Rotterdam", "Utrecht"}, prefix: "+31 20 555 ", mobile: "+31 6 555 ", digits: 4},
	{code: "AU", cities: []string{"Sydney", "Melbourne", "Brisbane"}, prefix: "+61 2 5550 ", mobile: "+61 491 570 ", digits: 4},
	{code: "CA", cities: []string{"Toronto", "Vancouver", "Montreal"}, prefix: "+1 416 555 ", mobile: "+1 604 555 ", digits: 4},
}

// Guests come from these home domains.
var guestDomains = []string{"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "fabrikam.com", "contractor.example"}

// Group display names; index 0 is the organisation-wide Microsoft 365 group.
var groupNames = []string{
	"All Staff", "Finance", "Sales Team", "IT Admins", "Marketing", "Project Phoenix", "Remote Workers",
	"VPN Users", "Leadership", "HR", "Operations", "Customer Service", "Engineering", "MFA Exclusions",
	"Intune Pilot", "Legal", "Social Committee", "Board",
}

// Authentication methods as userRegistrationDetails reports them.
var strongMethods = []string{"microsoftAuthenticatorPush", "softwareOneTimePasscode", "mobilePhone", "windowsHelloForBusiness", "fido2", "microsoftAuthenticatorPasswordless"}

// Intune device models by platform.
type deviceModel struct {
	os, manufacturer, model string
	versions                []string
}

var deviceModels = []deviceModel{
	{"Windows", "Dell Inc.", "Latitude 5440", []string{"10.0.22631.4317", "10.0.22631.4460", "10.0.26100.2314", "10.0.19045.5011"}},
	{"Windows", "HP", "HP EliteBook 840 G10", []string{"10.0.22631.4317", "10.0.26100.2314", "10.0.19045.5011"}},
	{"Windows", "LENOVO", "ThinkPad T14 Gen 4", []string{"10.0.22631.4460", "10.0.26100.2314"}},
	{"Windows", "Microsoft Corporation", "Surface Laptop 5", []string{"10.0.22631.4317", "10.0.26100.2314"}},
	{"Windows", "Dell Inc.", "OptiPlex 7010", []string{"10.0.19045.5011", "10.0.22631.4460"}},
	{"iOS", "Apple", "iPhone 15", []string{"17.6.1", "18.1", "18.1.1"}},
	{"iOS", "Apple", "iPhone 14", []string{"17.6.1", "18.0.1", "18.1"}},
	{"iOS", "Apple", "iPad Air (5th generation)", []string{"17.6.1", "18.1"}},
	{"Android", "samsung", "SM-S911B", []string{"14", "13"}},
	{"Android", "Google", "Pixel 8", []string{"15", "14"}},
	{"macOS", "Apple", "MacBookPro18,3", []string{"14.7.1", "15.1"}},
	{"macOS", "Apple", "MacBookAir10,1", []string{"14.7.1", "15.0.1", "15.1"}},
}

// KnownSku is a Microsoft licence the simulator knows by name.
type KnownSku struct {
	SkuID         string
	SkuPartNumber string
	DisplayName   string // product name as Partner Center and the admin centre show it
	Exchange      bool   // includes an Exchange Online mailbox
	Premium       bool   // includes Entra ID P1 or P2 (signInActivity)
	Intune        bool   // includes Intune
}

// Real skuIds, so anything matching on them (price lists, PSA mappings) sees real data.
const (
	SkuSPE_E3              = "05e9a617-0261-4cee-bb44-138d3ef5d965"
	SkuO365BusinessPremium = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
	SkuExchangeStandard    = "4b9405b0-7788-4568-add1-99614e613b69"
	SkuSPB                 = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
	SkuAADPremium          = "078d2b04-f1bd-4111-bbd4-b4b1b354cef4"
	SkuIntuneA             = "061f9ace-7d42-4136-88ac-31dc755f143f"
)

// KnownSkus lists the licences generated tenants use.
var KnownSkus = []KnownSku{
	{SkuSPE_E3, "SPE_E3", "Microsoft 365 E3", true, true, true},
	{SkuO365BusinessPremium, "O365_BUSINESS_PREMIUM", "Microsoft 365 Business Standard", true, false, false},
	{SkuExchangeStandard, "EXCHANGESTANDARD", "Exchange Online (Plan 1)", true, false, false},
	{SkuSPB, "SPB", "Microsoft 365 Business Premium", true, true, true},
	{SkuAADPremium, "AAD_PREMIUM", "Microsoft Entra ID P1", false, true, false},
	{SkuIntuneA, "INTUNE_A", "Microsoft Intune Plan 1", false, false, true},
}

// LookupSku finds a known licence by skuId or part number (case-insensitive).
func LookupSku(idOrPartNumber string) (KnownSku, bool) {
	for _, k := range KnownSkus {
		if strings.EqualFold(k.SkuID, idOrPartNumber) || strings.EqualFold(k.SkuPartNumber, idOrPartNumber) {
			return k, true
		}
	}
	return KnownSku{}, false
}

func knownSku(partNumber string) KnownSku {
	k, ok := LookupSku(partNumber)
	if !ok {
		panic("scenario: unknown sku " + partNumber)
	}
	return k
}

// skuHasExchange reports whether a SKU id carries a mailbox. SKUs the simulator does not know
// count as mailbox-bearing when their part number says so, so scenario files can use other SKUs.
func skuHasExchange(s Sku) bool {
	if k, ok := LookupSku(s.SkuID); ok {
		return k.Exchange
	}
	p := strings.ToUpper(s.SkuPartNumber)
	return strings.Contains(p, "EXCHANGE") || strings.HasPrefix(p, "SPE_") || strings.HasPrefix(p, "ENTERPRISEPACK") ||
		strings.HasPrefix(p, "O365_") || p == "SPB" || strings.HasPrefix(p, "STANDARDPACK")
}

// slug is the lower-case alphanumeric form of a name, for domains and mail nicknames.
func slug(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return string(b)
}
