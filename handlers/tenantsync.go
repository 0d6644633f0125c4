package handlers

import (
	"context"

	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/syncer"
)

// tenantSync is the Service Bus-triggered worker: one tenant per message.
func (d Deps) tenantSync(ctx context.Context, req *invocation.Request) (*invocation.Response, error) {
	msg, err := req.ServiceBus("msg")
	if err != nil {
		return nil, err
	}
	engine := *d.Engine
	engine.Log = invocation.Logger(ctx)
	// An error abandons the message, so Service Bus redelivers it (and dead-letters a poison one
	// after MaxDeliveryCount, with the reason in the logs); a skipped or finished run completes it.
	res, err := engine.Handle(ctx, msg.Body, syncer.Delivery{MessageID: msg.MessageID, DeliveryCount: msg.DeliveryCount})
	if err != nil {
		return nil, err
	}
	return &invocation.Response{Logs: []string{"tenant " + res.Run.TenantID + " run " + res.Run.RunID + ": " + res.Run.State}}, nil
}
