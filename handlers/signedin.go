package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/tenantsync/tenantsync/shared/adminauth"
	"github.com/tenantsync/tenantsync/shared/console"
)

// SignedInPrefix is where the admin API answers signed-in admins without a function key.
//
// Why a second route and not the same one: the Functions host authorises an authLevel "function"
// route only by a key. AuthenticationLevelHandler (Azure/azure-functions-host,
// src/WebJobs.Script.WebHost/Security/Authentication/Keys/AuthenticationLevelHandler.cs) adds the
// App Service Authentication identity to the request's principal when WEBSITE_AUTH_ENABLED is
// true, but FunctionAuthorizationHandler succeeds only when AuthUtility.PrincipalHasAuthLevelClaim
// finds the key's auth-level claim (src/WebJobs.Script.WebHost/Security/Authorization/
// AuthUtility.cs), which that identity never carries: a signed-in browser without a key gets 401
// from the host on /api/... And an anonymous route cannot keep keys for automation: the host then
// checks no key, and with enableForwardingHttpRequest the handler is not told whether a valid one
// was sent (the request's Identities go only to payload-mode invocations,
// HttpRequestExtensions.GetRequestAsJObject). So automation keeps /api/... (authLevel function,
// the key checked by the host), and each of those functions has a twin under /console/api/...,
// anonymous at the Functions level, that serves only a signed-in member of ADMIN_GROUP_ID
// (X-MS-CLIENT-PRINCIPAL, trusted only with WEBSITE_AUTH_ENABLED) and never automation.
const SignedInPrefix = "/console"

// signedInSuffix names a twin function: Tenants -> TenantsSignedIn.
const signedInSuffix = "SignedIn"

// SignedInRoutes are the twins of the keyed API routes, their handlers already behind
// signedIn; the function folders are functions/<Name>SignedIn.
func SignedInRoutes(d Deps, keyed map[string]Route) map[string]Route {
	out := map[string]Route{}
	for name, r := range keyed {
		if r.Anonymous {
			continue
		}
		method, path, _ := strings.Cut(r.Pattern, " ")
		out[name+signedInSuffix] = Route{Pattern: method + " " + SignedInPrefix + path, Handler: d.signedIn(r.Handler), Anonymous: true}
	}
	return out
}

type signedInKey struct{}

// apiPath is path (starting /api/) as the caller reached the API: under SignedInPrefix for a
// signed-in admin, so the links an answer carries (nextLink, an operation's status) work for the
// same caller.
func apiPath(ctx context.Context, path string) string {
	if ctx.Value(signedInKey{}) != nil {
		return SignedInPrefix + path
	}
	return path
}

// signedIn admits only a signed-in admin: no principal (or App Service Authentication off) is
// 401 naming both ways in, outside the group 403 as on the keyed routes. A state-changing request
// must come from this site (Sec-Fetch-Site / Origin), since the browser sends App Service's
// session cookie with any request, cross-site forms included.
func (d Deps) signedIn(next http.HandlerFunc) http.HandlerFunc {
	pol := adminauth.Policy{AppServiceAuth: d.AppServiceAuth, AdminGroupID: d.AdminGroupID, Groups: d.Groups}
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := pol.Check(r)
		if err == nil && !who.SignedIn {
			keyed := strings.TrimPrefix(r.URL.Path, SignedInPrefix)
			d.Log.Warn("signed-in API refused: not signed in", "path", r.URL.Path)
			writeError(w, http.StatusUnauthorized, "SignInRequired", "sign in first ("+console.SignInURL("/")+
				", App Service Authentication), or call "+keyed+" with a function key (automation)")
			return
		}
		if err != nil {
			d.refuseAdmin(w, r, who, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !d.sameSite(r) {
			d.Log.Warn("signed-in API refused: cross-site request", "path", r.URL.Path, "principal", who.Name)
			writeError(w, http.StatusForbidden, "CrossSiteRequest", "a state-changing request must come from tenantsync's own pages (Sec-Fetch-Site or Origin names another site)")
			return
		}
		ctx := context.WithValue(adminauth.WithCaller(r.Context(), who), signedInKey{}, true)
		next(w, r.WithContext(ctx))
	}
}

// sameSite: the browser says the request comes from this origin (Sec-Fetch-Site same-origin, or
// none for a typed URL), or, without Fetch Metadata, its Origin is PUBLIC_BASE_URL's; a request
// carrying neither is not from a browser page and is let through (a script using the session
// cookie must set one of them to be a browser at all).
func (d Deps) sameSite(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin" || s == "none"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	pub, err := url.Parse(d.PublicBaseURL)
	return err == nil && strings.EqualFold(o, pub.Scheme+"://"+pub.Host)
}
