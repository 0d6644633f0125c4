package handlers

import (
	"context"

	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/sync"
)

// tenantSync is the Service Bus-triggered worker: one tenant per message.
func (d Deps) tenantSync(ctx context.Context, req *invocation.Request) (*invocation.Response, error) {
	msg, err := req.ServiceBus("msg")
	if err != nil {
		return nil, err
	}
	syncReq, err := sync.Decode(msg.Body)
	if err != nil {
		// Failing keeps the message: after MaxDeliveryCount it is dead-lettered with this reason
		// in the logs, where an operator can inspect and resubmit it.
		return nil, err
	}
	engine := *d.Engine
	engine.Log = invocation.Logger(ctx)
	res, err := engine.Sync(ctx, syncReq, sync.Delivery{MessageID: msg.MessageID, DeliveryCount: msg.DeliveryCount})
	if err != nil {
		return nil, err // retryable: abandon, so Service Bus redelivers
	}
	return &invocation.Response{Logs: []string{"tenant " + syncReq.TenantID + " run " + syncReq.RunID + ": " + res.Run.State}}, nil
}
