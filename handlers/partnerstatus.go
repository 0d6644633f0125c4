package handlers

import (
	"net/http"
	"time"

	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/store"
)

// partnerStatus serves GET /api/partner: the connection record (it never holds a token).
func (d Deps) partnerStatus(w http.ResponseWriter, r *http.Request) {
	st, err := d.Partner.Status(r.Context())
	if err != nil {
		d.fail(w, r, "reading the partner connection", err)
		return
	}
	out := struct {
		store.PartnerConnection
		AppCredential *identity.ExpiryStatus `json:"appCredential,omitempty"`
	}{PartnerConnection: st}
	if d.Vault != nil {
		cs, err := identity.CheckExpiry(r.Context(), d.AppAuth, d.Vault, time.Now())
		if err != nil {
			d.Log.Warn("checking the app credential's expiry failed", "error", err.Error())
		} else {
			out.AppCredential = &cs
		}
	}
	writeJSON(w, http.StatusOK, out)
}
