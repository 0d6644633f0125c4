package handlers

import (
	"net/http"

	"github.com/tenantsync/tenantsync/shared/adminauth"
)

// connect serves GET /api/connect: redirect to the partner sign-in.
func (d Deps) connect(w http.ResponseWriter, r *http.Request) {
	// d.admin applied the admin rule; its caller is who asked, for the record.
	u, err := d.Partner.ConnectURL(r.Context(), adminauth.From(r.Context()).Name)
	if err != nil {
		d.fail(w, r, "starting the partner sign-in", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusFound)
}
