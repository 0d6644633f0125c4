// Package console is the MSP's dashboard: page models, tables (HTML and CSV from one source),
// sign-in decisions and CSRF tokens. It knows nothing about Functions invocations; handlers/
// console*.go adapt it to HTTP functions.
package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Viewer is the signed-in MSP admin.
type Viewer struct {
	ID   string // Entra object id
	Name string
}

// Sign-in outcomes the handlers turn into a redirect (sign in) or a 403 page (refused).
var (
	ErrSignInRequired = errors.New("sign in to use the tenantsync console")
	ErrNotAdmin       = errors.New("your account is not in tenantsync's admin group (ADMIN_GROUP_ID): ask an administrator to add you")
	ErrAuthOff        = errors.New("App Service Authentication is not enabled for this app (WEBSITE_AUTH_ENABLED), so nobody can be signed in: enable it with the Entra ID provider")
	ErrNoAdminGroup   = errors.New("ADMIN_GROUP_ID is not set, so signed-in users cannot be authorised: set it to the admin group's object id")
)

// GroupChecker resolves group membership when the sign-in token carried a groups overage
// claim instead of the groups (Entra emits at most 200 groups in a JWT).
type GroupChecker interface {
	IsMember(ctx context.Context, userID, groupID string) (bool, error)
}

// AuthSettings decide who may use the console.
type AuthSettings struct {
	// Enabled is WEBSITE_AUTH_ENABLED: App Service sets it to "True" when App Service
	// Authentication is on (https://learn.microsoft.com/azure/app-service/reference-app-settings,
	// "Authentication & authorization"). Only then does X-MS-CLIENT-PRINCIPAL come from the
	// platform, which strips any copy a client sends; otherwise the header is ignored.
	Enabled      bool
	AdminGroupID string
	// Groups resolves overage claims; nil refuses overage sign-ins with a clear reason.
	Groups GroupChecker
}

// principal is the decoded X-MS-CLIENT-PRINCIPAL: {"auth_typ","claims":[{"typ","val"}],
// "name_typ","role_typ"} in base64, as documented in "Work with user identities in Azure App
// Service authentication" (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities).
type principal struct {
	AuthType string `json:"auth_typ"`
	NameType string `json:"name_typ"`
	Claims   []struct {
		Typ string `json:"typ"`
		Val string `json:"val"`
	} `json:"claims"`
}

// Claim types as App Service maps them (it maps some JWT claim names to the long URIs).
const (
	claimOID     = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	claimNameURI = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
)

// Authorize decides whether the request comes from a signed-in member of the admin group.
func Authorize(r *http.Request, s AuthSettings) (Viewer, error) {
	if !s.Enabled {
		return Viewer{}, ErrAuthOff
	}
	raw := r.Header.Get("X-MS-CLIENT-PRINCIPAL")
	if raw == "" {
		return Viewer{}, ErrSignInRequired
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return Viewer{}, fmt.Errorf("%w (X-MS-CLIENT-PRINCIPAL is not base64)", ErrSignInRequired)
	}
	var p principal
	if err := json.Unmarshal(b, &p); err != nil {
		return Viewer{}, fmt.Errorf("%w (X-MS-CLIENT-PRINCIPAL is not the App Service principal JSON)", ErrSignInRequired)
	}
	v := Viewer{ID: strings.ToLower(r.Header.Get("X-MS-CLIENT-PRINCIPAL-ID"))}
	var groups []string
	var displayName string
	overage := false
	for _, c := range p.Claims {
		switch {
		case c.Typ == claimOID || c.Typ == "oid":
			v.ID = strings.ToLower(c.Val)
		case c.Typ == "groups":
			groups = append(groups, strings.ToLower(c.Val))
		case c.Typ == "hasgroups" && strings.EqualFold(c.Val, "true"):
			overage = true
		case c.Typ == "_claim_names" && strings.Contains(c.Val, `"groups"`):
			// Group overage: the token names a source to query instead of listing the groups
			// (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference, "Groups overage claim").
			overage = true
		case c.Typ == p.NameType && p.NameType != "":
			v.Name = c.Val
		case c.Typ == "name" || c.Typ == "preferred_username":
			displayName = c.Val
		}
	}
	// The name App Service reports (name_typ's claim, else its NAME header: usually the UPN),
	// then the display name.
	if v.Name == "" {
		v.Name = r.Header.Get("X-MS-CLIENT-PRINCIPAL-NAME")
	}
	if v.Name == "" {
		v.Name = displayName
	}
	if v.ID == "" {
		return Viewer{}, fmt.Errorf("%w (the principal has no object id)", ErrSignInRequired)
	}
	if s.AdminGroupID == "" {
		return v, ErrNoAdminGroup
	}
	want := strings.ToLower(s.AdminGroupID)
	for _, g := range groups {
		if g == want {
			return v, nil
		}
	}
	if overage && len(groups) == 0 {
		if s.Groups == nil {
			return v, fmt.Errorf("%w (your token lists too many groups to check here; membership lookups are not configured)", ErrNotAdmin)
		}
		ok, err := s.Groups.IsMember(r.Context(), v.ID, want)
		if err != nil {
			return v, fmt.Errorf("checking your admin group membership failed: %w", err)
		}
		if ok {
			return v, nil
		}
	}
	return v, ErrNotAdmin
}

// SignInURL is App Service Authentication's sign-in route for the Entra provider, returning to
// the page the user asked for ("Customize sign-in and sign-out in Azure App Service
// authentication": /.auth/login/aad?post_login_redirect_uri=/path).
func SignInURL(returnTo string) string {
	if !strings.HasPrefix(returnTo, "/") || strings.HasPrefix(returnTo, "//") {
		returnTo = "/"
	}
	return "/.auth/login/aad?post_login_redirect_uri=" + urlQueryEscape(returnTo)
}

// SignOutURL is App Service Authentication's sign-out route.
const SignOutURL = "/.auth/logout?post_logout_redirect_uri=/"
