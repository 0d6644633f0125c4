package handlers

import (
	"net/http"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// tenants serves GET /api/tenants.
func (d Deps) tenants(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := d.Store.Ensure(ctx); err != nil {
		d.fail(w, r, "table storage", err)
		return
	}
	tenants, err := d.Store.ListTenants(ctx)
	if err != nil {
		d.fail(w, r, "listing tenants", err)
		return
	}
	if tenants == nil {
		tenants = []domain.Tenant{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": tenants})
}
