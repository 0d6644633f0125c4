// Package adminauth decides who may use tenantsync's admin API and who is recorded as having
// asked. The rule:
//
//   - The Functions host demands a function key on every non-anonymous route. A request with the
//     key and no trusted principal is automation access, recorded as domain.AutomationCaller.
//   - X-MS-CLIENT-PRINCIPAL is trusted only when App Service Authentication is on
//     (WEBSITE_AUTH_ENABLED=True, which App Service injects: "Read-only. Injected into a Windows
//     or Linux app to indicate whether App Service authentication is enabled", MicrosoftDocs
//     azure-docs articles/app-service/reference-app-settings.md; the Functions host reads the same
//     variable, EnvironmentSettingNames.EasyAuthEnabled in Azure/azure-functions-host, parsed with
//     Convert.ToBoolean). Only then does App Service set the header and strip a copy a client sent
//     ("External requests aren't allowed to set these headers, so they're present only if set by
//     App Service", articles/app-service/configure-authentication-user-identities.md). With it off,
//     any key holder could write the header, so it is ignored.
//   - With it on, a signed-in principal must be in ADMIN_GROUP_ID (and is refused while
//     ADMIN_GROUP_ID is unset). A principal whose token had too many groups carries an overage
//     claim instead of its groups (Entra access-token claims reference, "Groups overage claim":
//     `_claim_names: {"groups": "src1"}`; Microsoft's samples also check `hasgroups`). Its
//     membership of ADMIN_GROUP_ID is then asked of Microsoft Graph (Policy.Groups, shared/
//     groupcheck: checkMemberGroups); without a checker, or when Graph fails, it is refused with
//     what to change. How App Service flattens those claims into the header is not documented;
//     both spellings are recognised (unverified against a live app).
package adminauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Policy is the admin rule's configuration.
type Policy struct {
	// AppServiceAuth is WEBSITE_AUTH_ENABLED: the principal header is trusted only when true.
	AppServiceAuth bool
	// AdminGroupID is the Entra group signed-in principals must belong to.
	AdminGroupID string
	// Groups resolves membership for a principal whose token carried the groups overage claim
	// instead of its groups; nil refuses such principals (ErrGroupOverage).
	Groups GroupChecker
}

// GroupChecker answers whether a user (Entra object id) is a member of a group, transitively.
type GroupChecker interface {
	IsMember(ctx context.Context, userID, groupID string) (bool, error)
}

// Caller is who made a request that passed the rule.
type Caller struct {
	// Name is the signed-in principal's name, or domain.AutomationCaller.
	Name string
	// ID is the signed-in principal's Entra object id (lower case), when App Service sent one.
	ID string
	// SignedIn is true for an App Service Authentication principal.
	SignedIn bool
}

// Automation is the caller of a key-only request.
var Automation = Caller{Name: domain.AutomationCaller}

// Refusal errors. Each message says what to change.
var (
	ErrNotAdmin     = errors.New("the signed-in user is not in tenantsync's admin group (ADMIN_GROUP_ID)")
	ErrNoAdminGroup = errors.New("ADMIN_GROUP_ID is not set, so signed-in users cannot be authorised: set it to the admin group's object id")
	ErrGroupOverage = errors.New("the sign-in token lists no groups because the user is in too many (Entra's groups overage claim), so membership of ADMIN_GROUP_ID cannot be checked: in the App Service Authentication app registration emit only groups assigned to the application (Token configuration > groups claim, or groupMembershipClaims \"ApplicationGroup\") and assign the admin group to its enterprise application")
	// ErrGroupLookup: the overage lookup through Graph failed; wrapped with Graph's error.
	ErrGroupLookup   = errors.New("the sign-in token lists no groups because the user is in too many (Entra's groups overage claim), and asking Microsoft Graph for the membership of ADMIN_GROUP_ID failed: check that tenantsync's app registration holds the application permissions User.Read.All and Group.Read.All (or GroupMember.Read.All) with admin consent in the partner tenant (tenantsync register grants them), then sign in again")
	ErrBadPrincipal  = errors.New("X-MS-CLIENT-PRINCIPAL is not the App Service principal (base64 JSON)")
	errNoPrincipalID = errors.New("the App Service principal has no name")
)

