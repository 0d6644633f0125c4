package syncer

// productNames are the friendly names of common SKUs (Microsoft's "Product names and service plan
// identifiers for licensing" list); unknown SKUs show their part number.
var productNames = map[string]string{
	"SPE_E3":                   "Microsoft 365 E3",
	"SPE_E5":                   "Microsoft 365 E5",
	"SPB":                      "Microsoft 365 Business Premium",
	"O365_BUSINESS_PREMIUM":    "Microsoft 365 Business Standard",
	"O365_BUSINESS_ESSENTIALS": "Microsoft 365 Business Basic",
	"O365_BUSINESS":            "Microsoft 365 Apps for business",
	"OFFICESUBSCRIPTION":       "Microsoft 365 Apps for enterprise",
	"ENTERPRISEPACK":           "Office 365 E3",
	"ENTERPRISEPREMIUM":        "Office 365 E5",
	"STANDARDPACK":             "Office 365 E1",
	"EXCHANGESTANDARD":         "Exchange Online (Plan 1)",
	"EXCHANGEENTERPRISE":       "Exchange Online (Plan 2)",
	"AAD_PREMIUM":              "Microsoft Entra ID P1",
	"AAD_PREMIUM_P2":           "Microsoft Entra ID P2",
	"INTUNE_A":                 "Microsoft Intune Plan 1",
	"EMS":                      "Enterprise Mobility + Security E3",
	"EMSPREMIUM":               "Enterprise Mobility + Security E5",
	"POWER_BI_PRO":             "Power BI Pro",
	"PROJECTPREMIUM":           "Project Plan 5",
	"VISIOCLIENT":              "Visio Plan 2",
	"FLOW_FREE":                "Microsoft Power Automate Free",
	"TEAMS_EXPLORATORY":        "Microsoft Teams Exploratory",
	"Microsoft_Teams_Premium":  "Microsoft Teams Premium",
	"DEFENDER_ENDPOINT_P1":     "Microsoft Defender for Endpoint P1",
	"ATP_ENTERPRISE":           "Microsoft Defender for Office 365 (Plan 1)",
}

// ProductName is the friendly name for a SKU part number.
func ProductName(part string) string {
	if n, ok := productNames[part]; ok {
		return n
	}
	return part
}
