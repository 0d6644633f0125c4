package handlers

import (
	"bytes"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/console"
)

// consoleOverview serves GET / (function ConsoleOverview): every tenant, or its CSV.
func (d Deps) consoleOverview(w http.ResponseWriter, r *http.Request, c console.Chrome, _ console.Viewer) {
	o, err := (&console.Service{Store: d.Store, Now: d.Now}).Overview(r.Context(), console.ParseOverviewQuery(r.URL.Query()))
	if err != nil {
		d.consoleFail(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		d.consoleCSV(w, r, o.Table(), "tenants")
		return
	}
	d.consolePage(w, r, func(b *bytes.Buffer) error { return console.RenderOverview(b, c, o) })
}
