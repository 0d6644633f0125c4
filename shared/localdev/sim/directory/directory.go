// Package directory is the simulator's mutable directory state shared by its Entra, Graph and
// Partner Center faces: app registrations in the partner tenant and service principals (consent)
// in every tenant. Consent granted through Partner Center, through the admin-consent page or by
// the scenario all end here, and the token endpoint reads it to decide between a token and
// AADSTS7000229.
package directory

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// GraphPermissions maps Graph application permission values to their app role ids (from the
// Microsoft Graph permissions reference); the simulator's Graph service principal exposes these.
var GraphPermissions = map[string]string{
	"User.Read.All":                           "df021288-bdef-4463-88db-98f22de89214",
	"Group.Read.All":                          "5b567255-7703-4780-807c-7be8301ae99b",
	"Directory.Read.All":                      "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
	"Organization.Read.All":                   "498476ce-e0fe-48b0-b801-37ba7e2685c6",
	"Domain.Read.All":                         "dbb9058a-0e50-45d7-ae91-66909b5d4664",
	"DeviceManagementManagedDevices.Read.All": "2f51be20-0bb4-4fed-bf7b-db946066c75e",
	"Reports.Read.All":                        "230c1aed-a721-4c5d-9cb4-a90514e508ef",
	"ReportSettings.Read.All":                 "ee353f83-55ef-4b78-82da-555bfa2b4b95",
	"AuditLog.Read.All":                       "b0afded3-3588-46d8-8b3d-9842eff778da",
	"UserAuthenticationMethod.Read.All":       "38d9df27-64da-44fd-b7c5-a6fbac20248f",
	"Policy.Read.All":                         "246dd0d5-5bd0-4def-940b-0421030a5b68",
	"Mail.Send":                               "b633e1c5-b582-4048-a93e-9f11b44c7e96",
	"Application.ReadWrite.All":               "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
	"AppRoleAssignment.ReadWrite.All":         "06b708a9-e830-4db3-a914-8e69da51d44f",
	"DelegatedAdminRelationship.Read.All":     "f6e9e124-4586-492f-adc0-c6f96e4823fd",
}

// PermissionByID is the reverse of GraphPermissions.
func PermissionByID(id string) (string, bool) {
	for v, i := range GraphPermissions {
		if strings.EqualFold(i, id) {
			return v, true
		}
	}
	return "", false
}

// Application is an app registration (in the partner tenant).
type Application struct {
	ObjectID       string
	AppID          string
	DisplayName    string
	SignInAudience string
	RedirectURIs   []string
	// IDTokenIssuance is web.implicitGrantSettings.enableIdTokenIssuance; GroupMembershipClaims
	// the groups claim setting (None, SecurityGroup, All, DirectoryRole, ApplicationGroup).
	IDTokenIssuance       bool
	GroupMembershipClaims string
	// RequiredGraphRoles are the Graph application permissions the app asks for.
	RequiredGraphRoles []string
	// RequiredResourceAccess is kept verbatim (Graph JSON) for round trips.
	RequiredResourceAccess []byte
	Passwords              []PasswordCredential
	Keys                   []KeyCredential
	Federated              []FederatedCredential
	Created                time.Time
}

// PasswordCredential is a client secret; the value is kept only as a hash.
type PasswordCredential struct {
	KeyID       string
	DisplayName string
	Hint        string // first three characters, as Entra shows them
	hash        [32]byte
	Start, End  time.Time
}

// KeyCredential is a certificate credential.
type KeyCredential struct {
	KeyID       string
	DisplayName string
	Type        string // AsymmetricX509Cert
	Usage       string // Verify
	Thumbprint  string // base64url SHA-1 or SHA-256 of the DER certificate ("x5t" / "x5t#S256")
	DER         []byte
	Start, End  time.Time
}

// FederatedCredential trusts an external identity's tokens as client assertions.
type FederatedCredential struct {
	ID        string
	Name      string
	Issuer    string
	Subject   string
	Audiences []string
}

// ServicePrincipal is an app's presence (consent) in one tenant.
type ServicePrincipal struct {
	ObjectID    string
	AppID       string
	TenantID    string
	DisplayName string
	// Roles are the granted Graph application permissions (values such as User.Read.All).
	Roles []string
	// DelegatedScopes are the Graph delegated scopes of the tenant-wide (AllPrincipals)
	// oauth2PermissionGrant a Partner Center consent created.
	DelegatedScopes []string
	// Via records how consent arrived: scenario, cpv (Partner Center), adminconsent, graph.
	Via     string
	Created time.Time
}

// Directory is the shared state. Safe for concurrent use.
type Directory struct {
	world *scenario.World
	now   func() time.Time

	mu   sync.RWMutex
	apps map[string]*Application                 // by appId
	sps  map[string]map[string]*ServicePrincipal // tenant id → app id → SP
}

// ErrNotFound is returned for unknown apps and service principals.
var ErrNotFound = errors.New("not found")

