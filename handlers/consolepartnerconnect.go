package handlers

import (
	"net/http"

	"github.com/tenantsync/tenantsync/shared/console"
)

// consolePartnerConnect serves GET /partner/connect (function ConsolePartnerConnect): starts the
// partner sign-in, as GET /api/connect does for automation. A link, not a form: nothing changes
// until the callback verifies its signed single-use state, and a form's redirect to Entra would
// be blocked by the CSP's form-action 'self'.
func (d Deps) consolePartnerConnect(w http.ResponseWriter, r *http.Request, _ console.Chrome, v console.Viewer) {
	u, err := d.Partner.ConnectURL(r.Context(), v.Name)
	if err != nil {
		d.consoleFail(w, r, err)
		return
	}
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusFound)
}
