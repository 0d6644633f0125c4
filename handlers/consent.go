package handlers

import "net/http"

// consentLink serves POST /api/tenants/{tenantId}/consent-link {"email": ...}.
func (d Deps) consentLink(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "NotImplemented", "consent links are not implemented yet")
}

// consentCPV serves POST /api/consent/cpv {"tenantIds": [...]} (empty: every eligible tenant).
func (d Deps) consentCPV(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "NotImplemented", "Partner Center consent is not implemented yet")
}

// consentCallback serves GET /api/consent/callback (anonymous: it relies on the signed state).
func (d Deps) consentCallback(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "NotImplemented", "consent callbacks are not implemented yet")
}
