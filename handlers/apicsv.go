package handlers

import (
	"mime"
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/store"
)

// acceptsCSV reports whether the request's Accept header asks for text/csv (with a q above 0).
func acceptsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "text/csv" && params["q"] != "0" && params["q"] != "0.0" {
			return true
		}
	}
	return false
}

// csvOrJSON answers `Accept: text/csv` on the read API's collections with the console's table of
// the same data (every row, not one page: CSV consumers want the whole collection), RFC 4180
// UTF-8 with BOM; anything else goes to the JSON handler.
func (d Deps) csvOrJSON(jsonHandler http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !acceptsCSV(r) {
			jsonHandler(w, r)
			return
		}
		svc := &console.Service{Store: d.Store, Now: d.Now}
		id := r.PathValue("tenantId")
		if id == "" { // GET /api/tenants
			o, err := svc.Overview(r.Context(), console.OverviewQuery{Sort: "name"})
			if err != nil {
				d.fail(w, r, "listing tenants", err)
				return
			}
			d.consoleCSV(w, r, o.Table(), "tenants")
			return
		}
		coll := r.PathValue("collection")
		if _, ok := console.CollectionByName(coll); !ok && coll != "runs" {
			jsonHandler(w, r) // the JSON handler explains the bad id or collection
			return
		}
		id, ok := tenantID(w, r)
		if !ok {
			return
		}
		p, err := svc.Tenant(r.Context(), id, console.TenantQuery{Tab: coll, Page: 1}, true)
		if store.IsNotFound(err) {
			writeError(w, http.StatusNotFound, "TenantNotFound", "no tenant "+id)
			return
		}
		if err != nil {
			d.fail(w, r, "listing "+coll, err)
			return
		}
		d.consoleCSV(w, r, p.Table, nonEmptyName(p.T), coll)
	}
}