// principal is the decoded X-MS-CLIENT-PRINCIPAL.
type principal struct {
	id      string
	name    string
	groups  []string
	overage bool
}

func decode(r *http.Request) (principal, bool, error) {
	var p principal
	h := r.Header.Get("X-MS-CLIENT-PRINCIPAL")
	if h == "" {
		return p, false, nil
	}
	b, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		return p, true, ErrBadPrincipal
	}
	var raw struct {
		NameType string `json:"name_typ"`
		Claims   []struct {
			Type  string `json:"typ"`
			Value string `json:"val"`
		} `json:"claims"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return p, true, ErrBadPrincipal
	}
	// The name: the claim name_typ names, else App Service's NAME header (usually the UPN), else
	// a display name, else the object id.
	var display string
	for _, c := range raw.Claims {
		switch {
		// App Service maps some JWT claim names to long URIs ("Work with user identities in Azure
		// App Service authentication"); the object id arrives as either.
		case c.Type == "http://schemas.microsoft.com/identity/claims/objectidentifier" || c.Type == "oid":
			p.id = strings.ToLower(c.Value)
		case c.Type == "groups":
			p.groups = append(p.groups, strings.ToLower(c.Value))
		case c.Type == "hasgroups":
			p.overage = p.overage || strings.EqualFold(c.Value, "true")
		case c.Type == "_claim_names":
			var names map[string]any
			if json.Unmarshal([]byte(c.Value), &names) == nil {
				_, has := names["groups"]
				p.overage = p.overage || has
			}
		case c.Type == raw.NameType && raw.NameType != "":
			if p.name == "" {
				p.name = c.Value
			}
		case c.Type == "name" || c.Type == "preferred_username":
			if display == "" {
				display = c.Value
			}
		}
	}
	if p.id == "" {
		p.id = strings.ToLower(r.Header.Get("X-MS-CLIENT-PRINCIPAL-ID"))
	}
	if p.name == "" {
		p.name = r.Header.Get("X-MS-CLIENT-PRINCIPAL-NAME")
	}
	if p.name == "" {
		p.name = display
	}
	if p.name == "" {
		p.name = p.id // the object id, from the claims or App Service's ID header
	}
	return p, true, nil
}

// Check applies the rule to r. Any error is a refusal (403); the returned caller then still names
// the principal, when there is one, for the log.
func (pol Policy) Check(r *http.Request) (Caller, error) {
	if !pol.AppServiceAuth {
		return Automation, nil
	}
	p, ok, err := decode(r)
	if !ok {
		return Automation, nil
	}
	if err != nil {
		return Caller{}, err
	}
	who := Caller{Name: p.name, ID: p.id, SignedIn: true}
	if p.name == "" {
		return who, errNoPrincipalID
	}
	if pol.AdminGroupID == "" {
		return who, ErrNoAdminGroup
	}
	want := strings.ToLower(pol.AdminGroupID)
	for _, g := range p.groups {
		if g == want {
			return who, nil
		}
	}
	if !p.overage {
		return who, ErrNotAdmin
	}
	if pol.Groups == nil || p.id == "" {
		return who, ErrGroupOverage
	}
	member, err := pol.Groups.IsMember(r.Context(), p.id, want)
	switch {
	case err != nil:
		return who, fmt.Errorf("%w (%v)", ErrGroupLookup, err)
	case member:
		return who, nil
	}
	return who, ErrNotAdmin
}

type callerKey struct{}

// WithCaller returns ctx carrying c, for handlers behind the check.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// From returns the caller the check stored in ctx; automation when there is none.
func From(ctx context.Context) Caller {
	if c, ok := ctx.Value(callerKey{}).(Caller); ok {
		return c
	}
	return Automation
}
