package handlers

import (
	"context"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/invocation"
)

// connect serves GET /api/connect: redirect to the partner sign-in.
func (d Deps) connect(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "NotImplemented", "partner connect is not implemented yet")
}

// connectCallback serves GET /api/connect/callback (anonymous: it relies on the signed state).
func (d Deps) connectCallback(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotImplemented, "NotImplemented", "partner connect is not implemented yet")
}

// partnerStatus serves GET /api/partner.
func (d Deps) partnerStatus(w http.ResponseWriter, r *http.Request) {
	st, err := d.Partner.Status(r.Context())
	if err != nil {
		d.fail(w, r, "reading the partner connection", err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// partnerKeepAlive is the weekly timer that rotates the partner refresh token.
func (d Deps) partnerKeepAlive(ctx context.Context, req *invocation.Request) (*invocation.Response, error) {
	if _, err := req.Timer("timer"); err != nil {
		return nil, err
	}
	return &invocation.Response{Logs: []string{"partner keep-alive is not implemented yet"}}, nil
}
