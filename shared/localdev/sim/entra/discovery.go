package entra

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// openIDConfiguration serves /{tenant}/v2.0/.well-known/openid-configuration. MSAL requires
// authorization_endpoint, token_endpoint and issuer, and (since MSAL Go 1.8) an issuer whose
// scheme and host:port equal the authority's, so every URL here is built from the host the
// client used. For a tenant the endpoints carry the tenant id (as Entra answers even when asked
// by domain); for organizations/common they keep that segment and the issuer has Entra's
// {tenantid} placeholder.
func (s *Service) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	ids := newReqIDs(r, s.now())
	seg := r.PathValue("tenant")
	observe(r, strings.ToLower(seg), "GET /openid-configuration")
	t, aerr := s.resolveTenant(seg)
	base := baseURL(r)
	if aerr != nil {
		aerr = aerr.as("invalid_tenant")
		writeAADError(w, ids, base, aerr)
		return
	}
	pathTenant, issuerTenant := t.ID, t.ID
	if t.Meta != "" {
		pathTenant, issuerTenant = t.Meta, "{tenantid}"
	} else {
		observe(r, t.ID, "")
	}
	ep := func(p string) string { return base + "/" + pathTenant + p }
	writeJSON(w, ids, http.StatusOK, map[string]any{
		"token_endpoint":                        ep("/oauth2/v2.0/token"),
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              ep("/discovery/v2.0/keys"),
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/" + issuerTenant + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     "https://graph.microsoft.com/oidc/userinfo",
		"authorization_endpoint":                ep("/oauth2/v2.0/authorize"),
		"device_authorization_endpoint":         ep("/oauth2/v2.0/devicecode"),
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  ep("/oauth2/v2.0/logout"),
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		"kerberos_endpoint":     ep("/kerberos"),
		"tenant_region_scope":   "NA",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
		"rbac_url":              "https://pas.windows.net",
	})
}

// instanceDiscovery serves /common/discovery/instance: the simulator is its own cloud with one
// alias, so clients that do not disable instance discovery still resolve it.
func (s *Service) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	ids := newReqIDs(r, s.now())
	observe(r, "", "GET /discovery/instance")
	tenant := "common"
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		if u, err := url.Parse(ae); err == nil {
			if parts := strings.Split(strings.Trim(u.Path, "/"), "/"); len(parts) > 0 && parts[0] != "" {
				tenant = parts[0]
			}
		}
	}
	host := r.Host
	writeJSON(w, ids, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": baseURL(r) + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host, "preferred_cache": host, "aliases": []string{host},
		}},
	})
}

// keys serves the JWKS (one signing key for every tenant).
func (s *Service) keys(w http.ResponseWriter, r *http.Request) {
	observe(r, strings.ToLower(r.PathValue("tenant")), "GET /keys")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=86400, private")
	_, _ = w.Write(s.iss.JWKS())
}

// logout ends the (stateless) browser session and returns to post_logout_redirect_uri.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	observe(r, strings.ToLower(r.PathValue("tenant")), "GET /logout")
	if u := r.URL.Query().Get("post_logout_redirect_uri"); strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://localhost") {
		q := url.Values{}
		if st := r.URL.Query().Get("state"); st != "" {
			q.Set("state", st)
		}
		respond(w, u, "query", q)
		return
	}
	page(w, http.StatusOK, "Signed out", template.HTML("<p>You signed out of your account.</p>"))
}

// errorPage is the target of error_uri.
func (s *Service) errorPage(w http.ResponseWriter, r *http.Request) {
	observe(r, "", "GET /error")
	code := r.URL.Query().Get("code")
	msg := "Unknown error code."
	if n, ok := aadCode(code); ok {
		if e, ok := aadCatalogue[n]; ok {
			msg = fmt.Sprintf("AADSTS%d (%s): %s", n, e.err, e.msg(errCtx{App: "{appId}", AppName: "{appName}", Tenant: "{tenant}",
				TenantName: "{tenantName}", UPN: "{upn}", Resource: "{resource}", Detail: ""}))
		}
	}
	page(w, http.StatusOK, "Error lookup", template.HTML("<p>"+template.HTMLEscapeString(msg)+"</p>"))
}

// userRealm serves /common/UserRealm/{upn}: MSAL asks it before a username/password (ROPC)
// sign-in. Every simulated user is cloud-only ("Managed").
func (s *Service) userRealm(w http.ResponseWriter, r *http.Request) {
	ids := newReqIDs(r, s.now())
	observe(r, "", "GET /UserRealm")
	upn := r.PathValue("user")
	kind, domain := "Unknown", ""
	if u, ok := s.lookupUser(upn); ok {
		kind, domain = "Managed", s.tenantByID(u.HomeTenant).Domain
	}
	writeJSON(w, ids, http.StatusOK, map[string]any{
		"ver": "1.0", "account_type": kind, "domain_name": domain,
		"cloud_instance_name": "microsoftonline.com", "cloud_audience_urn": "urn:federation:MicrosoftOnline",
	})
}
