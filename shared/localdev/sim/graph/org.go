package graph

import (
	"strings"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// domains of a tenant: the initial onmicrosoft.com domain and the custom default one if any.
type domainInfo struct {
	name               string
	isDefault, initial bool
}

func (tc *tenantCtx) domains() []domainInfo {
	out := []domainInfo{{name: tc.initialDomain, isDefault: strings.EqualFold(tc.initialDomain, tc.defaultDomain), initial: true}}
	if !strings.EqualFold(tc.initialDomain, tc.defaultDomain) && tc.defaultDomain != "" {
		out = append(out, domainInfo{name: tc.defaultDomain, isDefault: true})
	}
	return out
}

func (tc *tenantCtx) country() string {
	if tc.t == nil {
		return "US"
	}
	if u, ok := tc.t.User(0); ok && u.UsageLocation != "" {
		return u.UsageLocation
	}
	return "US"
}

func handleOrganization(c *call) *gerr {
	if e := c.require(permOrg); e != nil {
		return e
	}
	tc := c.ten
	if len(c.segs) == 2 && !strings.EqualFold(c.segs[1], tc.id) {
		return errNotFound(c.segs[1])
	}
	var verified []obj
	for _, d := range tc.domains() {
		caps := "Email, OfficeCommunicationsOnline"
		if d.initial {
			caps = "Email, OfficeCommunicationsOnline, MoeraDomain"
		}
		verified = append(verified, obj{
			{"capabilities", caps}, {"isDefault", d.isDefault}, {"isInitial", d.initial}, {"name", d.name}, {"type", "Managed"},
		})
	}
	o := obj{
		{"id", tc.id},
		{"deletedDateTime", nil},
		{"businessPhones", []string{}},
		{"city", nil},
		{"country", nil},
		{"countryLetterCode", tc.country()},
		{"createdDateTime", tc.created},
		{"defaultUsageLocation", nil},
		{"displayName", tc.displayName},
		{"marketingNotificationEmails", []string{}},
		{"onPremisesLastSyncDateTime", nil},
		{"onPremisesSyncEnabled", nil},
		{"partnerTenantType", partnerTenantType(tc)},
		{"postalCode", nil},
		{"preferredLanguage", "en"},
		{"securityComplianceNotificationMails", []string{}},
		{"securityComplianceNotificationPhones", []string{}},
		{"state", nil},
		{"street", nil},
		{"technicalNotificationMails", []string{"admin@" + tc.initialDomain}},
		{"tenantType", "AAD"},
		{"directorySizeQuota", obj{{"used", c.ten.userCount() + 10}, {"total", 300000}}},
		{"privacyProfile", nil},
		{"assignedPlans", []string{}},
		{"verifiedDomains", verified},
	}
	if len(c.segs) == 2 {
		writeJSON(c, 200, append(obj{{"@odata.context", c.s.contextURL("organization/$entity")}}, o...))
		return nil
	}
	col := c.startCollection("organization", nil)
	col.j.elem(o)
	col.end("", "")
	return nil
}

func partnerTenantType(tc *tenantCtx) any {
	if tc.partner {
		return "resellerPartnerDelegatedAdmin"
	}
	return nil
}

func (tc *tenantCtx) userCount() int {
	if tc.t == nil {
		return 0
	}
	return tc.t.UserSlots()
}

func handleDomains(c *call) *gerr {
	if e := c.require(permDomains); e != nil {
		return e
	}
	dom := func(d domainInfo) obj {
		return obj{
			{"authenticationType", "Managed"}, {"availabilityStatus", nil}, {"id", d.name}, {"isAdminManaged", true},
			{"isDefault", d.isDefault}, {"isInitial", d.initial}, {"isRoot", true}, {"isVerified", true},
			{"passwordNotificationWindowInDays", 14}, {"passwordValidityPeriodInDays", 2147483647},
			{"supportedServices", []string{"Email", "OfficeCommunicationsOnline"}}, {"state", nil},
		}
	}
	if len(c.segs) == 2 {
		for _, d := range c.ten.domains() {
			if strings.EqualFold(d.name, c.segs[1]) {
				writeJSON(c, 200, append(obj{{"@odata.context", c.s.contextURL("domains/$entity")}}, dom(d)...))
				return nil
			}
		}
		return errNotFound(c.segs[1])
	}
	col := c.startCollection("domains", nil)
	for _, d := range c.ten.domains() {
		col.j.elem(dom(d))
	}
	col.end("", "")
	return nil
}

// servicePlan ids of the plans the simulator names (from Microsoft's licensing reference).
var servicePlans = []struct {
	id, name string
	has      func(k scenario.KnownSku) bool
}{
	{"efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE", func(k scenario.KnownSku) bool { return k.Exchange }},
	{"41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM", func(k scenario.KnownSku) bool { return k.Premium }},
	{"c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "INTUNE_A", func(k scenario.KnownSku) bool { return k.Intune }},
}

func handleSkus(c *call) *gerr {
	if e := c.require(permSkus); e != nil {
		return e
	}
	col := c.startCollection("subscribedSkus", nil)
	if t := c.ten.t; t != nil {
		for _, sk := range t.Skus {
			plans := []obj{}
			if k, ok := scenario.LookupSku(sk.SkuID); ok {
				for _, p := range servicePlans {
					if p.has(k) {
						plans = append(plans, obj{{"servicePlanId", p.id}, {"servicePlanName", p.name}, {"provisioningStatus", "Success"}, {"appliesTo", "User"}})
					}
				}
			}
			sub := uuid.NewSHA1(uuid.NameSpaceOID, []byte("subscription:"+c.ten.id+"/"+strings.ToLower(sk.SkuID))).String()
			col.j.elem(obj{
				{"accountName", strings.ReplaceAll(strings.ToLower(t.DisplayName), " ", "")},
				{"accountId", c.ten.id},
				{"appliesTo", "User"},
				{"capabilityStatus", "Enabled"},
				{"consumedUnits", t.Consumed(sk.SkuID)},
				{"id", c.ten.id + "_" + strings.ToLower(sk.SkuID)},
				{"skuId", strings.ToLower(sk.SkuID)},
				{"skuPartNumber", sk.SkuPartNumber},
				{"subscriptionIds", []string{sub}},
				{"prepaidUnits", obj{{"enabled", sk.Prepaid}, {"suspended", 0}, {"warning", 0}, {"lockedOut", 0}}},
				{"servicePlans", plans},
			})
		}
	}
	col.end("", "")
	return nil
}
