// Package scenario describes a simulated Microsoft cloud: one partner (the MSP) and its customer
// tenants with their users, groups, devices, licences, GDAP relationships, consent state, premium /
// Intune flags, report concealment and injected failures. A scenario is a small JSON file; tenants
// and users are produced lazily from the seed, by index, so a 1,000-tenant, 200,000-user scenario
// costs memory only for what changed. Time-step mutations (Step) change the data so delta queries
// can be tested.
package scenario

import "time"

// Well-known application ids.
const (
	GraphAppID         = "00000003-0000-0000-c000-000000000000"
	PartnerCenterAppID = "fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd"
	GraphAudience      = "https://graph.microsoft.com"
	PartnerAudience    = "https://api.partnercenter.microsoft.com"
	VaultAudience      = "https://vault.azure.net"
)

// GDAP role definition ids (Microsoft Entra built-in roles).
const (
	RoleGlobalReader          = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
	RoleApplicationAdmin      = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
	RoleCloudApplicationAdmin = "158c047a-c907-4556-b7ef-446551a6b5f7"
	RoleUserAdmin             = "fe930be7-5e62-47db-91af-98c3a49a38b1"
	RoleLicenseAdmin          = "4d6ac14f-3453-41d0-bef9-a3e0c569773a"
	RoleDirectoryReaders      = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
	RoleReportsReader         = "4a5d8f65-41da-4de4-8968-e035b65339cf"
	RoleGlobalAdmin           = "62e90394-69f5-4237-9190-012177145e10"
	// RolePrivilegedRoleAdmin can grant Microsoft Graph app roles (application permissions);
	// Application and Cloud Application Administrator cannot ("Grant tenant-wide admin consent",
	// https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent).
	RolePrivilegedRoleAdmin = "e8611ab8-c189-46e8-94e1-60213ab1f814"
)

// File is the scenario file format (JSON).
type File struct {
	Name    string       `json:"name"`
	Seed    int64        `json:"seed"`
	Partner PartnerSpec  `json:"partner"`
	App     *AppSpec     `json:"app,omitempty"`
	Tenants []TenantSpec `json:"tenants"`
	// Generate appends Count generated tenants after the explicit ones.
	Generate *GenerateSpec `json:"generate,omitempty"`
	// Faults apply to every tenant unless the tenant sets its own.
	Faults Faults `json:"faults,omitempty"`
}

// PartnerSpec is the MSP's own tenant.
type PartnerSpec struct {
	TenantID    string            `json:"tenantId"`
	DisplayName string            `json:"displayName"`
	Domain      string            `json:"domain"`
	Users       []PartnerUserSpec `json:"users"`
}

// PartnerUserSpec is a user in the partner tenant who can sign in (the MFA service account, an admin).
type PartnerUserSpec struct {
	ID          string `json:"id"`
	UPN         string `json:"userPrincipalName"`
	DisplayName string `json:"displayName"`
	// MFA: the user completes MFA at sign-in, so tokens carry amr ["pwd","mfa"].
	MFA bool `json:"mfa"`
	// SignInError makes every sign-in of this user fail with this AADSTS code
	// (50076 MFA required, 53003 Conditional Access, 50173 grant revoked, ...).
	SignInError string `json:"signInError,omitempty"`
	// Groups are the object ids of the partner-tenant groups the user belongs to; sign-in id
	// tokens carry them in "groups" (more than 200 become the groups overage claim).
	Groups []string `json:"groups,omitempty"`
	// GDAPAgent: the user is a member of the partner security group every GDAP access
	// assignment of the scenario names, so in a customer tenant the user holds the roles of the
	// active relationships' access assignments (delegatedAdminAccessAssignment: "once it's active,
	// the members of the access container get access to the roles specified in the access
	// details", https://learn.microsoft.com/graph/api/resources/delegatedadminaccessassignment).
	GDAPAgent bool `json:"gdapAgent,omitempty"`
}

// AppSpec pre-registers tenantsync's multi-tenant app in the partner tenant (tests and the demo;
// the onboarding command can also create it through Graph /applications).
type AppSpec struct {
	AppID        string       `json:"appId"`
	DisplayName  string       `json:"displayName"`
	Secrets      []SecretSpec `json:"secrets,omitempty"`
	RedirectURIs []string     `json:"redirectUris,omitempty"`
	// FederatedSubjects lists managed-identity object ids whose tokens are accepted as client
	// assertions (federated identity credentials).
	FederatedSubjects []string `json:"federatedSubjects,omitempty"`
	// Roles are the Graph application permissions (e.g. "User.Read.All") granted when a tenant
	// consents; tokens for consented tenants carry them in "roles".
	Roles []string `json:"roles,omitempty"`
}

// SecretSpec is a client secret. KeyID is what the portal calls the secret ID (pasting it instead of
// the value gives AADSTS7000215); a past EndDateTime gives AADSTS7000222.
type SecretSpec struct {
	KeyID       string    `json:"keyId"`
	Value       string    `json:"value"`
	EndDateTime time.Time `json:"endDateTime"`
}

