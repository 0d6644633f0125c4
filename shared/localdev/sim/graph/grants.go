package graph

import (
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// oauth2PermissionGrants: the tenant-wide (consentType AllPrincipals) delegated grants of an app
// to Microsoft Graph, as tenantsync register creates in the partner tenant for the consent mails'
// Mail.Send. POST needs delegated DelegatedPermissionGrant.ReadWrite.All (higher:
// Directory.ReadWrite.All, Directory.AccessAsUser.All) or the application permission
// DelegatedPermissionGrant.ReadWrite.All (https://learn.microsoft.com/graph/api/oauth2permissiongrant-post;
// the page was not reachable through the search tool in this session: unverified). Only grants to
// Microsoft Graph and for all principals are modelled; one grant per client and resource holds
// the scopes (space-separated).
var permGrantWrite = perm{
	roles:  []string{"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"},
	scopes: []string{"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
}

var permGrantRead = perm{
	roles:  append([]string{"DelegatedPermissionGrant.Read.All", "Directory.Read.All"}, permGrantWrite.roles...),
	scopes: append([]string{"DelegatedPermissionGrant.Read.All", "Directory.Read.All"}, permGrantWrite.scopes...),
}

func grantObj(clientID, resourceID string, scopes []string) obj {
	id := uuid.NewSHA1(uuid.NameSpaceOID, []byte("grant:"+clientID+"/"+resourceID)).String()
	return obj{{"id", id}, {"clientId", clientID}, {"consentType", "AllPrincipals"}, {"principalId", nil}, {"resourceId", resourceID},
		{"scope", strings.Join(scopes, " ")}}
}

// graphSPID is Microsoft Graph's service principal object id in this tenant, as spViews shows it.
func (c *call) graphSPID() string {
	v, e := c.findSP(scenario.GraphAppID, true)
	if e != nil {
		return ""
	}
	return v.id
}

func handleCreateGrant(c *call) *gerr {
	if e := c.require(permGrantWrite); e != nil {
		return e
	}
	var b struct {
		ClientID    string `json:"clientId"`
		ConsentType string `json:"consentType"`
		ResourceID  string `json:"resourceId"`
		Scope       string `json:"scope"`
	}
	if e := decodeBody(c, &b); e != nil {
		return e
	}
	if b.ConsentType != "AllPrincipals" || !strings.EqualFold(b.ResourceID, c.graphSPID()) {
		return errBadRequest("Only tenant-wide (AllPrincipals) grants to Microsoft Graph are supported by the simulator.")
	}
	client, e := c.findSP(b.ClientID, false)
	if e != nil || client.graph {
		return errBadRequest("Invalid value specified for property 'clientId' of resource 'OAuth2PermissionGrant'.")
	}
	scopes, err := c.s.opts.Directory.AddDelegatedScopes(c.ten.id, client.appID, strings.Fields(b.Scope))
	if err != nil {
		return errNotFound(b.ClientID)
	}
	writeJSON(c, http.StatusCreated, append(obj{{"@odata.context", c.s.contextURL("oauth2PermissionGrants/$entity")}}, grantObj(client.id, b.ResourceID, scopes)...))
	return nil
}

// handleGrants lists the grants, filtered by clientId eq '{id}' (the filter register uses).
func handleGrants(c *call) *gerr {
	if e := c.require(permGrantRead); e != nil {
		return e
	}
	f, _ := qget(c.q, "filter")
	want := ""
	if f != "" {
		k, v, ok := strings.Cut(f, " eq ")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "clientId") {
			return errBadRequest("Unsupported filter: %s", f)
		}
		want = strings.Trim(strings.TrimSpace(v), "'")
	}
	col := c.startCollection("oauth2PermissionGrants", nil)
	graph := c.graphSPID()
	for _, v := range c.spViews() {
		if v.graph || len(v.sp.DelegatedScopes) == 0 || (want != "" && !strings.EqualFold(v.id, want)) {
			continue
		}
		col.j.elem(grantObj(v.id, graph, v.sp.DelegatedScopes))
	}
	col.end("", "")
	return nil
}

// handlePatchGrant adds scopes to an existing grant (PATCH /oauth2PermissionGrants/{id} {scope}).
// The simulator only ever adds: a scope left out of the new value is kept.
func handlePatchGrant(c *call) *gerr {
	if e := c.require(permGrantWrite); e != nil {
		return e
	}
	var b struct {
		Scope string `json:"scope"`
	}
	if e := decodeBody(c, &b); e != nil {
		return e
	}
	graph := c.graphSPID()
	for _, v := range c.spViews() {
		if v.graph || len(v.sp.DelegatedScopes) == 0 {
			continue
		}
		if id, _ := grantObj(v.id, graph, nil)[0].v.(string); strings.EqualFold(id, c.segs[1]) {
			if _, err := c.s.opts.Directory.AddDelegatedScopes(c.ten.id, v.appID, strings.Fields(b.Scope)); err != nil {
				return errNotFound(c.segs[1])
			}
			c.w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	return errNotFound(c.segs[1])
}
