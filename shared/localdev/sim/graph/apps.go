package graph

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// App registrations live in the partner tenant (package directory holds them); service principals
// live in every tenant. Each tenant also has Microsoft Graph's own service principal, whose app
// roles are the Graph application permissions: granting one (appRoleAssignedTo) is admin consent
// for that permission.

const microsoftTenantID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a" // owner of Microsoft's first-party apps

func graphSPID(tenantID string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("graph-sp:"+strings.ToLower(tenantID))).String()
}

func decodeBody(c *call, v any) *gerr {
	if err := json.NewDecoder(io.LimitReader(c.r.Body, 4<<20)).Decode(v); err != nil {
		return errBadRequest("Invalid request body: %v", err)
	}
	return nil
}

// ---- applications ----

type resourceAccess struct {
	ResourceAppID  string `json:"resourceAppId"`
	ResourceAccess []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"resourceAccess"`
}

type keyCredentialBody struct {
	KeyID         string     `json:"keyId"`
	Type          string     `json:"type"`
	Usage         string     `json:"usage"`
	Key           *string    `json:"key"`
	DisplayName   string     `json:"displayName"`
	StartDateTime *time.Time `json:"startDateTime"`
	EndDateTime   *time.Time `json:"endDateTime"`
}

type appBody struct {
	DisplayName    *string `json:"displayName"`
	SignInAudience *string `json:"signInAudience"`
	Web            *struct {
		RedirectURIs          []string `json:"redirectUris"`
		ImplicitGrantSettings *struct {
			EnableIDTokenIssuance     *bool `json:"enableIdTokenIssuance"`
			EnableAccessTokenIssuance *bool `json:"enableAccessTokenIssuance"`
		} `json:"implicitGrantSettings"`
	} `json:"web"`
	GroupMembershipClaims  *string             `json:"groupMembershipClaims"`
	RequiredResourceAccess json.RawMessage     `json:"requiredResourceAccess"`
	KeyCredentials         []keyCredentialBody `json:"keyCredentials"`
}

// graphRoles extracts the Graph application permissions from requiredResourceAccess.
func graphRoles(raw json.RawMessage) ([]string, *gerr) {
	var rra []resourceAccess
	if err := json.Unmarshal(raw, &rra); err != nil {
		return nil, errBadRequest("Invalid value specified for property 'requiredResourceAccess' of resource 'Application'.")
	}
	var roles []string
	for _, r := range rra {
		if !strings.EqualFold(r.ResourceAppID, scenario.GraphAppID) {
			continue
		}
		for _, a := range r.ResourceAccess {
			if strings.EqualFold(a.Type, "Role") {
				if v, ok := directory.PermissionByID(a.ID); ok {
					roles = append(roles, v)
				}
			}
		}
	}
	return roles, nil
}

func (b *appBody) apply(a *directory.Application) *gerr {
	if b.DisplayName != nil {
		if strings.TrimSpace(*b.DisplayName) == "" {
			return errBadRequest("Invalid value specified for property 'displayName' of resource 'Application'.")
		}
		a.DisplayName = *b.DisplayName
	}
	if b.SignInAudience != nil {
		switch *b.SignInAudience {
		case "AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount":
			a.SignInAudience = *b.SignInAudience
		default:
			return errBadRequest("Invalid value specified for property 'signInAudience' of resource 'Application'.")
		}
	}
	if b.Web != nil {
		for _, u := range b.Web.RedirectURIs {
			if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://localhost") && !strings.HasPrefix(u, "http://127.0.0.1") {
				return errBadRequest("Invalid value specified for property 'web.redirectUris' of resource 'Application'.")
			}
		}
		a.RedirectURIs = append([]string(nil), b.Web.RedirectURIs...)
		if g := b.Web.ImplicitGrantSettings; g != nil && g.EnableIDTokenIssuance != nil {
			a.IDTokenIssuance = *g.EnableIDTokenIssuance
		}
	}
	if b.GroupMembershipClaims != nil {
		// application resource type, groupMembershipClaims: "None, SecurityGroup (for security
		// groups and Microsoft Entra roles), All"; the manifest also knows DirectoryRole and
		// ApplicationGroup (learn.microsoft.com/graph/api/resources/application,
		// entra/identity-platform/reference-app-manifest).
		switch *b.GroupMembershipClaims {
		case "None", "SecurityGroup", "All", "DirectoryRole", "ApplicationGroup":
			a.GroupMembershipClaims = *b.GroupMembershipClaims
		default:
			return errBadRequest("Invalid value specified for property 'groupMembershipClaims' of resource 'Application'.")
		}
	}
	if len(b.RequiredResourceAccess) > 0 && string(b.RequiredResourceAccess) != "null" {
		roles, e := graphRoles(b.RequiredResourceAccess)
		if e != nil {
			return e
		}
		a.RequiredGraphRoles = roles
		a.RequiredResourceAccess = append([]byte(nil), b.RequiredResourceAccess...)
	}
	if b.KeyCredentials != nil {
		keys := make([]directory.KeyCredential, 0, len(b.KeyCredentials))
		for _, k := range b.KeyCredentials {
			kc, e := keyCredential(k, a.Keys)
			if e != nil {
				return e
			}
			keys = append(keys, kc)
		}
		a.Keys = keys
	}
	return nil
}

// keyCredential turns a PATCHed certificate into a credential; entries without key keep an
// existing credential with the same keyId (as Graph lets clients send the current set back).
func keyCredential(k keyCredentialBody, existing []directory.KeyCredential) (directory.KeyCredential, *gerr) {
	if k.Key == nil || *k.Key == "" {
		for _, e := range existing {
			if strings.EqualFold(e.KeyID, k.KeyID) {
				return e, nil
			}
		}
		return directory.KeyCredential{}, errBadRequest("Invalid value specified for property 'key' of resource 'KeyCredential'.")
	}
	der, err := base64.StdEncoding.DecodeString(*k.Key)
	if err != nil {
		return directory.KeyCredential{}, errBadRequest("Invalid value specified for property 'key' of resource 'KeyCredential'.")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return directory.KeyCredential{}, errBadRequest("Key credential is not a valid X.509 certificate.")
	}
	if k.Type != "" && k.Type != "AsymmetricX509Cert" {
		return directory.KeyCredential{}, errBadRequest("Invalid value specified for property 'type' of resource 'KeyCredential'.")
	}
	sum := sha1.Sum(der)
	kc := directory.KeyCredential{
		KeyID: k.KeyID, DisplayName: k.DisplayName, Type: "AsymmetricX509Cert", Usage: "Verify",
		Thumbprint: base64.RawURLEncoding.EncodeToString(sum[:]), DER: der, Start: cert.NotBefore.UTC(), End: cert.NotAfter.UTC(),
	}
	if kc.KeyID == "" {
		kc.KeyID = uuid.NewString()
	}
	if kc.DisplayName == "" {
		kc.DisplayName = cert.Subject.String()
	}
	if k.StartDateTime != nil {
		kc.Start = k.StartDateTime.UTC()
	}
	if k.EndDateTime != nil {
		kc.End = k.EndDateTime.UTC()
	}
	return kc, nil
}

func passwordObj(p directory.PasswordCredential, secret any) obj {
	return obj{
		{"customKeyIdentifier", nil}, {"displayName", p.DisplayName}, {"endDateTime", p.End}, {"hint", p.Hint},
		{"keyId", p.KeyID}, {"secretText", secret}, {"startDateTime", p.Start},
	}
}

func appObj(s *Service, a directory.Application) obj {
	rra := any(json.RawMessage(a.RequiredResourceAccess))
	if len(a.RequiredResourceAccess) == 0 {
		access := []obj{}
		for _, r := range a.RequiredGraphRoles {
			if id, ok := directory.GraphPermissions[r]; ok {
				access = append(access, obj{{"id", id}, {"type", "Role"}})
			}
		}
		rra = []obj{}
		if len(access) > 0 {
			rra = []obj{{{"resourceAppId", scenario.GraphAppID}, {"resourceAccess", access}}}
		}
	}
	pw := []obj{}
	for _, p := range a.Passwords {
		pw = append(pw, passwordObj(p, nil))
	}
	keys := []obj{}
	for _, k := range a.Keys {
		raw, _ := base64.RawURLEncoding.DecodeString(k.Thumbprint)
		keys = append(keys, obj{
			{"customKeyIdentifier", base64.StdEncoding.EncodeToString(raw)}, {"displayName", k.DisplayName}, {"endDateTime", k.End},
			{"key", nil}, {"keyId", k.KeyID}, {"startDateTime", k.Start}, {"type", k.Type}, {"usage", k.Usage},
		})
	}
	redirects := a.RedirectURIs
	if redirects == nil {
		redirects = []string{}
	}
	audience := a.SignInAudience
	if audience == "" {
		audience = "AzureADMyOrg"
	}
	return obj{
		{"id", a.ObjectID},
		{"deletedDateTime", nil},
		{"appId", a.AppID},
		{"applicationTemplateId", nil},
		{"createdDateTime", a.Created},
		{"displayName", a.DisplayName},
		{"description", nil},
		{"identifierUris", []string{}},
		{"isFallbackPublicClient", nil},
		{"publisherDomain", s.world.Partner().Domain},
		{"signInAudience", audience},
		{"tags", []string{}},
		{"groupMembershipClaims", nilIfEmpty(a.GroupMembershipClaims)},
		{"web", obj{{"homePageUrl", nil}, {"logoutUrl", nil}, {"redirectUris", redirects},
			{"implicitGrantSettings", obj{{"enableAccessTokenIssuance", false}, {"enableIdTokenIssuance", a.IDTokenIssuance}}}}},
		{"spa", obj{{"redirectUris", []string{}}}},
		{"publicClient", obj{{"redirectUris", []string{}}}},
		{"requiredResourceAccess", rra},
		{"keyCredentials", keys},
		{"passwordCredentials", pw},
	}
}

var appFilter = filterSpec{resource: "Application", props: map[string]bool{"appid": true, "id": true, "displayname": true}}

func appGetter(a *directory.Application) getter {
	return func(p string) any {
		switch p {
		case "appid":
			return a.AppID
		case "id":
			return a.ObjectID
		case "displayname":
			return a.DisplayName
		}
		return nil
	}
}

func handleApps(c *call) *gerr {
	if e := c.require(permAppRead); e != nil {
		return e
	}
	f, e := parseFilter(qgetOr(c.q, "filter"), appFilter)
	if e != nil {
		return e
	}
	col := c.startCollection("applications", nil)
	if c.ten.partner {
		for _, a := range c.s.opts.Directory.Apps() {
			if matches(f, appGetter(&a)) {
				col.j.elem(appObj(c.s, a))
			}
		}
	}
	col.end("", "")
	return nil
}

func handleCreateApp(c *call) *gerr {
	if e := c.require(permAppWrite); e != nil {
		return e
	}
	if !c.ten.partner {
		return errBadRequest("The simulator registers applications in the partner tenant only.")
	}
	var b appBody
	if e := decodeBody(c, &b); e != nil {
		return e
	}
	if b.DisplayName == nil {
		return errBadRequest("Invalid value specified for property 'displayName' of resource 'Application'.")
	}
	a := directory.Application{SignInAudience: "AzureADMyOrg", Created: c.s.now().UTC().Truncate(time.Second)}
	if e := b.apply(&a); e != nil {
		return e
	}
	a = c.s.opts.Directory.PutApp(a)
	writeJSON(c, http.StatusCreated, append(obj{{"@odata.context", c.s.contextURL("applications/$entity")}}, appObj(c.s, a)...))
	return nil
}

// findApp resolves /applications/{objectId} or /applications(appId='...').
func (c *call) findApp(key string, byAppID bool) (directory.Application, *gerr) {
	if c.ten.partner {
		if byAppID {
			if a, ok := c.s.opts.Directory.App(key); ok {
				return a, nil
			}
		} else if a, ok := c.s.opts.Directory.AppByObjectID(key); ok {
			return a, nil
		}
	}
	return directory.Application{}, errNotFound(key)
}

func appRoutes(key string, byAppID bool, rest []string, method string) (handler, string) {
	base := "/applications/{id}"
	if byAppID {
		base = "/applications(appId={id})"
	}
	sub := ""
	if len(rest) > 0 {
		sub = strings.ToLower(rest[0])
	}
	switch {
	case len(rest) == 0 && method == http.MethodGet:
		return func(c *call) *gerr { return appGet(c, key, byAppID) }, base
	case len(rest) == 0 && method == http.MethodPatch:
		return func(c *call) *gerr { return appPatch(c, key, byAppID) }, base
	case len(rest) == 0 && method == http.MethodDelete:
		return func(c *call) *gerr { return appDelete(c, key, byAppID) }, base
	case len(rest) == 1 && sub == "addpassword" && method == http.MethodPost:
		return func(c *call) *gerr { return appAddPassword(c, key, byAppID) }, base + "/addPassword"
	case len(rest) == 1 && sub == "removepassword" && method == http.MethodPost:
		return func(c *call) *gerr { return appRemovePassword(c, key, byAppID) }, base + "/removePassword"
	case len(rest) == 1 && sub == "federatedidentitycredentials" && method == http.MethodGet:
		return func(c *call) *gerr { return ficList(c, key, byAppID) }, base + "/federatedIdentityCredentials"
	case len(rest) == 1 && sub == "federatedidentitycredentials" && method == http.MethodPost:
		return func(c *call) *gerr { return ficCreate(c, key, byAppID) }, base + "/federatedIdentityCredentials"
	case len(rest) == 2 && sub == "federatedidentitycredentials" && method == http.MethodGet:
		return func(c *call) *gerr { return ficGet(c, key, byAppID, rest[1]) }, base + "/federatedIdentityCredentials/{id}"
	case len(rest) == 2 && sub == "federatedidentitycredentials" && method == http.MethodDelete:
		return func(c *call) *gerr { return ficDelete(c, key, byAppID, rest[1]) }, base + "/federatedIdentityCredentials/{id}"
	}
	if len(rest) == 0 || sub == "addpassword" || sub == "removepassword" || sub == "federatedidentitycredentials" {
		return func(c *call) *gerr { return errMethod() }, base
	}
	return nil, base + "/<unknown>"
}

func appGet(c *call, key string, byAppID bool) *gerr {
	if e := c.require(permAppRead); e != nil {
		return e
	}
	a, e := c.findApp(key, byAppID)
	if e != nil {
		return e
	}
	writeJSON(c, http.StatusOK, append(obj{{"@odata.context", c.s.contextURL("applications/$entity")}}, appObj(c.s, a)...))
	return nil
}

func appPatch(c *call, key string, byAppID bool) *gerr {
	if e := c.require(permAppWrite); e != nil {
		return e
	}
	a, e := c.findApp(key, byAppID)
	if e != nil {
		return e
	}
	var b appBody
	if e := decodeBody(c, &b); e != nil {
		return e
	}
	var ge *gerr
	if _, err := c.s.opts.Directory.UpdateApp(a.AppID, func(x *directory.Application) error {
		ge = b.apply(x)
		if ge != nil {
			return ge
		}
		return nil
	}); err != nil {
		if ge != nil {
			return ge
		}
		return errNotFound(key)
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func appDelete(c *call, key string, byAppID bool) *gerr {
	if e := c.require(permAppWrite); e != nil {
		return e
	}
	a, e := c.findApp(key, byAppID)
	if e != nil {
		return e
	}
	if err := c.s.opts.Directory.DeleteApp(a.AppID); err != nil {
		return errNotFound(key)
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// newSecret makes a client secret shaped like Entra's: 40 characters with "Q~" at 3..4.
func newSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.~"
	pick := func(set string) byte {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		return set[n.Int64()]
	}
	b := make([]byte, 0, 40)
	for range 3 {
		b = append(b, pick(alphabet[:62]))
	}
	b = append(b, '8', 'Q', '~')
	for len(b) < 40 {
		b = append(b, pick(alphabet))
	}
	return string(b)
}

func appAddPassword(c *call, key string, byAppID bool) *gerr {
	if e := c.require(permAppWrite); e != nil {
		return e
	}
	a, e := c.findApp(key, byAppID)
	if e != nil {
		return e
	}
	var b struct {
		PasswordCredential *struct {
			DisplayName   string     `json:"displayName"`
			StartDateTime *time.Time `json:"startDateTime"`
			EndDateTime   *time.Time `json:"endDateTime"`
		} `json:"passwordCredential"`
	}
	if e := decodeBody(c, &b); e != nil {
		return e
	}
	now := c.s.now().UTC().Truncate(time.Second)
	start, end, name := now, now.AddDate(2, 0, 0), ""
	if p := b.PasswordCredential; p != nil {
		name = p.DisplayName
		if p.StartDateTime != nil {
			start = p.StartDateTime.UTC()
		}
		if p.EndDateTime != nil {
			end = p.EndDateTime.UTC()
		}
	}
	if !end.After(start) {
		return errBadRequest("Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.")
	}
	secret := newSecret()
	pc := directory.NewPassword(uuid.NewString(), name, secret, start, end)
	if _, err := c.s.opts.Directory.UpdateApp(a.AppID, func(x *directory.Application) error {
		x.Passwords = append(x.Passwords, pc)
		return nil
	}); err != nil {
		return errNotFound(key)
	}
	writeJSON(c, http.StatusOK, append(obj{{"@odata.context", c.s.contextURL("microsoft.graph.passwordCredential")}}, passwordObj(pc, secret)...))
	return nil
}

func appRemovePassword(c *call, key string, byAppID bool) *gerr {
	if e := c.require(permAppWrite); e != nil {
		return e
	}
	a, e := c.findApp(key, byAppID)
	if e != nil {
		return e
	}
	var b struct {
		KeyID string `json:"keyId"`
	}
	if e := decodeBody(c, &b); e != nil {
		return e
	}
	found := false
	_, _ = c.s.opts.Directory.UpdateApp(a.AppID, func(x *directory.Application) error {
		kept := x.Passwords[:0]
		for _, p := range x.Passwords {
			if strings.EqualFold(p.KeyID, b.KeyID) {
				found = true
				continue
			}
			kept = append(kept, p)
		}
		x.Passwords = kept
		return nil
	})
	if !found {
		return errBadRequest("No password credential with keyId '%s' exists on application '%s'.", b.KeyID, a.AppID)
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- federated identity credentials ----

func ficObj(f directory.FederatedCredential) obj {
	aud := f.Audiences
	if aud == nil {
		aud = []string{}
	}
	return obj{{"id", f.ID}, {"name", f.Name}, {"issuer", f.Issuer}, {"subject", f.Subject}, {"description", nil}, {"audiences", aud}}
}

func ficList(c *call, key string, byAppID bool) *gerr {
	if e := c.require(permAppRead); e != nil {
		return e
	}
	a, e := c.findApp(key, byAppID)
	if e != nil {
		return e
	}
	col := c.startCollection("applications('"+a.ObjectID+"')/federatedIdentityCredentials", nil)
	for _, f := range a.Federated {
		col.j.elem(ficObj(f))
	}
	col.end("", "")
	return nil
}

func findFIC(a directory.Application, idOrName string) (directory.FederatedCredential, bool) {
	for _, f := range a.Federated {
		if strings.EqualFold(f.ID, idOrName) || f.Name == idOrName {
			return f, true
		}
	}
	return directory.FederatedCredential{}, false
}

func ficGet(c *call, key string, byAppID bool, id string) *gerr {
	if e := c.require(permAppRead); e != nil {
		return e
	}
	a, e := c.findApp(key, byAppID)
	if e != nil {
		return e
	}
	f, ok := findFIC(a, id)
	if !ok {
		return errNotFound(id)
	}
	writeJSON(c, http.StatusOK, append(obj{{"@odata.context", c.s.contextURL("applications('" + a.ObjectID + "')/federatedIdentityCredentials/$entity")}}, ficObj(f)...))
	return nil
}

func ficCreate(c *call, key string, byAppID bool) *gerr {
	if e := c.require(permAppWrite); e != nil {
		return e
	}
	a, e := c.findApp(key, byAppID)
	if e != nil {
		return e
	}
	var b struct {
		Name      string   `json:"name"`
		Issuer    string   `json:"issuer"`
		Subject   string   `json:"subject"`
		Audiences []string `json:"audiences"`
	}
	if e := decodeBody(c, &b); e != nil {
		return e
	}
	switch {
	case strings.TrimSpace(b.Name) == "":
		return errBadRequest("Invalid value specified for property 'name' of resource 'FederatedIdentityCredential'.")
	case strings.TrimSpace(b.Issuer) == "":
		return errBadRequest("Invalid value specified for property 'issuer' of resource 'FederatedIdentityCredential'.")
	case strings.TrimSpace(b.Subject) == "":
		return errBadRequest("Invalid value specified for property 'subject' of resource 'FederatedIdentityCredential'.")
	}
	if len(b.Audiences) == 0 {
		b.Audiences = []string{"api://AzureADTokenExchange"}
	}
	f := directory.FederatedCredential{ID: uuid.NewString(), Name: b.Name, Issuer: b.Issuer, Subject: b.Subject, Audiences: b.Audiences}
	var ge *gerr
	_, err := c.s.opts.Directory.UpdateApp(a.AppID, func(x *directory.Application) error {
		if len(x.Federated) >= 20 {
			ge = errBadRequest("The application already has the maximum number (20) of federated identity credentials.")
			return ge
		}
		for _, o := range x.Federated {
			if o.Name == f.Name {
				ge = errf(http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "FederatedIdentityCredential with name %s already exists.", f.Name)
				return ge
			}
			if o.Issuer == f.Issuer && o.Subject == f.Subject {
				ge = errf(http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "FederatedIdentityCredential with the same issuer and subject already exists.")
				return ge
			}
		}
		x.Federated = append(x.Federated, f)
		return nil
	})
	if ge != nil {
		return ge
	}
	if err != nil {
		return errNotFound(key)
	}
	writeJSON(c, http.StatusCreated, append(obj{{"@odata.context", c.s.contextURL("applications('" + a.ObjectID + "')/federatedIdentityCredentials/$entity")}}, ficObj(f)...))
	return nil
}

func ficDelete(c *call, key string, byAppID bool, id string) *gerr {
	if e := c.require(permAppWrite); e != nil {
		return e
	}
	a, e := c.findApp(key, byAppID)
	if e != nil {
		return e
	}
	found := false
	_, _ = c.s.opts.Directory.UpdateApp(a.AppID, func(x *directory.Application) error {
		kept := x.Federated[:0]
		for _, f := range x.Federated {
			if strings.EqualFold(f.ID, id) || f.Name == id {
				found = true
				continue
			}
			kept = append(kept, f)
		}
		x.Federated = kept
		return nil
	})
	if !found {
		return errNotFound(id)
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- service principals ----

// spView is a service principal in the request's tenant: Graph's own or an app's.
type spView struct {
	graph bool
	sp    directory.ServicePrincipal
	id    string
	appID string
	name  string
}

func (c *call) graphSP() spView {
	return spView{graph: true, id: graphSPID(c.ten.id), appID: scenario.GraphAppID, name: "Microsoft Graph"}
}

func (c *call) spViews() []spView {
	out := []spView{c.graphSP()}
	for _, sp := range c.s.opts.Directory.ServicePrincipals(c.ten.id) {
		out = append(out, spView{sp: sp, id: sp.ObjectID, appID: sp.AppID, name: sp.DisplayName})
	}
	return out
}

func (c *call) findSP(key string, byAppID bool) (spView, *gerr) {
	for _, v := range c.spViews() {
		if (byAppID && strings.EqualFold(v.appID, key)) || (!byAppID && strings.EqualFold(v.id, key)) {
			return v, nil
		}
	}
	return spView{}, errNotFound(key)
}

func graphAppRoles() []obj {
	names := make([]string, 0, len(directory.GraphPermissions))
	for v := range directory.GraphPermissions {
		names = append(names, v)
	}
	sort.Strings(names)
	out := make([]obj, 0, len(names))
	for _, v := range names {
		out = append(out, obj{
			{"allowedMemberTypes", []string{"Application"}}, {"description", "Allows the app to " + v + " without a signed-in user."},
			{"displayName", v}, {"id", directory.GraphPermissions[v]}, {"isEnabled", true}, {"origin", "Application"}, {"value", v},
		})
	}
	return out
}

func spObj(c *call, v spView) obj {
	owner, roles, names := c.s.world.Partner().TenantID, []obj{}, []string{v.appID}
	if v.graph {
		owner, roles, names = microsoftTenantID, graphAppRoles(), []string{scenario.GraphAppID, scenario.GraphAudience}
	}
	return obj{
		{"id", v.id},
		{"deletedDateTime", nil},
		{"accountEnabled", true},
		{"appDisplayName", v.name},
		{"appId", v.appID},
		{"appOwnerOrganizationId", owner},
		{"appRoleAssignmentRequired", false},
		{"displayName", v.name},
		{"servicePrincipalNames", names},
		{"servicePrincipalType", "Application"},
		{"signInAudience", "AzureADMultipleOrgs"},
		{"tags", []string{"WindowsAzureActiveDirectoryIntegratedApp"}},
		{"appRoles", roles},
		{"oauth2PermissionScopes", []obj{}},
	}
}

var spFilter = filterSpec{resource: "ServicePrincipal", props: map[string]bool{"appid": true, "id": true, "displayname": true},
	colls: map[string]bool{"serviceprincipalnames": true}}

func spGetter(v *spView) getter {
	return func(p string) any {
		switch p {
		case "appid":
			return v.appID
		case "id":
			return v.id
		case "displayname":
			return v.name
		case "serviceprincipalnames":
			return []string{v.appID}
		}
		return nil
	}
}

func handleSPs(c *call) *gerr {
	if e := c.require(permAppRead); e != nil {
		return e
	}
	f, e := parseFilter(qgetOr(c.q, "filter"), spFilter)
	if e != nil {
		return e
	}
	col := c.startCollection("servicePrincipals", nil)
	for _, v := range c.spViews() {
		if matches(f, spGetter(&v)) {
			col.j.elem(spObj(c, v))
		}
	}
	col.end("", "")
	return nil
}

// handleCreateSP instantiates an app in the token's tenant (with the app's required roles, as
// package directory models consent).
func handleCreateSP(c *call) *gerr {
	if e := c.require(permAppWrite); e != nil {
		return e
	}
	var b struct {
		AppID string `json:"appId"`
	}
	if e := decodeBody(c, &b); e != nil {
		return e
	}
	if _, e := c.findSP(b.AppID, true); e == nil {
		return errf(http.StatusConflict, "Request_MultipleObjectsWithSameKeyValue", "Another object with the same value for property appId already exists.")
	}
	if _, ok := c.s.opts.Directory.App(b.AppID); !ok {
		return errBadRequest("The appId '%s' of the service principal does not reference a valid application object.", b.AppID)
	}
	sp, _, err := c.s.opts.Directory.Grant(c.ten.id, b.AppID, "graph")
	if err != nil {
		return errBadRequest("The appId '%s' of the service principal does not reference a valid application object.", b.AppID)
	}
	v := spView{sp: sp, id: sp.ObjectID, appID: sp.AppID, name: sp.DisplayName}
	writeJSON(c, http.StatusCreated, append(obj{{"@odata.context", c.s.contextURL("servicePrincipals/$entity")}}, spObj(c, v)...))
	return nil
}

func spRoutes(key string, byAppID bool, rest []string, method string) (handler, string) {
	base := "/servicePrincipals/{id}"
	if byAppID {
		base = "/servicePrincipals(appId={id})"
	}
	sub := ""
	if len(rest) > 0 {
		sub = strings.ToLower(rest[0])
	}
	switch {
	case len(rest) == 0 && method == http.MethodGet:
		return func(c *call) *gerr { return spGet(c, key, byAppID) }, base
	case len(rest) == 0 && method == http.MethodDelete:
		return func(c *call) *gerr { return spDelete(c, key, byAppID) }, base
	case len(rest) == 1 && sub == "approleassignedto" && method == http.MethodGet:
		return func(c *call) *gerr { return assignmentsList(c, key, byAppID, true) }, base + "/appRoleAssignedTo"
	case len(rest) == 1 && sub == "approleassignedto" && method == http.MethodPost:
		return func(c *call) *gerr { return assignmentCreate(c, key, byAppID, true) }, base + "/appRoleAssignedTo"
	case len(rest) == 1 && sub == "approleassignments" && method == http.MethodGet:
		return func(c *call) *gerr { return assignmentsList(c, key, byAppID, false) }, base + "/appRoleAssignments"
	case len(rest) == 1 && sub == "approleassignments" && method == http.MethodPost:
		return func(c *call) *gerr { return assignmentCreate(c, key, byAppID, false) }, base + "/appRoleAssignments"
	}
	if len(rest) <= 1 {
		return func(c *call) *gerr { return errMethod() }, base
	}
	return nil, base + "/<unknown>"
}

func spGet(c *call, key string, byAppID bool) *gerr {
	if e := c.require(permAppRead); e != nil {
		return e
	}
	v, e := c.findSP(key, byAppID)
	if e != nil {
		return e
	}
	writeJSON(c, http.StatusOK, append(obj{{"@odata.context", c.s.contextURL("servicePrincipals/$entity")}}, spObj(c, v)...))
	return nil
}

func spDelete(c *call, key string, byAppID bool) *gerr {
	if e := c.require(permAppWrite); e != nil {
		return e
	}
	v, e := c.findSP(key, byAppID)
	if e != nil {
		return e
	}
	if v.graph {
		return errDenied()
	}
	if err := c.s.opts.Directory.Revoke(c.ten.id, v.appID); err != nil {
		return errNotFound(key)
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func assignmentObj(c *call, principal spView, role string) obj {
	roleID := directory.GraphPermissions[role]
	sum := sha256.Sum256([]byte(c.ten.id + "/" + principal.id + "/" + roleID))
	return obj{
		{"id", base64.RawURLEncoding.EncodeToString(sum[:32])[:43]},
		{"deletedDateTime", nil},
		{"appRoleId", roleID},
		{"createdDateTime", principal.sp.Created},
		{"principalDisplayName", principal.name},
		{"principalId", principal.id},
		{"principalType", "ServicePrincipal"},
		{"resourceDisplayName", "Microsoft Graph"},
		{"resourceId", graphSPID(c.ten.id)},
	}
}

// assignmentsList: appRoleAssignedTo of a resource (who holds its roles) or appRoleAssignments
// of a principal (which roles it holds). Only Graph's service principal defines roles here.
func assignmentsList(c *call, key string, byAppID, assignedTo bool) *gerr {
	if e := c.require(permAppRead); e != nil {
		return e
	}
	v, e := c.findSP(key, byAppID)
	if e != nil {
		return e
	}
	path := "servicePrincipals('" + v.id + "')/appRoleAssignments"
	if assignedTo {
		path = "servicePrincipals('" + v.id + "')/appRoleAssignedTo"
	}
	col := c.startCollection(path, nil)
	switch {
	case assignedTo && v.graph:
		for _, p := range c.spViews()[1:] {
			for _, r := range p.sp.Roles {
				if _, ok := directory.GraphPermissions[r]; ok {
					col.j.elem(assignmentObj(c, p, r))
				}
			}
		}
	case !assignedTo && !v.graph:
		for _, r := range v.sp.Roles {
			if _, ok := directory.GraphPermissions[r]; ok {
				col.j.elem(assignmentObj(c, v, r))
			}
		}
	}
	col.end("", "")
	return nil
}

func assignmentCreate(c *call, key string, byAppID, assignedTo bool) *gerr {
	if e := c.require(permAppRoleWrite); e != nil {
		return e
	}
	v, e := c.findSP(key, byAppID)
	if e != nil {
		return e
	}
	var b struct {
		PrincipalID string `json:"principalId"`
		ResourceID  string `json:"resourceId"`
		AppRoleID   string `json:"appRoleId"`
	}
	if e := decodeBody(c, &b); e != nil {
		return e
	}
	if assignedTo {
		if b.ResourceID != "" && !strings.EqualFold(b.ResourceID, v.id) {
			return errBadRequest("Resource id '%s' does not match the service principal in the URL.", b.ResourceID)
		}
		b.ResourceID = v.id
	} else {
		if b.PrincipalID != "" && !strings.EqualFold(b.PrincipalID, v.id) {
			return errBadRequest("Principal id '%s' does not match the service principal in the URL.", b.PrincipalID)
		}
		b.PrincipalID = v.id
	}
	resource, e := c.findSP(b.ResourceID, false)
	if e != nil {
		return e
	}
	role, ok := directory.PermissionByID(b.AppRoleID)
	if !resource.graph || !ok {
		return errBadRequest("Permission being assigned was not found on application '%s'.", resource.appID)
	}
	if e := graphAppRoleGrantor(c); e != nil {
		return e
	}
	principal, e := c.findSP(b.PrincipalID, false)
	if e != nil {
		return e
	}
	if principal.graph {
		return errBadRequest("Permission being assigned was not found on application '%s'.", resource.appID)
	}
	if err := c.s.opts.Directory.GrantRoles(c.ten.id, principal.appID, role); err != nil {
		return errNotFound(b.PrincipalID)
	}
	if sp, ok := c.s.opts.Directory.ServicePrincipal(c.ten.id, principal.appID); ok {
		principal.sp = sp
	}
	writeJSON(c, http.StatusCreated, append(obj{{"@odata.context", c.s.contextURL("servicePrincipals('" + v.id + "')/appRoleAssignedTo/$entity")}}, assignmentObj(c, principal, role)...))
	return nil
}

// graphAppRoleGrantor: granting a Microsoft Graph app role with a delegated token needs, besides
// AppRoleAssignment.ReadWrite.All, Application.Read.All (or Directory.Read.All) to read the service
// principals ("Grant an appRoleAssignment for a service principal",
// https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto: "AppRoleAssignment.ReadWrite.All
// and Application.Read.All"), and a signed-in user who may consent to Microsoft Graph application
// permissions: Privileged Role Administrator (or Global Administrator). That API page lists
// Application and Cloud Application Administrator among the roles for app role assignments in
// general, but "Grant tenant-wide admin consent"
// (https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent) and the built-in
// roles reference ("...with the exception of application permissions for Microsoft Graph") exclude
// Microsoft Graph app roles from what those two roles can grant. The exact error Graph answers then
// is not documented; Authorization_RequestDenied is Graph's general 403 (unverified for this case).
func graphAppRoleGrantor(c *call) *gerr {
	if c.claims.IsApp() {
		return nil // app-only callers need only AppRoleAssignment.ReadWrite.All (checked before)
	}
	if !slices.ContainsFunc([]string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"}, c.claims.HasScope) {
		return errDenied()
	}
	if c.claims.HasWid(scenario.RolePrivilegedRoleAdmin) || c.claims.HasWid(scenario.RoleGlobalAdmin) {
		return nil
	}
	if c.ten.partner {
		return nil // the partner's own tenant: its admins sign in directly (tenantsync register)
	}
	return errDenied()
}
