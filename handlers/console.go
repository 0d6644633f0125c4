package handlers

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/store"
)

// ConsoleSettings configure the console's sign-in and CSRF protection.
type ConsoleSettings struct {
	Auth    console.AuthSettings
	CSRFKey []byte
}

// consoleHandler is a console page or action for a signed-in admin.
type consoleHandler func(w http.ResponseWriter, r *http.Request, c console.Chrome, v console.Viewer)

// consoleRoute authorises a console request from App Service Authentication's principal (the
// console functions are anonymous at the Functions level: a browser has no function key).
// Not signed in: GET is sent to the sign-in, anything else gets 401. Outside the admin group,
// or with authentication off: 403 with the reason.
func (d Deps) consoleRoute(next consoleHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		console.SecureHeaders(w.Header())
		v, err := console.Authorize(r, d.ConsoleSettings.Auth)
		switch {
		case err == nil:
		case errors.Is(err, console.ErrSignInRequired) && r.Method == http.MethodGet:
			w.Header().Set("Location", console.SignInURL(r.URL.RequestURI()))
			w.WriteHeader(http.StatusFound)
			return
		case errors.Is(err, console.ErrSignInRequired):
			d.consoleDenied(w, http.StatusUnauthorized, "Sign in required", err.Error(), false)
			return
		default:
			d.Log.Warn("console refused", "path", r.URL.Path, "principal", v.Name, "error", err.Error())
			d.consoleDenied(w, http.StatusForbidden, "Not allowed", err.Error(), v.ID != "")
			return
		}
		csrf := console.CSRF{Key: d.ConsoleSettings.CSRFKey, Now: d.Now}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil || csrf.Check(r, v.ID) != nil {
				d.Log.Warn("console form refused (CSRF)", "path", r.URL.Path, "principal", v.Name)
				d.consoleDenied(w, http.StatusForbidden, "Form refused", console.ErrCSRF.Error(), false)
				return
			}
		}
		next(w, r, console.Chrome{Viewer: v, CSRF: csrf.Token(v.ID)}, v)
	}
}

func (d Deps) consoleDenied(w http.ResponseWriter, status int, title, msg string, offerSignOut bool) {
	console.SecureHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = console.RenderDenied(w, title, msg, offerSignOut)
}

// consolePage buffers a page so a rendering error becomes a clean 500, not half a page.
func (d Deps) consolePage(w http.ResponseWriter, r *http.Request, render func(*bytes.Buffer) error) {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		d.consoleFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

func (d Deps) consoleFail(w http.ResponseWriter, r *http.Request, err error) {
	if store.IsNotFound(err) {
		d.consoleDenied(w, http.StatusNotFound, "Not found", "No such tenant: run discovery if it is new.", false)
		return
	}
	d.Log.Error("console page failed", "path", r.URL.Path, "error", err.Error())
	d.consoleDenied(w, http.StatusInternalServerError, "Something went wrong", "The page could not be built; an administrator can find the cause in the function logs.", false)
}

// consoleCSV sends a table as a CSV download.
func (d Deps) consoleCSV(w http.ResponseWriter, r *http.Request, t console.Table, name ...string) {
	var buf bytes.Buffer
	if err := console.WriteCSV(&buf, t); err != nil {
		d.consoleFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+console.CSVFileName(name...)+`"`)
	_, _ = w.Write(buf.Bytes())
}
