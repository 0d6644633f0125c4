package handlers

import (
	"errors"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/adminauth"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
)

// consentLink serves POST /api/tenants/{tenantId}/consent-link {"email": ...} → 202 with the
// pending consent. Who asked is the admin rule's caller: the signed-in admin, or automation for a
// function key alone; the body cannot name anyone.
func (d Deps) consentLink(w http.ResponseWriter, r *http.Request) {
	id, ok := tenantID(w, r)
	if !ok {
		return
	}
	var body struct {
		Email string `json:"email"`
	}
	const want = `{"email": "admin@customer.com"}`
	if !decodeBody(w, r, &body, want, false) {
		return
	}
	if body.Email == "" {
		writeError(w, http.StatusBadRequest, "BadRequest", `key "email" is missing or empty: want `+want)
		return
	}
	pending, err := d.Consent.SendLink(r.Context(), id, body.Email, adminauth.From(r.Context()).Name)
	var p *domain.Problem
	switch {
	case err == nil:
		writeJSON(w, http.StatusAccepted, pending)
	case errors.Is(err, consent.ErrInvalidEmail):
		writeError(w, http.StatusBadRequest, "InvalidEmail", err.Error())
	case errors.Is(err, consent.ErrUnknownTenant):
		writeError(w, http.StatusNotFound, "TenantNotFound", err.Error())
	case errors.Is(err, consent.ErrAlreadyConsented):
		writeError(w, http.StatusConflict, "AlreadyConsented", err.Error())
	case errors.Is(err, consent.ErrMailNotConfigured):
		writeError(w, http.StatusServiceUnavailable, "MailNotConfigured", err.Error())
	case errors.As(err, &p) && errors.Is(err, consent.ErrMailFailed):
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": map[string]string{"code": p.Code, "message": "the consent mail could not be sent: " + p.Message, "remediation": p.Remediation}})
	default:
		d.fail(w, r, "sending the consent link", err)
	}
}
