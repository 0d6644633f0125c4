package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/store"
)

// tenantSyncNow serves POST /api/tenants/{tenantId}/sync → 202 {"runId"}. It takes no body (empty, or {}).
func (d Deps) tenantSyncNow(w http.ResponseWriter, r *http.Request) {
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
	var refused domain.Problem
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
// the worker would refuse gives that refusal, a domain.Problem, as the error.
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
