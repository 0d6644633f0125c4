package handlers

import (
	"context"
	"fmt"

	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/invocation"
)

// tenantFanout is the timer that queues one sync message per eligible tenant.
func (d Deps) tenantFanout(ctx context.Context, req *invocation.Request) (*invocation.Response, error) {
	timer, err := req.Timer("timer")
	if err != nil {
		return nil, err
	}
	if err := d.Store.Ensure(ctx); err != nil {
		return nil, err
	}
	tenants, err := d.Store.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	msgs, reqs, err := fanout.Plan(tenants, d.Now(), fanout.ReasonScheduled, d.FanoutSpread)
	if err != nil {
		return nil, err
	}
	if err := fanout.Send(ctx, d.Queue, d.Store, invocation.Logger(ctx), msgs, reqs, tenants); err != nil {
		return nil, err
	}
	invocation.Logger(ctx).Info("fan-out queued tenant syncs", "tenants", len(tenants), "queued", len(msgs), "spread", d.FanoutSpread.String(), "isPastDue", timer.IsPastDue)
	return &invocation.Response{Logs: []string{fmt.Sprintf("queued %d of %d tenants over %s", len(msgs), len(tenants), d.FanoutSpread)}}, nil
}