// TenantSpec is one explicit customer tenant.
type TenantSpec struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Domain      string `json:"domain"` // initial domain, e.g. contoso.onmicrosoft.com
	// CustomDomain, if set, is the default (verified) domain.
	CustomDomain string             `json:"customDomain,omitempty"`
	Users        int                `json:"users"`
	Groups       int                `json:"groups"`
	Devices      int                `json:"devices"`
	Skus         []SkuSpec          `json:"skus,omitempty"`
	GDAP         []RelationshipSpec `json:"gdap,omitempty"`
	// CSP: the tenant is a Partner Center customer of the partner.
	CSP bool `json:"csp"`
	// Consented: tenantsync's app already has a service principal (consent granted) here.
	Consented bool `json:"consented"`
	// GrantedRoles, when set on a consented tenant, are the Graph app roles its service principal
	// holds (a consent given long ago, before the app asked for more); nil: every role the app asks for.
	GrantedRoles   []string `json:"grantedRoles,omitempty"`
	Premium        bool     `json:"premium"` // Entra ID P1/P2: signInActivity works
	Intune         bool     `json:"intune"`  // managed devices readable
	ConcealReports bool     `json:"concealReports"`
	// SecurityDefaults: the Entra ID security defaults policy is on (MFA registration required of
	// every user). Tenants without P1/P2 protect users with it or with per-user MFA.
	SecurityDefaults bool `json:"securityDefaults,omitempty"`
	// ReportUnknownEvery / ReportRedactedEvery: every Nth mailbox user (index % N == N-1) appears in
	// usage reports as "(Unknown)" (microsoft-graph-docs#15148) or with a "<PII:H105(...)>@domain"
	// name (microsoft-graph-docs-contrib#3420) although names are not concealed (0: never).
	ReportUnknownEvery  int `json:"reportUnknownEvery,omitempty"`
	ReportRedactedEvery int `json:"reportRedactedEvery,omitempty"`
	// Deleted: the tenant no longer exists (AADSTS90002 from discovery and token endpoints).
	Deleted bool    `json:"deleted,omitempty"`
	Faults  *Faults `json:"faults,omitempty"`
}

// SkuSpec is a licence subscription.
type SkuSpec struct {
	SkuID         string `json:"skuId"`
	SkuPartNumber string `json:"skuPartNumber"`
	Prepaid       int    `json:"prepaid"`
	// AssignEvery: user i is assigned this SKU when i % AssignEvery == 0 (1: everyone; 0: nobody).
	AssignEvery int `json:"assignEvery"`
}

// RelationshipSpec is a GDAP relationship with the partner.
type RelationshipSpec struct {
	ID         string   `json:"id,omitempty"`
	Status     string   `json:"status"`    // active, expired, terminated, approvalPending, ...
	Roles      []string `json:"roles"`     // role definition ids
	EndInDays  int      `json:"endInDays"` // relative to scenario time; negative: already ended
	AutoExtend bool     `json:"autoExtend"`
	// AssignedRoles are the roles of the relationship's access assignment (the security group's
	// roles); nil means every role of the relationship. A role in the relationship but not in
	// the access assignment is held by nobody.
	AssignedRoles []string `json:"assignedRoles,omitempty"`
}

// Faults inject failure modes.
type Faults struct {
	// TokenError makes app-only token requests for the tenant fail with this AADSTS code
	// (e.g. "7000229"); empty: consent state decides.
	TokenError string `json:"tokenError,omitempty"`
	// ThrottleEvery answers every Nth Graph request for the tenant with 429 (0: never).
	ThrottleEvery int `json:"throttleEvery,omitempty"`
	// RetryAfter is the Retry-After value sent with 429s, whole ("2") or fractional ("0.5").
	RetryAfter string `json:"retryAfter,omitempty"`
	// UnavailableEvery answers every Nth Graph request with 503 (0: never).
	UnavailableEvery int `json:"unavailableEvery,omitempty"`
	// LatencyMs is added to every Graph request for the tenant.
	LatencyMs int `json:"latencyMs,omitempty"`
	// ExpireDeltaTokens makes every delta token for the tenant invalid (resync required).
	ExpireDeltaTokens bool `json:"expireDeltaTokens,omitempty"`
	// Fail makes every Graph request to one path fail, $batch items included.
	Fail []EndpointFault `json:"fail,omitempty"`
}

// EndpointFault answers every Graph request to Path with an error: what Graph does when a
// permission is missing (403 Authorization_RequestDenied), a resource is gone (404), throttling
// outlasts every retry (429) or a service is down (500, 503). Code and Message go into Graph's
// error body {"error":{"code","message"}} and are left out of it when empty; NoBody sends no body
// at all. Graph itself always sends both: the variants model answers a client must survive.
type EndpointFault struct {
	// Path is the request path after /v1.0, without the query (e.g. "/subscribedSkus"); compared
	// case-insensitively, as Graph does.
	Path       string `json:"path"`
	Status     int    `json:"status"`
	Code       string `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
	NoBody     bool   `json:"noBody,omitempty"`
	RetryAfter string `json:"retryAfter,omitempty"` // sent with the answer when set
}

// GenerateSpec generates tenants by index, deterministically from the scenario seed.
type GenerateSpec struct {
	Count    int `json:"count"`
	MinUsers int `json:"minUsers"`
	MaxUsers int `json:"maxUsers"`
	// Fractions of generated tenants with each property (0..1), picked by a seeded hash.
	Premium        float64 `json:"premium"`
	Intune         float64 `json:"intune"`
	ConcealReports float64 `json:"concealReports"`
	Consented      float64 `json:"consented"`
	CSP            float64 `json:"csp"`
	// SecurityDefaults: fraction of generated tenants without P1/P2 that have security defaults on.
	SecurityDefaults float64 `json:"securityDefaults,omitempty"`
}
