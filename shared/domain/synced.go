package domain

import "time"

// The synced collections: what tenantsync keeps per customer tenant. Field choice follows what the
// PSA and documentation tools MSPs use show (IT Glue, HaloPSA, ScalePad, Certero).

// User is a directory user.
type User struct {
	ID                 string    `json:"id"`
	UserPrincipalName  string    `json:"userPrincipalName"`
	DisplayName        string    `json:"displayName"`
	GivenName          string    `json:"givenName,omitempty"`
	Surname            string    `json:"surname,omitempty"`
	Mail               string    `json:"mail,omitempty"`
	Aliases            []string  `json:"aliases,omitempty"` // proxyAddresses without the primary
	AccountEnabled     bool      `json:"accountEnabled"`
	UserType           string    `json:"userType,omitempty"`
	JobTitle           string    `json:"jobTitle,omitempty"`
	Department         string    `json:"department,omitempty"`
	MobilePhone        string    `json:"mobilePhone,omitempty"`
	BusinessPhones     []string  `json:"businessPhones,omitempty"`
	OfficeLocation     string    `json:"officeLocation,omitempty"`
	UsageLocation      string    `json:"usageLocation,omitempty"`
	Created            time.Time `json:"createdDateTime,omitzero"`
	LastPasswordChange time.Time `json:"lastPasswordChangeDateTime,omitzero"`
	// LastSignIn is set only where the tenant has Entra ID premium.
	LastSignIn time.Time `json:"lastSignInDateTime,omitzero"`
	// Licenses are SKU part numbers (friendly names live on License).
	Licenses []string `json:"licenses,omitempty"`
	// MFA registration (joined from UserSecurity); nil when not available.
	MFARegistered   *bool    `json:"mfaRegistered,omitempty"`
	MFAMethods      []string `json:"mfaMethods,omitempty"`
	MFASource       string   `json:"mfaSource,omitempty"`
	MFARequired     *bool    `json:"mfaRequired,omitempty"`
	PerUserMFAState string   `json:"perUserMfaState,omitempty"`
	IsAdmin         bool     `json:"isAdmin,omitempty"`
}

// License is a subscribed SKU with its friendly name.
type License struct {
	SkuID         string `json:"skuId"`
	SkuPartNumber string `json:"skuPartNumber"`
	ProductName   string `json:"productName"`
	Enabled       int    `json:"enabled"`
	Consumed      int    `json:"consumed"`
	Available     int    `json:"available"`
	Suspended     int    `json:"suspended"`
	Warning       int    `json:"warning"`
	Status        string `json:"capabilityStatus"`
}

// Group is a security or Microsoft 365 group.
type Group struct {
	ID              string    `json:"id"`
	DisplayName     string    `json:"displayName"`
	Description     string    `json:"description,omitempty"`
	Mail            string    `json:"mail,omitempty"`
	MailEnabled     bool      `json:"mailEnabled"`
	SecurityEnabled bool      `json:"securityEnabled"`
	Kind            string    `json:"kind"` // microsoft365, security, distribution, mailEnabledSecurity
	Created         time.Time `json:"createdDateTime,omitzero"`
}

// Device is an Intune managed device linked to its user.
type Device struct {
	ID                string    `json:"id"`
	DeviceName        string    `json:"deviceName"`
	OperatingSystem   string    `json:"operatingSystem"`
	OSVersion         string    `json:"osVersion,omitempty"`
	ComplianceState   string    `json:"complianceState"`
	Manufacturer      string    `json:"manufacturer,omitempty"`
	Model             string    `json:"model,omitempty"`
	SerialNumber      string    `json:"serialNumber,omitempty"`
	Enrolled          time.Time `json:"enrolledDateTime,omitzero"`
	LastSync          time.Time `json:"lastSyncDateTime,omitzero"`
	UserID            string    `json:"userId,omitempty"`
	UserPrincipalName string    `json:"userPrincipalName,omitempty"`
}

// Mailbox is mailbox usage from the D7 usage report.
type Mailbox struct {
	UserPrincipalName string    `json:"userPrincipalName"`
	DisplayName       string    `json:"displayName"`
	RecipientType     string    `json:"recipientType,omitempty"`
	StorageUsedBytes  int64     `json:"storageUsedBytes"`
	ItemCount         int64     `json:"itemCount"`
	LastActivity      time.Time `json:"lastActivityDate,omitzero"`
	ProhibitSendQuota int64     `json:"prohibitSendQuotaBytes,omitempty"`
	HasArchive        bool      `json:"hasArchive"`
	ReportRefreshDate time.Time `json:"reportRefreshDate,omitzero"`
}

// UserSecurity is a user's MFA registration and last sign-in, kept apart from User because they
// come from other Graph endpoints (with their own licensing) and change on their own schedule.
type UserSecurity struct {
	ID            string   `json:"id"`
	MFARegistered *bool    `json:"mfaRegistered,omitempty"`
	MFAMethods    []string `json:"mfaMethods,omitempty"`
	// MFASource says where MFARegistered and MFAMethods come from: MFASourceReport or
	// MFASourceMethods (the user's registered authentication methods).
	MFASource string `json:"mfaSource,omitempty"`
	// MFARequired (tenants without Entra ID P1/P2): MFA is required of the user by security
	// defaults or per-user MFA; nil when unknown (and always with the registration report, since
	// Conditional Access cannot be evaluated per user).
	MFARequired *bool `json:"mfaRequired,omitempty"`
	// PerUserMFAState is the legacy per-user MFA state (disabled, enabled, enforced) when read.
	PerUserMFAState string    `json:"perUserMfaState,omitempty"`
	IsAdmin         bool      `json:"isAdmin,omitempty"`
	LastSignIn      time.Time `json:"lastSignInDateTime,omitzero"`
}

// Where a tenant's MFA state comes from (Tenant.MFASource; users carry the first or the last).
const (
	// MFASourceReport: Microsoft's registration report (userRegistrationDetails; Entra ID P1/P2).
	MFASourceReport = "registrationReport"
	// MFASourceSecurityDefaults: no P1/P2; security defaults are on, so MFA is required of every
	// user; registration from each user's registered methods.
	MFASourceSecurityDefaults = "securityDefaults"
	// MFASourcePerUser: no P1/P2, security defaults off; each user's per-user MFA state says
	// whether MFA is required, their registered methods whether they are registered.
	MFASourcePerUser = "perUserMfa"
	// MFASourceMethods: no P1/P2, and the policy or per-user states could not be read: registration
	// from registered methods only, whether MFA is required is unknown.
	MFASourceMethods = "methods"
)
