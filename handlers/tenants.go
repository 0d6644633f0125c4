package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/odataquery"
	"github.com/tenantsync/tenantsync/shared/remedy"
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
	const want = `{"excluded": true|false}`
	if !decodeBody(w, r, &body, want, false) {
		return
	}
	if body.Excluded == nil {
		writeError(w, http.StatusBadRequest, "BadRequest", `key "excluded" is missing or null: want `+want)
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

// syncNow serves POST /api/tenants/{tenantId}/sync → 202 {"runId"}. It takes no body (empty, or {}).
func (d Deps) syncNow(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(w, r)
	if !ok {
		return
	}
	if !decodeBody(w, r, &struct{}{}, "no body, or {}", true) {
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
	runID, err := d.queueManualSync(r.Context(), t)
	var refused remedy.Problem
	if errors.As(err, &refused) {
		// The worker would skip it (not consented, excluded): say so now instead of queueing.
		writeError(w, http.StatusConflict, refused.Code, refused.Message+". "+refused.Remediation)
		return
	}
	if err != nil {
		d.fail(w, r, "queueing the sync", err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"runId": runID})
}

// queueManualSync queues a sync of the tenant now (the API and the console share it); a tenant
// the worker would refuse gives that refusal, a remedy.Problem, as the error.
func (d Deps) queueManualSync(ctx context.Context, t domain.Tenant) (string, error) {
	msg, req, err := fanout.OnDemand(t, fanout.ReasonManual, d.Now())
	if err != nil {
		return "", err
	}
	if err := fanout.Send(ctx, d.Queue, d.Store, invocation.Logger(ctx), []queueMessage{msg}, []domain.SyncRequest{req}, []domain.Tenant{t}); err != nil {
		return "", err
	}
	invocation.Logger(ctx).Info("manual sync queued", "tenantId", t.TenantID, "runId", req.RunID)
	return req.RunID, nil
}
