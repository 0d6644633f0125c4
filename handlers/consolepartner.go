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