// New builds the directory from a world: the scenario's pre-registered app, and a service
// principal in every tenant the scenario marks consented.
func New(w *scenario.World, now func() time.Time) *Directory {
	if now == nil {
		now = time.Now
	}
	d := &Directory{world: w, now: now, apps: map[string]*Application{}, sps: map[string]map[string]*ServicePrincipal{}}
	if a := w.App(); a != nil {
		app := &Application{
			ObjectID: uuid.NewSHA1(uuid.NameSpaceOID, []byte("app:"+a.AppID)).String(), AppID: a.AppID, DisplayName: a.DisplayName,
			SignInAudience: "AzureADMultipleOrgs", RedirectURIs: a.RedirectURIs, RequiredGraphRoles: a.Roles, Created: now(),
		}
		for _, s := range a.Secrets {
			app.Passwords = append(app.Passwords, NewPassword(s.KeyID, "scenario", s.Value, now(), s.EndDateTime))
		}
		for i, subj := range a.FederatedSubjects {
			app.Federated = append(app.Federated, FederatedCredential{ID: fmt.Sprintf("fic-%d", i), Name: "managed-identity", Subject: subj})
		}
		d.apps[a.AppID] = app
		// A pre-registered app is consented in its home tenant, as the registration command does:
		// its configured permissions, plus the partner-only app roles and delegated scopes.
		home := d.grantLocked(w.Partner().TenantID, app, "scenario")
		home.Roles = mergeRoles(home.Roles, scenario.PartnerGraphPermissions)
		home.DelegatedScopes = mergeRoles(home.DelegatedScopes, scenario.PartnerDelegatedScopes)
		for i := 0; i < w.TenantCount(); i++ {
			if t := w.TenantAt(i); t.Consented && !t.Deleted {
				sp := d.grantLocked(t.ID, app, "scenario")
				if t.GrantedRoles != nil {
					sp.Roles = mergeRoles(nil, t.GrantedRoles)
				}
			}
		}
	}
	return d
}

// World returns the scenario world.
func (d *Directory) World() *scenario.World { return d.world }

// NewPassword builds a password credential storing only the hash of value.
func NewPassword(keyID, name, value string, start, end time.Time) PasswordCredential {
	if keyID == "" {
		keyID = uuid.NewString()
	}
	hint := value
	if len(hint) > 3 {
		hint = hint[:3]
	}
	return PasswordCredential{KeyID: keyID, DisplayName: name, Hint: hint, hash: sha256.Sum256([]byte(value)), Start: start, End: end}
}

// Matches reports whether value is this secret.
func (p PasswordCredential) Matches(value string) bool { return sha256.Sum256([]byte(value)) == p.hash }

// App returns a copy of the app registration with appID.
func (d *Directory) App(appID string) (Application, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	a, ok := d.apps[strings.ToLower(appID)]
	if !ok {
		a, ok = d.apps[appID]
	}
	if !ok {
		return Application{}, false
	}
	return *a, true
}

// AppByObjectID returns a copy of the app registration with the given object id.
func (d *Directory) AppByObjectID(objectID string) (Application, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, a := range d.apps {
		if strings.EqualFold(a.ObjectID, objectID) {
			return *a, true
		}
	}
	return Application{}, false
}

// Apps lists app registrations ordered by display name.
func (d *Directory) Apps() []Application {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Application, 0, len(d.apps))
	for _, a := range d.apps {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DisplayName < out[j].DisplayName })
	return out
}

// PutApp creates or replaces an app registration (Graph POST/PATCH /applications).
func (d *Directory) PutApp(a Application) Application {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a.AppID == "" {
		a.AppID = uuid.NewString()
	}
	if a.ObjectID == "" {
		a.ObjectID = uuid.NewString()
	}
	if a.Created.IsZero() {
		a.Created = d.now()
	}
	cp := a
	d.apps[a.AppID] = &cp
	return cp
}

// DeleteApp removes an app registration and every service principal of it.
func (d *Directory) DeleteApp(appID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.apps[appID]; !ok {
		return ErrNotFound
	}
	delete(d.apps, appID)
	for _, m := range d.sps {
		delete(m, appID)
	}
	return nil
}

// ServicePrincipal returns the app's service principal in tenant.
func (d *Directory) ServicePrincipal(tenantID, appID string) (ServicePrincipal, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	sp, ok := d.sps[strings.ToLower(tenantID)][appID]
	if !ok {
		return ServicePrincipal{}, false
	}
	return *sp, true
}

// ServicePrincipals lists the service principals in tenant.
func (d *Directory) ServicePrincipals(tenantID string) []ServicePrincipal {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []ServicePrincipal
	for _, sp := range d.sps[strings.ToLower(tenantID)] {
		out = append(out, *sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AppID < out[j].AppID })
	return out
}

// Grant creates the app's service principal in tenant with the app's required Graph roles
// (consent). It reports whether it already existed (Partner Center's "Permission entry already
// exists"); an existing one gets any missing roles added.
func (d *Directory) Grant(tenantID, appID, via string) (ServicePrincipal, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	app, ok := d.apps[appID]
	if !ok {
		return ServicePrincipal{}, false, fmt.Errorf("application %s: %w", appID, ErrNotFound)
	}
	existed := d.sps[strings.ToLower(tenantID)][appID] != nil
	sp := d.grantLocked(tenantID, app, via)
	return *sp, existed, nil
}

