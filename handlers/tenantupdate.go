package handlers

import (
	"net/http"

	"github.com/tenantsync/tenantsync/shared/store"
)

// tenantUpdate serves PATCH /api/tenants/{tenantId} {"excluded": bool}.
func (d Deps) tenantUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(w, r)
	if !ok {
		return
	}
	var body struct {
		Excluded *bool `json:"excluded"`
	}
	const want = `{"excluded": true|false}`
	if !decodeBody(w, r, &body, want, false) {
		return
	}
	if body.Excluded == nil {
		writeError(w, http.StatusBadRequest, "BadRequest", `key "excluded" is missing or null: want `+want)
		return
	}
	if _, err := d.Store.GetTenant(r.Context(), id); store.IsNotFound(err) {
		writeError(w, http.StatusNotFound, "TenantNotFound", "no tenant "+id)
		return
	}
	if err := d.Store.SetExcluded(r.Context(), id, *body.Excluded); err != nil {
		d.fail(w, r, "updating the tenant", err)
		return
	}
	d.tenant(w, r)
}
