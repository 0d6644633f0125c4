package handlers

import (
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/operation"
)

// cpvRequest is POST /api/consent/cpv's body: named tenants, or "all": true for every eligible tenant.
// An empty body is refused: touching every customer tenant must be asked for explicitly.
type cpvRequest struct {
	TenantIDs []string `json:"tenantIds"`
	All       bool     `json:"all"`
}

const cpvUsage = `{"tenantIds": ["<tenant GUID>", ...]} or {"all": true} (every eligible tenant)`

// consentCPV serves POST /api/consent/cpv as an operation.
func (d Deps) consentCPV(w http.ResponseWriter, r *http.Request) {
	var body cpvRequest
	// Strict (one value, no unknown, duplicate or case-variant keys) and required: an empty body
	// is refused, since touching every customer tenant must be asked for explicitly.
	if !decodeBody(w, r, &body, cpvUsage, false) {
		return
	}
	switch {
	case body.All && len(body.TenantIDs) > 0:
		writeError(w, http.StatusBadRequest, "BadRequest", `give either "tenantIds" or "all": true, not both`)
		return
	case !body.All && len(body.TenantIDs) == 0:
		writeError(w, http.StatusBadRequest, "BadRequest", "no tenants named: want "+cpvUsage)
		return
	}
	ids := make([]string, 0, len(body.TenantIDs))
	for _, id := range body.TenantIDs {
		if !domain.IsTenantID(id) {
			writeError(w, http.StatusBadRequest, "BadRequest", "tenantIds must be tenant GUIDs; "+jsonQuote(id)+" is not")
			return
		}
		ids = append(ids, strings.ToLower(id)) // tenant ids are kept in lower case
	}
	d.startOperation(w, r, operation.Operation{Kind: operation.KindConsentCPV, TenantIDs: ids, All: body.All})
}