// GrantDelegated is Partner Center's control-panel-vendor consent: it creates the app's service
// principal in the tenant and an admin (AllPrincipals) grant of the delegated scopes listed in
// applicationGrants, and assigns no app roles. Partner Center's GDAP FAQ: the consent API is for
// apps using delegated (App+User) permissions; application permissions need tenant-wide admin
// consent (https://learn.microsoft.com/partner-center/customers/gdap-faq, not reachable through
// the search tool in this session: unverified wording). CIPP, which does this in production,
// consents bootstrap delegated scopes (AppRoleAssignment.ReadWrite.All, Directory.ReadWrite.All,
// DelegatedPermissionGrant.ReadWrite.All) and then creates the app role assignments itself
// (KelvinTegelaar/CIPP-API Modules/CIPPCore/Public/Set-CIPPCPVConsent.ps1,
// Add-CIPPApplicationPermission.ps1). It reports whether the service principal already existed.
func (d *Directory) GrantDelegated(tenantID, appID string, scopes []string) (ServicePrincipal, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	app, ok := d.apps[appID]
	if !ok {
		return ServicePrincipal{}, false, fmt.Errorf("application %s: %w", appID, ErrNotFound)
	}
	tid := strings.ToLower(tenantID)
	if sp := d.sps[tid][appID]; sp != nil {
		return *sp, true, nil
	}
	if d.sps[tid] == nil {
		d.sps[tid] = map[string]*ServicePrincipal{}
	}
	sum := sha256.Sum256([]byte(tid + "/" + app.AppID))
	sp := &ServicePrincipal{ObjectID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(hex.EncodeToString(sum[:]))).String(),
		AppID: app.AppID, TenantID: tid, DisplayName: app.DisplayName, Via: "cpv", Created: d.now(),
		DelegatedScopes: mergeRoles(nil, scopes)}
	d.sps[tid][app.AppID] = sp
	return *sp, false, nil
}

// AddDelegatedScopes adds delegated Graph scopes to an existing service principal (an admin's
// oauth2PermissionGrant for all principals) and returns the scopes it now holds.
func (d *Directory) AddDelegatedScopes(tenantID, appID string, scopes []string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sp := d.sps[strings.ToLower(tenantID)][appID]
	if sp == nil {
		return nil, ErrNotFound
	}
	sp.DelegatedScopes = mergeRoles(sp.DelegatedScopes, scopes)
	return slices.Clone(sp.DelegatedScopes), nil
}

// GrantRoles adds Graph roles to an existing service principal (appRoleAssignments).
func (d *Directory) GrantRoles(tenantID, appID string, roles ...string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	sp := d.sps[strings.ToLower(tenantID)][appID]
	if sp == nil {
		return ErrNotFound
	}
	sp.Roles = mergeRoles(sp.Roles, roles)
	return nil
}

// WithdrawRoles removes Graph roles from an existing service principal: an admin deleting the app
// role assignments, or a consent given before the app asked for them (Partner Center does not
// update an existing consent).
func (d *Directory) WithdrawRoles(tenantID, appID string, roles ...string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	sp := d.sps[strings.ToLower(tenantID)][appID]
	if sp == nil {
		return ErrNotFound
	}
	sp.Roles = slices.DeleteFunc(sp.Roles, func(r string) bool { return slices.Contains(roles, r) })
	return nil
}

func (d *Directory) grantLocked(tenantID string, app *Application, via string) *ServicePrincipal {
	tid := strings.ToLower(tenantID)
	if d.sps[tid] == nil {
		d.sps[tid] = map[string]*ServicePrincipal{}
	}
	sp := d.sps[tid][app.AppID]
	if sp == nil {
		sum := sha256.Sum256([]byte(tid + "/" + app.AppID))
		sp = &ServicePrincipal{ObjectID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(hex.EncodeToString(sum[:]))).String(),
			AppID: app.AppID, TenantID: tid, DisplayName: app.DisplayName, Via: via, Created: d.now()}
		d.sps[tid][app.AppID] = sp
	}
	sp.Roles = mergeRoles(sp.Roles, app.RequiredGraphRoles)
	return sp
}

func mergeRoles(have, add []string) []string {
	seen := map[string]bool{}
	for _, r := range have {
		seen[r] = true
	}
	for _, r := range add {
		if !seen[r] {
			have = append(have, r)
			seen[r] = true
		}
	}
	sort.Strings(have)
	return have
}

// Revoke deletes the app's service principal in tenant (Partner Center DELETE applicationconsents).
func (d *Directory) Revoke(tenantID, appID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.sps[strings.ToLower(tenantID)]
	if m[appID] == nil {
		return ErrNotFound
	}
	delete(m, appID)
	return nil
}

// UpdateApp applies f to the app registration under the lock (credentials, redirect URIs).
func (d *Directory) UpdateApp(appID string, f func(*Application) error) (Application, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.apps[appID]
	if !ok {
		return Application{}, ErrNotFound
	}
	if err := f(a); err != nil {
		return Application{}, err
	}
	return *a, nil
}
