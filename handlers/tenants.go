package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/store"
)

// fail logs err with the request's context and answers 500/503 without leaking internals.
func (d Deps) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	d.Log.Error(what+" failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	writeError(w, http.StatusInternalServerError, "InternalError", what+" failed; see the function logs")
}

// tenantID reads and validates the {tenantId} route value.
func tenantID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := strings.ToLower(r.PathValue("tenantId"))
	if !domain.IsTenantID(id) {
		writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("%q is not a tenant id (a GUID)", r.PathValue("tenantId")))
		return "", false
	}
	return id, true
}

// listTenants serves GET /api/tenants.
func (d Deps) listTenants(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := d.Store.Ensure(ctx); err != nil {
		d.fail(w, r, "table storage", err)
		return
	}
	tenants, err := d.Store.ListTenants(ctx)
	if err != nil {
		d.fail(w, r, "listing tenants", err)
		return
	}
	if tenants == nil {
		tenants = []domain.Tenant{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": tenants})
}

// getTenant serves GET /api/tenants/{tenantId}.
func (d Deps) getTenant(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(w, r)
	if !ok {
		return
	}
	t, err := d.Store.GetTenant(r.Context(), id)
	if store.IsNotFound(err) {
		writeError(w, http.StatusNotFound, "TenantNotFound", "no tenant "+id+": run discovery (POST /api/discovery) if it is new")
		return
	}
	if err != nil {
		d.fail(w, r, "reading the tenant", err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// updateTenant serves PATCH /api/tenants/{tenantId} {"excluded": bool}.
func (d Deps) updateTenant(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(w, r)
	if !ok {
		return
	}
	var body struct {
		Excluded *bool `json:"excluded"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Excluded == nil {
		writeError(w, http.StatusBadRequest, "BadRequest", `body must be {"excluded": true|false}`)
		return
	}
	if _, err := d.Store.GetTenant(r.Context(), id); store.IsNotFound(err) {
		writeError(w, http.StatusNotFound, "TenantNotFound", "no tenant "+id)
		return
	}
	if err := d.Store.SetExcluded(r.Context(), id, *body.Excluded); err != nil {
		d.fail(w, r, "updating the tenant", err)
		return
	}
	d.getTenant(w, r)
}

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
	coll := r.PathValue("collection")
	top := 100
	if s := r.URL.Query().Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 999 {
			writeError(w, http.StatusBadRequest, "BadRequest", "$top must be a whole number from 1 to 999")
			return
		}
		top = n
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
		writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no collection %q: use users, licenses, groups, devices, mailboxes or runs", coll))
		return
	}
	items, next, err := d.Store.Page(r.Context(), table, id, top, r.URL.Query().Get("$skiptoken"))
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
		q := url.Values{"$top": {strconv.Itoa(top)}, "$skiptoken": {next}}
		out["@odata.nextLink"] = baseURL(r) + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

// baseURL is the URL the caller used, as forwarded by the Functions host.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// syncNow serves POST /api/tenants/{tenantId}/sync → 202 {"runId"}.
func (d Deps) syncNow(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(w, r)
	if !ok {
		return
	}
	t, err := d.Store.GetTenant(r.Context(), id)
	if store.IsNotFound(err) {
		writeError(w, http.StatusNotFound, "TenantNotFound", "no tenant "+id+": run discovery first")
		return
	}
	if err != nil {
		d.fail(w, r, "reading the tenant", err)
		return
	}
	if t.Consent.State != domain.ConsentConsented {
		writeError(w, http.StatusConflict, "NotConsented", "tenantsync has no consent in this tenant yet: grant consent (Partner Center or the admin-consent link) first")
		return
	}
	runID, err := d.queueManualSync(r.Context(), t)
	if err != nil {
		d.fail(w, r, "queueing the sync", err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"runId": runID})
}

// queueManualSync queues a sync of a consented tenant now (the API and the console share it).
// The tenant is marked queued before the message is sent: marked after, a worker that starts at
// once would have its "running" overwritten by "queued" for the whole run. A failed send puts
// the previous state back.
func (d Deps) queueManualSync(ctx context.Context, t domain.Tenant) (string, error) {
	msg, req, err := fanout.Manual(t, d.Now())
	if err != nil {
		return "", err
	}
	if err := d.Store.MarkQueued(ctx, []domain.SyncRequest{req}); err != nil {
		return "", err
	}
	if err := d.Queue.Send(ctx, []queueMessage{msg}); err != nil {
		if rerr := d.Store.RestoreSyncState(ctx, t.TenantID, t.Sync.State, t.Sync.LastRunID); rerr != nil {
			d.Log.Error("restoring the sync state after a failed send failed", "tenantId", t.TenantID, "error", rerr.Error())
		}
		return "", err
	}
	invocation.Logger(ctx).Info("manual sync queued", "tenantId", t.TenantID, "runId", req.RunID)
	return req.RunID, nil
}
