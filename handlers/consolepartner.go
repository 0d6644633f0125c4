package handlers

import (
	"bytes"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/identity"
)

// consolePartner serves GET /partner (function ConsolePartner): the partner connection and the
// app credential's expiry. It shows the record only, never a token.
func (d Deps) consolePartner(w http.ResponseWriter, r *http.Request, c console.Chrome, _ console.Viewer) {
	st, err := d.Partner.Status(r.Context())
	if err != nil {
		d.consoleFail(w, r, err)
		return
	}
	p := console.PartnerPage{Connection: st, Now: d.Now()}
	if d.Vault != nil {
		if cs, err := identity.CheckExpiry(r.Context(), d.AppAuth, d.Vault, d.Now()); err == nil {
			p.AppCredential = &cs
		} else {
			d.Log.Warn("checking the app credential's expiry failed", "error", err.Error())
		}
	}
	d.consolePage(w, r, func(b *bytes.Buffer) error { return console.RenderPartner(b, c, p) })
}

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
