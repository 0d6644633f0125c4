package entra

import (
	"strings"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// resource is an API tokens can be issued for.
type resource struct {
	Aud   string // the token's aud
	AppID string
	// Delegated is the scp a delegated `.default` request gets (the permissions an MSP app
	// typically has consented for that API).
	Delegated []string
}

// graphDelegated is what a delegated Graph `.default` grants tenantsync's app.
var graphDelegated = []string{"Directory.Read.All", "DelegatedAdminRelationship.Read.All", "Application.ReadWrite.All",
	"AppRoleAssignment.ReadWrite.All", "User.Read"}

// TokenExchangeAudience is the audience of managed identity tokens used as federated assertions.
const TokenExchangeAudience = "api://AzureADTokenExchange"

var knownResources = []resource{
	{Aud: scenario.GraphAudience, AppID: scenario.GraphAppID, Delegated: graphDelegated},
	{Aud: scenario.PartnerAudience, AppID: scenario.PartnerCenterAppID, Delegated: []string{"user_impersonation"}},
	{Aud: scenario.VaultAudience, AppID: "cfa8b339-82a2-471a-a3c9-0fc0be7a4093", Delegated: []string{"user_impersonation"}},
	{Aud: "https://management.azure.com", AppID: "797f4846-ba00-4fd7-ba43-dac1f8f63013", Delegated: []string{"user_impersonation"}},
	{Aud: "https://storage.azure.com", AppID: "e406a681-f3d4-42a8-90b6-c2b029497af1", Delegated: []string{"user_impersonation"}},
	{Aud: "https://servicebus.azure.net", AppID: "80a10ef9-8168-493d-abf9-3297c4ef6e3c", Delegated: []string{"user_impersonation"}},
	{Aud: TokenExchangeAudience, AppID: "fb60f99c-7a34-4190-8149-302f77469936"},
}

// resourceAliases maps other spellings of a resource to its audience.
var resourceAliases = map[string]string{
	"https://graph.microsoft.com/v1.0":         scenario.GraphAudience,
	"https://management.core.windows.net":      "https://management.azure.com",
	"https://vault.azure.net/":                 scenario.VaultAudience,
	"https://api.partnercenter.microsoft.com/": scenario.PartnerAudience,
}

// findResource resolves a resource URI or app id; appID (the calling app) is a resource too
// (api://{appId} or the bare id), for tokens an app requests for its own API.
func findResource(id, appID string) (resource, bool) {
	key := strings.TrimRight(strings.ToLower(strings.TrimSpace(id)), "/")
	if a, ok := resourceAliases[key]; ok {
		key = strings.ToLower(a)
	}
	for _, r := range knownResources {
		if key == strings.ToLower(r.Aud) || key == r.AppID {
			return r, true
		}
	}
	if appID != "" && (key == strings.ToLower(appID) || key == "api://"+strings.ToLower(appID)) {
		return resource{Aud: strings.ToLower(appID), AppID: strings.ToLower(appID), Delegated: []string{"user_impersonation"}}, true
	}
	return resource{}, false
}

// scopeRequest is a parsed scope parameter.
type scopeRequest struct {
	OpenID, Profile, Offline, Email bool
	Resource                        resource
	HasResource                     bool
	Perms                           []string // permission parts, e.g. ".default", "User.Read"
	Requested                       []string // every scope as requested, for the answer's scope field
}

// splitScope splits "https://graph.microsoft.com/User.Read" into resource and permission. A
// bare permission ("User.Read") is Graph's, as Entra assumes.
func splitScope(sc string) (res, perm string) {
	if i := strings.Index(sc, "://"); i >= 0 {
		j := strings.LastIndexByte(sc, '/')
		if j <= i+2 {
			return sc, ".default"
		}
		return sc[:j], sc[j+1:]
	}
	if j := strings.IndexByte(sc, '/'); j >= 0 {
		return sc[:j], sc[j+1:]
	}
	return scenario.GraphAudience, sc
}

// parseScopes parses a scope parameter: OIDC scopes become flags; every other scope must name
// the same resource (AADSTS28000 otherwise); unknown resources give AADSTS500011.
func parseScopes(scope, appID string, ctx errCtx) (scopeRequest, *aadError) {
	var sr scopeRequest
	for _, sc := range strings.Fields(scope) {
		sr.Requested = append(sr.Requested, sc)
		switch strings.ToLower(sc) {
		case "openid":
			sr.OpenID = true
			continue
		case "profile":
			sr.Profile = true
			continue
		case "offline_access":
			sr.Offline = true
			continue
		case "email":
			sr.Email = true
			continue
		}
		resID, perm := splitScope(sc)
		r, ok := findResource(resID, appID)
		if !ok {
			ctx.Resource = resID
			return sr, aad(500011, ctx)
		}
		if sr.HasResource && r.Aud != sr.Resource.Aud {
			ctx.Detail = sc
			return sr, aad(28000, ctx)
		}
		sr.Resource, sr.HasResource = r, true
		if perm == "" {
			perm = ".default"
		}
		sr.Perms = append(sr.Perms, perm)
	}
	return sr, nil
}

// delegatedScopes is the scp claim: the requested permissions, `.default` expanded to the
// resource's delegated set; Graph's User.Read when only OIDC scopes were asked for.
func (sr scopeRequest) delegatedScopes() []string {
	if !sr.HasResource {
		return []string{"User.Read"}
	}
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[strings.ToLower(p)] {
			seen[strings.ToLower(p)] = true
			out = append(out, p)
		}
	}
	for _, p := range sr.Perms {
		if p == ".default" {
			for _, d := range sr.Resource.Delegated {
				add(d)
			}
			continue
		}
		add(p)
	}
	if len(out) == 0 {
		add("user_impersonation")
	}
	return out
}

// audience is the resource tokens of this request are for (Graph when only OIDC scopes).
func (sr scopeRequest) audience() resource {
	if sr.HasResource {
		return sr.Resource
	}
	r, _ := findResource(scenario.GraphAudience, "")
	return r
}
