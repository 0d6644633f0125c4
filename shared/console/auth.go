// Package console is the MSP's dashboard: page models, tables (HTML and CSV from one source),
// sign-in decisions and CSRF tokens. It knows nothing about Functions invocations; handlers/
// console*.go adapt it to HTTP functions.
package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/adminauth"
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
// claim instead of the groups (Entra emits at most 200 groups in a JWT): shared/adminauth's.
type GroupChecker = adminauth.GroupChecker

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

// Authorize decides whether the request comes from a signed-in member of the admin group. The
// rule is the admin API's (shared/adminauth, one decoder and one rule for both), with the
// console's differences: App Service Authentication off or no principal means nobody is signed in
// (a browser has no function key), and an overage claim may be resolved through Groups.
func Authorize(r *http.Request, s AuthSettings) (Viewer, error) {
	if !s.Enabled {
		return Viewer{}, ErrAuthOff
	}
	c, err := adminauth.Policy{AppServiceAuth: true, AdminGroupID: s.AdminGroupID, Groups: s.Groups}.Check(r)
	if !c.SignedIn {
		if err != nil {
			return Viewer{}, fmt.Errorf("%w (%v)", ErrSignInRequired, err)
		}
		return Viewer{}, ErrSignInRequired
	}
	v := Viewer{ID: c.ID, Name: c.Name}
	if v.ID == "" {
		return Viewer{}, fmt.Errorf("%w (the principal has no object id)", ErrSignInRequired)
	}
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, adminauth.ErrNoAdminGroup):
		return v, ErrNoAdminGroup
	case errors.Is(err, adminauth.ErrGroupOverage), errors.Is(err, adminauth.ErrGroupLookup):
		return v, err
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
