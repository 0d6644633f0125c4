package handlers

import (
	"bytes"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/console"
)

// consoleInsights serves GET /insights (function ConsoleInsights); ?table=<name>&format=csv
// downloads one of its tables.
func (d Deps) consoleInsights(w http.ResponseWriter, r *http.Request, c console.Chrome, _ console.Viewer) {
	in, err := (&console.Service{Store: d.Store, Now: d.Now}).Insights(r.Context(), console.ParseDays(r.URL.Query().Get("days")))
	if err != nil {
		d.consoleFail(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		t, ok := in.ByName(r.URL.Query().Get("table"))
		if !ok {
			d.consoleDenied(w, http.StatusNotFound, "Not found", "No such insights table.", false)
			return
		}
		d.consoleCSV(w, r, t, t.Name)
		return
	}
	d.consolePage(w, r, func(b *bytes.Buffer) error { return console.RenderInsights(b, c, in) })
}
