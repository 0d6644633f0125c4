package handlers

import (
	"net/http"

	"github.com/tenantsync/tenantsync/shared/console"
)

// consoleAssets serves GET /static/{file} (function ConsoleAssets): the console's embedded
// stylesheet and script. Anonymous: they hold nothing private.
func (d Deps) consoleAssets(w http.ResponseWriter, r *http.Request) {
	body, ct, ok := console.Asset(r.PathValue("file"))
	console.SecureHeaders(w.Header())
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}
