package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/store"
)

// syncRefusals are the flash codes of the worker's refusals a manual sync can meet.
var syncRefusals = map[string]string{fanout.CodeTenantExcluded: "sync-excluded", fanout.CodeNotConsented: "not-consented"}

// consoleAction serves POST /tenants/{tenantId}/actions/{action} (function ConsoleAction):
// sync, exclude, include, consent-link, cpv. The CSRF token was checked by consoleRoute. The
// answer is a 303 back to the tenant page with a fixed flash code (post/redirect/get).
func (d Deps) consoleAction(w http.ResponseWriter, r *http.Request, _ console.Chrome, v console.Viewer) {
	id := strings.ToLower(r.PathValue("tenantId"))
	if !domain.IsTenantID(id) {
		d.consoleDenied(w, http.StatusNotFound, "Not found", "That is not a tenant id.", false)
		return
	}
	ctx := r.Context()
	t, err := d.Store.GetTenant(ctx, id)
	if err != nil {
		d.consoleFail(w, r, err)
		return
	}
	action := r.PathValue("action")
	done := "action-failed"
	log := d.Log.With("tenantId", id, "action", action, "principal", v.Name)
	switch action {
	case "sync":
		// The worker's own rules (fanout.CheckTenant: excluded first, then consent) decide, and
		// the page names the one that refused, not a generic failure.
		_, err = d.queueManualSync(ctx, t)
		var refused domain.Problem
		switch {
		case err == nil:
			done = "sync-queued"
		case errors.As(err, &refused):
			done, err = syncRefusals[refused.Code], nil
			if done == "" {
				done = "action-failed"
			}
		}
	case "exclude", "include":
		if err = d.Store.SetExcluded(ctx, id, action == "exclude"); err == nil {
			done = action + "d"
		}
	case "consent-link":
		_, err = d.Consent.SendLink(ctx, id, r.PostForm.Get("email"), v.Name)
		done, err = consentLinkOutcome(err)
	case "cpv":
		var res []consent.Result
		res, err = d.Consent.GrantCPV(ctx, []string{id})
		switch {
		case errors.Is(err, consent.ErrPartnerCenter):
			done, err = "partner-needed", nil
		case err == nil && len(res) == 1:
			done = map[string]string{"consented": "cpv-consented", "failed": "cpv-failed"}[res[0].State]
			if done == "" {
				done = "cpv-skipped"
			}
		}
	default:
		d.consoleDenied(w, http.StatusNotFound, "Not found", "No such action.", false)
		return
	}
	if err != nil {
		log.Error("console action failed", "error", err.Error())
	} else {
		log.Info("console action", "outcome", done)
	}
	w.Header().Set("Location", "/tenants/"+id+"?done="+done)
	w.WriteHeader(http.StatusSeeOther)
}

// consentLinkOutcome maps SendLink's answer to a flash code; err is kept only when unexpected.
func consentLinkOutcome(err error) (string, error) {
	switch {
	case err == nil:
		return "link-sent", nil
	case errors.Is(err, consent.ErrInvalidEmail):
		return "invalid-email", nil
	case errors.Is(err, consent.ErrAlreadyConsented):
		return "already-consented", nil
	case errors.Is(err, consent.ErrMailNotConfigured):
		return "mail-unconfigured", nil
	case errors.Is(err, consent.ErrMailFailed):
		return "mail-failed", err
	case errors.Is(err, consent.ErrUnknownTenant), store.IsNotFound(err):
		return "action-failed", err
	}
	return "action-failed", err
}
