package handlers

import (
	"net/http"

	"github.com/tenantsync/tenantsync/shared/store"
)

// tenant serves GET /api/tenants/{tenantId}.
func (d Deps) tenant(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(w, r)
	if !ok {
		return
	}
	t, err := d.Store.GetTenant(r.Context(), id)
	if store.IsNotFound(err) {
		writeError(w, http.StatusNotFound, "TenantNotFound", "no tenant "+id+": run discovery (POST /api/discovery) if it is new")
		return
	}
	if err != nil {
		d.fail(w, r, "reading the tenant", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}
