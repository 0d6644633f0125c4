package handlers

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/invocation"
)

// tenantDiscovery is the timer that rediscovers tenants from GDAP and Partner Center.
func (d Deps) tenantDiscovery(ctx context.Context, req *invocation.Request) (*invocation.Response, error) {
	if _, err := req.Timer("timer"); err != nil {
		return nil, err
	}
	rep, err := d.Discovery.Run(ctx)
	if err != nil {
		return nil, err
	}
	logs := []string{fmt.Sprintf("discovered %d tenants (%d new, %d missing), %d consented", rep.Found, rep.New, rep.Missing, rep.Consented)}
	return &invocation.Response{Logs: append(logs, rep.Warnings...)}, nil
}

// discoverNow serves POST /api/discovery: discovery on demand.
func (d Deps) discoverNow(w http.ResponseWriter, r *http.Request) {
	rep, err := d.Discovery.Run(r.Context())
	if err != nil {
		d.fail(w, r, "discovery", err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
