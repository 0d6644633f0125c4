package entra

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// adminConsent serves /{tenant}/v2.0/adminconsent (tenant = id, domain or organizations;
// common is refused as Entra refuses it). Approving creates the app's service principal in the
// tenant with the app's required Graph roles (directory.Grant) and redirects with
// admin_consent=True&tenant=&scope=&state=; declining redirects with error=access_denied
// (AADSTS65004). Non-interactive: sim_action=approve|deny, sim_tenant for organizations.
func (s *Service) adminConsent(w http.ResponseWriter, r *http.Request) {
	ids := newReqIDs(r, s.now())
	seg := r.PathValue("tenant")
	observe(r, strings.ToLower(seg), r.Method+" /adminconsent")
	_ = r.ParseForm()
	q := r.Form
	clientID := q.Get("client_id")
	if clientID == "" {
		errorPageFor(w, ids, aad(900144, errCtx{Detail: "client_id"}))
		return
	}
	app, ok := s.dir.App(clientID)
	if !ok {
		errorPageFor(w, ids, aad(700016, errCtx{App: clientID, TenantName: seg}))
		return
	}
	cl := client{ID: app.AppID, Name: app.DisplayName, App: &app}
	redirectURI, ok := cl.redirect(q.Get("redirect_uri"))
	if !ok {
		errorPageFor(w, ids, aad(50011, errCtx{App: app.AppID, Detail: q.Get("redirect_uri")}))
		return
	}
	state := q.Get("state")
	fail := func(e *aadError) { redirectError(w, r, redirectURI, "query", state, ids, e) }
	if strings.EqualFold(seg, "common") {
		fail(aad(50059, errCtx{}).as("invalid_request"))
		return
	}
	tenant, aerr := s.resolveTenant(seg)
	if aerr != nil {
		fail(aerr)
		return
	}
	if tenant.ID != "" {
		observe(r, tenant.ID, "")
	}
	scope := q.Get("scope")
	if scope == "" {
		scope = scenario.GraphAudience + "/.default"
	}

	action, chosen := q.Get("sim_action"), q.Get("sim_tenant")
	if r.Method == http.MethodPost {
		action, chosen = q.Get("action"), strings.TrimSpace(q.Get("consent_tenant"))
	}
	switch strings.ToLower(action) {
	case "":
		s.consentPage(w, r, &app, tenant)
		return
	case "deny", "decline", "cancel":
		fail(aad(65004, errCtx{}))
		return
	case "approve", "accept":
	default:
		fail(aad(9002313, errCtx{Detail: "Unknown sim_action '" + action + "'."}))
		return
	}
	if tenant.Meta != "" {
		// organizations: the tenant is the signing-in admin's.
		if chosen == "" {
			fail(aad(900144, errCtx{Detail: "sim_tenant"}).as("invalid_request"))
			return
		}
		if tenant, aerr = s.resolveTenant(chosen); aerr != nil || tenant.Meta != "" {
			if aerr == nil {
				aerr = aad(90002, errCtx{Tenant: chosen})
			}
			fail(aerr)
			return
		}
		observe(r, tenant.ID, "")
	}
	sp, _, err := s.dir.Grant(tenant.ID, app.AppID, "adminconsent")
	if err != nil {
		fail(aad(700016, errCtx{App: app.AppID, TenantName: tenant.Name}))
		return
	}
	granted := scope
	if len(sp.Roles) > 0 && strings.Contains(strings.ToLower(scope), strings.ToLower(scenario.GraphAudience)) {
		parts := make([]string, len(sp.Roles))
		for i, role := range sp.Roles {
			parts[i] = scenario.GraphAudience + "/" + role
		}
		granted = strings.Join(parts, " ")
	}
	v := url.Values{}
	v.Set("admin_consent", "True")
	v.Set("tenant", tenant.ID)
	v.Set("scope", granted)
	if state != "" {
		v.Set("state", state)
	}
	respond(w, redirectURI, "query", v)
}

var consentTmpl = template.Must(template.New("consent").Parse(`
<p><b>{{.App}}</b> (unverified) is requesting permissions{{if .Tenant}} for <b>{{.Tenant}}</b>{{end}}.</p>
<p>This app would like to:</p>
<ul>{{range .Roles}}<li>{{.}}</li>{{else}}<li>Sign in and read user profile</li>{{end}}</ul>
<p class="small">If you accept, this app will get access to the specified resources for all users in your organization. No one else will be prompted to review these permissions.</p>
<form method="POST" action="{{.Action}}">
{{if .AskTenant}}<label for="consent_tenant">Your organization (tenant id or domain, as the signing-in admin)</label>
<input type="text" id="consent_tenant" name="consent_tenant" list="tenants">
<datalist id="tenants">{{range .Tenants}}<option value="{{.ID}}">{{.Name}}</option>{{end}}</datalist>{{end}}
<button class="primary" type="submit" name="action" value="approve">Accept</button>
<button type="submit" name="action" value="deny">Cancel</button>
</form>`))

type tenantOption struct{ ID, Name string }

func (s *Service) consentPage(w http.ResponseWriter, r *http.Request, app *directory.Application, tenant tenantRef) {
	data := struct {
		App, Tenant, Action string
		Roles               []string
		AskTenant           bool
		Tenants             []tenantOption
	}{App: app.DisplayName, Tenant: tenant.Name, Action: r.URL.RequestURI(), AskTenant: tenant.Meta != ""}
	for _, role := range app.RequiredGraphRoles {
		data.Roles = append(data.Roles, "Microsoft Graph: "+role+" (application permission)")
	}
	if data.AskTenant {
		// A datalist of the first tenants keeps the page usable on large scenarios.
		for i := 0; i < s.world.TenantCount() && i < 200; i++ {
			if t := s.world.TenantAt(i); !t.Deleted {
				data.Tenants = append(data.Tenants, tenantOption{ID: t.ID, Name: t.DisplayName})
			}
		}
	}
	page(w, http.StatusOK, "Permissions requested", render(consentTmpl, data))
}
