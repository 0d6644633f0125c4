package register

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/microsoftgraph/msgraph-sdk-go/applications"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"

	"github.com/tenantsync/tenantsync/shared/appperms"
)

const multiTenant = "AzureADMultipleOrgs"

// odataQuote quotes a string literal for $filter.
func odataQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// findApp finds the app registration by app id (when given) or display name; nil when there is
// none by that name.
func (r *run) findApp(ctx context.Context) (models.Applicationable, error) {
	filter := "displayName eq " + odataQuote(r.o.AppName)
	if r.o.AppID != "" {
		filter = "appId eq " + odataQuote(r.o.AppID)
	}
	resp, err := r.graph.Applications().Get(ctx, &applications.ApplicationsRequestBuilderGetRequestConfiguration{
		QueryParameters: &applications.ApplicationsRequestBuilderGetQueryParameters{Filter: &filter}})
	if err != nil {
		return nil, graphError("reading the app registrations", err, rolesApps)
	}
	apps := resp.GetValue()
	switch {
	case len(apps) == 0 && r.o.AppID != "":
		return nil, fmt.Errorf("there is no app registration with app id %s in tenant %s: check --app-id, or leave it out to find or create %q by name",
			r.o.AppID, r.o.PartnerTenantID, r.o.AppName)
	case len(apps) == 0:
		return nil, nil
	case len(apps) > 1:
		ids := make([]string, 0, len(apps))
		for _, a := range apps {
			ids = append(ids, str(a.GetAppId()))
		}
		return nil, fmt.Errorf("%d app registrations are named %q (app ids %s): pass --app-id with the one tenantsync should use",
			len(apps), r.o.AppName, strings.Join(ids, ", "))
	}
	return apps[0], nil
}

// access is one requiredResourceAccess entry, flattened.
type access struct {
	Resource string // resource app id
	ID       string // app role or scope id
	Type     string // Role or Scope
}

func (a access) key() string {
	return strings.ToLower(a.Resource) + "|" + strings.ToLower(a.ID) + "|" + strings.ToLower(a.Type)
}

// name is how the permission is shown to the operator.
func (a access) name() string {
	if strings.EqualFold(a.Resource, appperms.GraphAppID) {
		for _, p := range appperms.Graph {
			if strings.EqualFold(p.ID, a.ID) {
				return p.Value
			}
		}
		return "Microsoft Graph " + strings.ToLower(a.Type) + " " + a.ID
	}
	if strings.EqualFold(a.Resource, appperms.PartnerCenterAppID) && strings.EqualFold(a.ID, appperms.PartnerCenterUserImpersonation) {
		return "Partner Center user_impersonation"
	}
	return a.Resource + " " + strings.ToLower(a.Type) + " " + a.ID
}

// desiredAccess is exactly appperms: the Graph application permissions as Role entries on
// Microsoft Graph, and Partner Center's delegated user_impersonation.
func desiredAccess() []access {
	out := make([]access, 0, len(appperms.Graph)+1)
	for _, p := range appperms.Graph {
		out = append(out, access{appperms.GraphAppID, p.ID, "Role"})
	}
	return append(out, access{appperms.PartnerCenterAppID, appperms.PartnerCenterUserImpersonation, "Scope"})
}

func currentAccess(app models.Applicationable) []access {
	var out []access
	for _, rra := range app.GetRequiredResourceAccess() {
		for _, ra := range rra.GetResourceAccess() {
			id := ""
			if ra.GetId() != nil {
				id = ra.GetId().String()
			}
			out = append(out, access{str(rra.GetResourceAppId()), id, str(ra.GetTypeEscaped())})
		}
	}
	return out
}

// accessModel builds requiredResourceAccess grouped by resource, in appperms order.
func accessModel(list []access) []models.RequiredResourceAccessable {
	var out []models.RequiredResourceAccessable
	byRes := map[string]models.RequiredResourceAccessable{}
	for _, a := range list {
		rra := byRes[a.Resource]
		if rra == nil {
			rra = models.NewRequiredResourceAccess()
			rra.SetResourceAppId(ptr(a.Resource))
			byRes[a.Resource] = rra
			out = append(out, rra)
		}
		ra := models.NewResourceAccess()
		id := uuid.MustParse(a.ID)
		ra.SetId(&id)
		ra.SetTypeEscaped(ptr(a.Type))
		rra.SetResourceAccess(append(rra.GetResourceAccess(), ra))
	}
	return out
}

