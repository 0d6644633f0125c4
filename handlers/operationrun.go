package handlers

import (
	"context"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/operation"
)

// operationRun is the Service Bus-triggered worker of the operations queue.
func (d Deps) operationRun(ctx context.Context, req *invocation.Request) (*invocation.Response, error) {
	msg, err := req.ServiceBus("msg")
	if err != nil {
		return nil, err
	}
	id, err := operation.DecodeMessage(msg.Body)
	if err != nil {
		return nil, err // kept, then dead-lettered with this reason: nothing else can be done with it
	}
	op, err := d.Operations.Run(ctx, id, d.operationRunners())
	if err != nil {
		return nil, err // the record could not be written: let Service Bus redeliver
	}
	return &invocation.Response{Logs: []string{"operation " + op.ID + " (" + op.Kind + "): " + op.State}}, nil
}

func (d Deps) operationRunners() map[string]operation.Runner {
	return map[string]operation.Runner{
		operation.KindDiscovery: func(ctx context.Context, _ operation.Operation) (any, error) {
			rep, err := d.Discovery.Run(ctx)
			if err != nil {
				return nil, err
			}
			return discoveryAnswer{Report: rep, Consent: d.autoConsent(ctx)}, nil
		},
		operation.KindConsentCPV: func(ctx context.Context, op operation.Operation) (any, error) {
			var ids []string // nil: every eligible tenant
			if !op.All {
				ids = op.TenantIDs
			}
			results, err := d.Consent.GrantCPV(ctx, ids)
			res := map[string]any{"results": nonNil(results), "summary": consent.Summarize(results)}
			return res, err
		},
	}
}
