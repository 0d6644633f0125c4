package handlers

import (
	"net/http"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/invocation"
)

// listTenants serves GET /api/tenants.
func (d Deps) listTenants(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := d.Store.Ensure(ctx); err != nil {
		d.Log.Error("table storage unavailable", "error", err.Error())
		writeError(w, http.StatusServiceUnavailable, "StorageUnavailable", "table storage is unavailable; see the function logs")
		return
	}
	tenants, err := d.Store.ListTenants(ctx)
	if err != nil {
		invocation.Logger(ctx).Error("list tenants failed", "error", err.Error())
		writeError(w, http.StatusInternalServerError, "InternalError", "listing tenants failed; see the function logs")
		return
	}
	if tenants == nil {
		tenants = []domain.Tenant{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": tenants})
}
