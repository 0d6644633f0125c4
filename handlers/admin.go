package handlers

import (
	"errors"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/adminauth"
)

// admin applies the admin rule (shared/adminauth) and hands the caller on in the context, so
// "who asked" is recorded from it and never from the request body.
func (d Deps) admin(next http.HandlerFunc) http.HandlerFunc {
	pol := adminauth.Policy{AppServiceAuth: d.AppServiceAuth, AdminGroupID: d.AdminGroupID, Groups: d.Groups}
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := pol.Check(r)
		if err != nil {
			d.refuseAdmin(w, r, who, err)
			return
		}
		if !d.AppServiceAuth && r.Header.Get("X-MS-CLIENT-PRINCIPAL") != "" {
			d.Log.Warn("X-MS-CLIENT-PRINCIPAL ignored: App Service Authentication is off (WEBSITE_AUTH_ENABLED), so the header is not the platform's; the request counts as automation", "path", r.URL.Path)
		}
		next(w, r.WithContext(adminauth.WithCaller(r.Context(), who)))
	}
}

// refuseAdmin answers an admin rule refusal: 403 with a code naming the reason.
func (d Deps) refuseAdmin(w http.ResponseWriter, r *http.Request, who adminauth.Caller, err error) {
	d.Log.Warn("admin API refused", "path", r.URL.Path, "principal", who.Name, "error", err.Error())
	code := "Forbidden"
	switch {
	case errors.Is(err, adminauth.ErrGroupOverage):
		code = "GroupOverage"
	case errors.Is(err, adminauth.ErrGroupLookup):
		code = "GroupLookupFailed"
	}
	writeError(w, http.StatusForbidden, code, err.Error())
}