// accessDiff: what desired adds to and removes from current.
func accessDiff(current, desired []access) (added, removed []access) {
	have, want := map[string]bool{}, map[string]bool{}
	for _, a := range current {
		have[a.key()] = true
	}
	for _, a := range desired {
		want[a.key()] = true
		if !have[a.key()] {
			added = append(added, a)
		}
	}
	for _, a := range current {
		if !want[a.key()] {
			removed = append(removed, a)
		}
	}
	return added, removed
}

func permissionsSummary() string {
	return fmt.Sprintf("%d Microsoft Graph application permissions (%s) and Partner Center user_impersonation",
		len(appperms.Graph), strings.Join(appperms.GraphValues(), ", "))
}

func redirectsOf(app models.Applicationable) []string {
	if w := app.GetWeb(); w != nil {
		return w.GetRedirectUris()
	}
	return nil
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// The console's sign-in (App Service Authentication) uses this registration: without a client
// secret App Service signs in with the OpenID Connect implicit flow, so the registration must
// issue ID tokens (web.implicitGrantSettings.enableIdTokenIssuance; "If no client secret is
// configured, the OpenID Connect implicit auth flow is used", App Service SiteAuthSettings
// clientSecret), and the handler checks ADMIN_GROUP_ID in the token's groups claim, which Entra
// emits only when groupMembershipClaims asks for it ("SecurityGroup": security groups and
// Microsoft Entra roles, application resource type). Past 200 groups Entra sends the overage
// claim instead, which the handler resolves through Graph (shared/groupcheck).
const (
	signInGroupClaims = "SecurityGroup"
	signInSummary     = "console sign-in: ID tokens issued, groups claim SecurityGroup"
)

// ensureApp creates the app registration, or updates the properties that differ from what
// tenantsync needs (PATCH with only those properties).
func (r *run) ensureApp(ctx context.Context, app models.Applicationable) (models.Applicationable, error) {
	res := r.res
	want := desiredAccess()
	// The whole web object is always sent, so a PATCH that changes the redirect URIs cannot drop
	// the console sign-in's ID token issuance.
	web := func() models.WebApplicationable {
		w := models.NewWebApplication()
		w.SetRedirectUris(res.RedirectURIs)
		g := models.NewImplicitGrantSettings()
		g.SetEnableIdTokenIssuance(ptr(true))
		g.SetEnableAccessTokenIssuance(ptr(false))
		w.SetImplicitGrantSettings(g)
		return w
	}
	if app == nil {
		body := models.NewApplication()
		body.SetDisplayName(ptr(r.o.AppName))
		body.SetSignInAudience(ptr(multiTenant))
		body.SetWeb(web())
		body.SetGroupMembershipClaims(ptr(signInGroupClaims))
		body.SetRequiredResourceAccess(accessModel(want))
		created, err := r.graph.Applications().Post(ctx, body, nil)
		if err != nil {
			return nil, graphError("creating the app registration", err, rolesApps)
		}
		res.AppID, res.ObjectID = str(created.GetAppId()), str(created.GetId())
		res.add(ItemApp, Created, "%s, app id %s", r.o.AppName, res.AppID)
		res.add(ItemAudience, Created, "%s (multi-tenant: every customer tenant can consent)", multiTenant)
		res.add(ItemRedirects, Created, "%s", strings.Join(res.RedirectURIs, ", "))
		res.add(ItemSignIn, Created, "%s", signInSummary)
		res.add(ItemPermissions, Created, "%s", permissionsSummary())
		fmt.Fprintf(r.o.Out, "Created app registration %q (app id %s).\n", r.o.AppName, res.AppID)
		return created, nil
	}

	res.AppID, res.ObjectID, res.AppName = str(app.GetAppId()), str(app.GetId()), str(app.GetDisplayName())
	res.add(ItemApp, Unchanged, "%s, app id %s (found)", res.AppName, res.AppID)
	patch := models.NewApplication()
	changed := false

	if aud := str(app.GetSignInAudience()); aud != multiTenant {
		patch.SetSignInAudience(ptr(multiTenant))
		changed = true
		res.add(ItemAudience, Updated, "%s -> %s (multi-tenant: every customer tenant can consent)", aud, multiTenant)
	} else {
		res.add(ItemAudience, Unchanged, "%s", multiTenant)
	}

	if have := redirectsOf(app); !sameSet(have, res.RedirectURIs) {
		patch.SetWeb(web())
		changed = true
		var gone []string
		for _, u := range have {
			if !slices.Contains(res.RedirectURIs, u) {
				gone = append(gone, u)
			}
		}
		detail := "now " + strings.Join(res.RedirectURIs, ", ")
		if len(gone) > 0 {
			detail += "; removed " + strings.Join(gone, ", ")
		}
		res.add(ItemRedirects, Updated, "%s", detail)
	} else {
		res.add(ItemRedirects, Unchanged, "%s", strings.Join(res.RedirectURIs, ", "))
	}

	idTokens := app.GetWeb() != nil && app.GetWeb().GetImplicitGrantSettings() != nil &&
		app.GetWeb().GetImplicitGrantSettings().GetEnableIdTokenIssuance() != nil && *app.GetWeb().GetImplicitGrantSettings().GetEnableIdTokenIssuance()
	if claims := str(app.GetGroupMembershipClaims()); !idTokens || claims != signInGroupClaims {
		patch.SetWeb(web())
		patch.SetGroupMembershipClaims(ptr(signInGroupClaims))
		changed = true
		res.add(ItemSignIn, Updated, "%s (was: ID tokens %v, group claims %q)", signInSummary, idTokens, claims)
	} else {
		res.add(ItemSignIn, Unchanged, "%s", signInSummary)
	}

	if added, removed := accessDiff(currentAccess(app), want); len(added)+len(removed) > 0 {
		patch.SetRequiredResourceAccess(accessModel(want))
		changed = true
		var parts []string
		for _, a := range added {
			parts = append(parts, "+"+a.name())
		}
		for _, a := range removed {
			parts = append(parts, "-"+a.name())
		}
		res.add(ItemPermissions, Updated, "%s", strings.Join(parts, ", "))
	} else {
		res.add(ItemPermissions, Unchanged, "%s", permissionsSummary())
	}

	if changed {
		if _, err := r.graph.Applications().ByApplicationId(res.ObjectID).Patch(ctx, patch, nil); err != nil {
			return nil, graphError("updating the app registration", err, rolesApps)
		}
	}
	return app, nil
}

// ensureConsent instantiates the app in the partner tenant (its service principal) and grants
// every Graph application permission it needs there (app role assignments on Microsoft Graph's
// service principal: admin consent), skipping those already granted.
func (r *run) ensureConsent(ctx context.Context) error {
	res := r.res
	sp, err := r.servicePrincipal(ctx, res.AppID)
	if err != nil {
		return graphError("reading the app's service principal", err, rolesApps)
	}
	if sp == nil {
		body := models.NewServicePrincipal()
		body.SetAppId(ptr(res.AppID))
		err := retryReplication(ctx, func() error {
			var err error
			sp, err = r.graph.ServicePrincipals().Post(ctx, body, nil)
			return err
		})
		if err != nil {
			return graphError("creating the app's service principal in the partner tenant", err, rolesApps)
		}
		res.add(ItemSP, Created, "enterprise application %s in the partner tenant, object id %s", res.AppName, str(sp.GetId()))
	} else {
		res.add(ItemSP, Unchanged, "enterprise application %s in the partner tenant, object id %s", res.AppName, str(sp.GetId()))
	}
	spID := str(sp.GetId())

	graphSP, err := r.servicePrincipal(ctx, appperms.GraphAppID)
	if err != nil {
		return graphError("reading Microsoft Graph's service principal", err, rolesApps)
	}
	if graphSP == nil {
		return fmt.Errorf("the partner tenant has no Microsoft Graph service principal (app id %s): is this an Entra ID tenant?", appperms.GraphAppID)
	}
	graphSPID := str(graphSP.GetId())
	offered := map[string]string{}
	for _, role := range graphSP.GetAppRoles() {
		if role.GetId() != nil {
			offered[strings.ToLower(role.GetId().String())] = str(role.GetValue())
		}
	}
	roles := partnerTenantRoles()
	for _, p := range roles {
		if v, ok := offered[strings.ToLower(p.ID)]; !ok || v != p.Value {
			return fmt.Errorf("Microsoft Graph in this cloud has no application permission %s with id %s: appperms and the cloud disagree", p.Value, p.ID)
		}
	}

	held, err := r.heldRoles(ctx, spID, graphSPID)
	if err != nil {
		return graphError("reading the app's granted permissions", err, rolesApps)
	}
	var granted []string
	for _, p := range roles {
		if held[strings.ToLower(p.ID)] {
			continue
		}
		principal, resource, role := uuid.MustParse(spID), uuid.MustParse(graphSPID), uuid.MustParse(p.ID)
		body := models.NewAppRoleAssignment()
		body.SetPrincipalId(&principal)
		body.SetResourceId(&resource)
		body.SetAppRoleId(&role)
		err := retryReplication(ctx, func() error {
			_, err := r.graph.ServicePrincipals().ByServicePrincipalId(graphSPID).AppRoleAssignedTo().Post(ctx, body, nil)
			return err
		})
		if err != nil {
			return graphError("granting "+p.Value+" (admin consent in the partner tenant)", err, rolesConsent)
		}
		granted = append(granted, p.Value)
	}
	want := map[string]bool{}
	for _, p := range roles {
		want[strings.ToLower(p.ID)] = true
	}
	var extra []string
	for id := range held {
		if !want[id] {
			extra = append(extra, orDefault(offered[id], id))
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the app also holds Graph permissions tenantsync does not need in the partner tenant: %s. "+
			"Remove them in Entra admin center > Enterprise applications > %s > Permissions if nothing else uses them.", strings.Join(extra, ", "), res.AppName))
	}
	if err := r.ensureMailGrant(ctx, spID, graphSPID); err != nil {
		return err
	}
	switch {
	case len(granted) == 0:
		res.add(ItemConsent, Unchanged, "all %d Microsoft Graph application permissions granted in the partner tenant", len(roles))
	case len(granted) == len(roles):
		res.add(ItemConsent, Created, "granted all %d Microsoft Graph application permissions in the partner tenant", len(roles))
	default:
		res.add(ItemConsent, Updated, "granted %s in the partner tenant (the other %d were granted already)",
			strings.Join(granted, ", "), len(roles)-len(granted))
	}
	return nil
}

