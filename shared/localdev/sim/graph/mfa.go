package graph

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// The MFA faces a tenant without Entra ID P1/P2 still has (the registration report needs P1/P2,
// see registrationGate): the security defaults policy, each user's registered authentication
// methods, and (beta only) each user's per-user MFA state. None of the three API pages states a
// licence requirement, so none is gated on premium here.

var (
	// learn.microsoft.com/graph/api/identitysecuritydefaultsenforcementpolicy-get: Policy.Read.All
	// (least), Policy.ReadWrite.SecurityDefaults (higher).
	permSecurityDefaults = perm{roles: []string{"Policy.Read.All", "Policy.ReadWrite.SecurityDefaults"},
		scopes: []string{"Policy.Read.All", "Policy.ReadWrite.SecurityDefaults"}}
	// learn.microsoft.com/graph/api/authentication-list-methods, acting on other users:
	// UserAuthenticationMethod.Read.All (least), UserAuthenticationMethod.ReadWrite.All.
	permAuthMethods = perm{roles: []string{"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"},
		scopes: []string{"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}}
	// microsoft-graph-docs-contrib api-reference/beta/api/authentication-get.md, per-user MFA state
	// acting on others: Policy.Read.All (least), Policy.ReadWrite.AuthenticationMethod.
	permPerUserMFA = perm{roles: []string{"Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"},
		scopes: []string{"Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"}}
)

// securityDefaultsID is the policy's id as remembered from Microsoft's example answer (not
// re-checked against the page; clients must not depend on it).
const securityDefaultsID = "00000000-0000-0000-0000-000000000005"

// handleSecurityDefaults answers GET /policies/identitySecurityDefaultsEnforcementPolicy (v1.0).
func handleSecurityDefaults(c *call) *gerr {
	if e := c.require(permSecurityDefaults); e != nil {
		return e
	}
	writeJSON(c, http.StatusOK, obj{
		{"@odata.context", c.s.contextURL("policies/identitySecurityDefaultsEnforcementPolicy/$entity")},
		{"id", securityDefaultsID},
		{"displayName", "Security Defaults"},
		{"description", "Security defaults is a set of basic identity security mechanisms recommended by Microsoft. When enabled, these recommendations will be automatically enforced in your organization. Administrators and users will be better protected from common identity related attacks."},
		{"isEnabled", c.ten.t != nil && c.ten.t.SecurityDefaults},
	})
	return nil
}

// Method ids: the password, mobile phone and e-mail methods have fixed ids in Microsoft's examples
// (as remembered from the passwordAuthenticationMethod, phoneAuthenticationMethod and
// emailAuthenticationMethod pages; not re-checked). tenantsync reads only @odata.type and phoneType.
const (
	passwordMethodID = "28c10230-6103-485e-b985-444c60001490"
	mobilePhoneID    = "3179e48a-750b-4051-897c-87b9720928f7"
	emailMethodID    = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f"
)

// methodID is a stable id for a user's method.
func methodID(u *scenario.User, kind string) string {
	sum := sha256.Sum256([]byte("method/" + u.ID + "/" + kind))
	b := sum[:16]
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// authMethod renders one registered method (a methodsRegistered value of the registration
// report) as the authenticationMethod subtype Graph lists for it.
func authMethod(u *scenario.User, m string) obj {
	created := u.Created
	switch m {
	case "microsoftAuthenticatorPush", "microsoftAuthenticatorPasswordless":
		return obj{{"@odata.type", "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"}, {"id", methodID(u, "authenticator")},
			{"displayName", u.GivenName + "'s phone"}, {"deviceTag", "SoftwareTokenActivated"}, {"phoneAppVersion", "6.2401.0119"}, {"createdDateTime", created}}
	case "softwareOneTimePasscode":
		return obj{{"@odata.type", "#microsoft.graph.softwareOathAuthenticationMethod"}, {"id", methodID(u, "oath")}, {"secretKey", nil}}
	case "mobilePhone":
		return obj{{"@odata.type", "#microsoft.graph.phoneAuthenticationMethod"}, {"id", mobilePhoneID},
			{"phoneNumber", "+1 5555550" + fmt.Sprintf("%03d", u.Index%1000)}, {"phoneType", "mobile"}, {"smsSignInState", "notAllowedByPolicy"}}
	case "windowsHelloForBusiness":
		return obj{{"@odata.type", "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod"}, {"id", methodID(u, "whfb")},
			{"displayName", "DESKTOP-" + u.ID[:6]}, {"createdDateTime", created}, {"keyStrength", "normal"}}
	case "fido2":
		return obj{{"@odata.type", "#microsoft.graph.fido2AuthenticationMethod"}, {"id", methodID(u, "fido2")},
			{"displayName", "Security key"}, {"createdDateTime", created}, {"aaGuid", "2fc0579f-8113-47ea-b116-555a8db9202a"},
			{"model", "NFC key"}, {"attestationCertificates", []string{}}, {"attestationLevel", "attested"}}
	case "email":
		return obj{{"@odata.type", "#microsoft.graph.emailAuthenticationMethod"}, {"id", emailMethodID}, {"emailAddress", u.Mail}}
	}
	return nil
}

// handleAuthMethods answers GET /users/{id}/authentication/methods (v1.0): the password (members
// sign in with one in this tenant; guests authenticate at home) and every registered method.
func handleAuthMethods(c *call) *gerr {
	if e := c.require(permAuthMethods); e != nil {
		return e
	}
	u, ok := c.ten.userByID(c.segs[1])
	if !ok {
		return errNotFound(c.segs[1])
	}
	methods := []obj{}
	if u.UserType != "Guest" {
		methods = append(methods, obj{{"@odata.type", "#microsoft.graph.passwordAuthenticationMethod"}, {"id", passwordMethodID},
			{"password", nil}, {"createdDateTime", u.LastPasswordChange}})
	}
	for _, m := range u.MethodsRegistered {
		if o := authMethod(&u, m); o != nil {
			methods = append(methods, o)
		}
	}
	writeJSON(c, http.StatusOK, obj{
		{"@odata.context", c.s.contextURL("users('" + u.ID + "')/authentication/methods")},
		{"value", methods},
	})
	return nil
}

// betaRoute is the part of /beta the simulator models: $batch and the per-user MFA state, which
// Graph exposes on beta only (howto-mfa-userstates, "Use Microsoft Graph to manage per-user MFA").
func betaRoute(c *call) (handler, string) {
	s := c.segs
	get := c.r.Method == http.MethodGet
	switch {
	case len(s) == 1 && s[0] == "$batch" && c.r.Method == http.MethodPost && !c.inBatch:
		return handleBatch, "/beta/$batch"
	case len(s) == 4 && get && strings.EqualFold(s[0], "users") && strings.EqualFold(s[2], "authentication") && strings.EqualFold(s[3], "requirements"):
		return handlePerUserMFA, "/beta/users/{id}/authentication/requirements"
	}
	return nil, "/beta"
}

// handlePerUserMFA answers GET /beta/users/{id}/authentication/requirements with the
// strongAuthenticationRequirements resource ({"perUserMfaState": disabled|enabled|enforced}).
func handlePerUserMFA(c *call) *gerr {
	if e := c.require(permPerUserMFA); e != nil {
		return e
	}
	u, ok := c.ten.userByID(c.segs[1])
	if !ok {
		return errNotFound(c.segs[1])
	}
	state := u.PerUserMFA
	if state == "" {
		state = "disabled" // every user starts disabled (howto-mfa-userstates)
	}
	writeJSON(c, http.StatusOK, obj{{"perUserMfaState", state}})
	return nil
}
