package handlers

import (
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/store"
)

// consoleProgress serves GET /tenants/{tenantId}/progress (function ConsoleProgress): the sync's
// state for the tenant page's live progress.
func (d Deps) consoleProgress(w http.ResponseWriter, r *http.Request, _ console.Chrome, _ console.Viewer) {
	id := strings.ToLower(r.PathValue("tenantId"))
	if !domain.IsTenantID(id) {
		writeError(w, http.StatusBadRequest, "BadRequest", "not a tenant id")
		return
	}
	p, err := (&console.Service{Store: d.Store, Now: d.Now}).SyncProgress(r.Context(), id)
	if store.IsNotFound(err) {
		writeError(w, http.StatusNotFound, "TenantNotFound", "no tenant "+id)
		return
	}
	if err != nil {
		d.fail(w, r, "reading the sync progress", err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
