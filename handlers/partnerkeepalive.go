package handlers

import (
	"context"

	"github.com/tenantsync/tenantsync/shared/invocation"
)

// partnerKeepAlive is the weekly timer that rotates the partner refresh token.
func (d Deps) partnerKeepAlive(ctx context.Context, req *invocation.Request) (*invocation.Response, error) {
	if _, err := req.Timer("timer"); err != nil {
		return nil, err
	}
	if err := d.Partner.KeepAlive(ctx); err != nil {
		// Recorded on the partner record (GET /api/partner); failing the invocation makes it
		// visible in the host's history as well.
		return nil, err
	}
	return &invocation.Response{Logs: []string{"partner refresh token renewed"}}, nil
}