// servicePrincipal finds the service principal of appID in the signed-in tenant (nil: none).
func (r *run) servicePrincipal(ctx context.Context, appID string) (models.ServicePrincipalable, error) {
	filter := "appId eq " + odataQuote(appID)
	resp, err := r.graph.ServicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &filter}})
	if err != nil {
		return nil, err
	}
	if v := resp.GetValue(); len(v) > 0 {
		return v[0], nil
	}
	return nil, nil
}

// heldRoles are the ids (lower case) of the Graph app roles granted to the service principal.
func (r *run) heldRoles(ctx context.Context, spID, graphSPID string) (map[string]bool, error) {
	held := map[string]bool{}
	b := r.graph.ServicePrincipals().ByServicePrincipalId(spID).AppRoleAssignments()
	resp, err := b.Get(ctx, nil)
	for {
		if err != nil {
			return nil, err
		}
		for _, a := range resp.GetValue() {
			if a.GetResourceId() != nil && strings.EqualFold(a.GetResourceId().String(), graphSPID) && a.GetAppRoleId() != nil {
				held[strings.ToLower(a.GetAppRoleId().String())] = true
			}
		}
		next := resp.GetOdataNextLink()
		if next == nil || *next == "" {
			return held, nil
		}
		resp, err = b.WithUrl(*next).Get(ctx, nil)
	}
}

// retryReplication retries f while Entra reports a just-created object as missing (replication
// takes seconds in Entra; the simulator is consistent at once, so there it never waits).
func retryReplication(ctx context.Context, f func() error) error {
	delay := time.Second
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !replicationDelay(err) || attempt == 7 {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay *= 2
	}
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
