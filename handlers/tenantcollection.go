package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/odataquery"
	"github.com/tenantsync/tenantsync/shared/store"
)

var collections = map[string]string{
	"users": store.TableUsers, "licenses": store.TableLicenses, "groups": store.TableGroups,
	"devices": store.TableDevices, "mailboxes": store.TableMailboxes,
}

// tenantCollection serves GET /api/tenants/{tenantId}/{users|licenses|groups|devices|mailboxes|runs},
// paged Graph-style with $top and an opaque $skiptoken in @odata.nextLink.
func (d Deps) tenantCollection(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(w, r)
	if !ok {
		return
	}
	// Collection names match case-insensitively, like the route's literal segments.
	coll := strings.ToLower(r.PathValue("collection"))
	q := r.URL.Query()
	top, err := odataquery.Top(q, 100, 999)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	skip, err := odataquery.Single(q, "$skiptoken")
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if coll == "runs" {
		runs, err := d.Store.ListRuns(r.Context(), id)
		if err != nil {
			d.fail(w, r, "listing runs", err)
			return
		}
		if runs == nil {
			runs = []domain.Run{}
		}
		if len(runs) > top {
			runs = runs[:top] // newest first; older runs are rarely wanted
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": runs})
		return
	}
	table, ok := collections[coll]
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no collection %q: use users, licenses, groups, devices, mailboxes or runs", r.PathValue("collection")))
		return
	}
	items, next, err := d.Store.Page(r.Context(), table, id, top, skip)
	if errors.Is(err, store.ErrInvalidSkipToken) {
		writeError(w, http.StatusBadRequest, "BadRequest", "$skiptoken is not one this API issued")
		return
	}
	if err != nil {
		d.fail(w, r, "listing "+coll, err)
		return
	}
	if coll == "users" {
		if items, err = d.Store.JoinUserSecurity(r.Context(), id, items); err != nil {
			d.fail(w, r, "listing users", err)
			return
		}
	}
	out := map[string]any{"value": items}
	if next != "" {
		// From PUBLIC_BASE_URL and the canonical path only: Host and X-Forwarded-* are the
		// caller's to write, and a link built from them would send the next request elsewhere.
		out["@odata.nextLink"] = d.link(apiPath(r.Context(), "/api/tenants/"+id+"/"+coll), url.Values{"$top": {strconv.Itoa(top)}, "$skiptoken": {next}})
	}
	writeJSON(w, http.StatusOK, out)
}
