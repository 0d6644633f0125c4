package funchost

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/funchost/sbqueue"
)

// consume is one of maxConcurrentCalls receive loops for a Service Bus function.
func (h *Host) consume(ctx context.Context, f *Function, q *sbqueue.Queue) {
	reason := "New ServiceBus message detected on '" + q.Name() + "'."
	for {
		d, err := q.Receive(ctx)
		if err != nil {
			return
		}
		stopRenew := h.renewLocks(ctx, q, d)
		_, err = h.invokeServiceBus(ctx, f, d, reason)
		stopRenew()
		switch {
		case err == nil && h.app.Host.ServiceBus.AutoCompleteMessages:
			if cerr := q.Complete(d.LockToken); cerr != nil {
				h.log.errorf("Completing message %s on %s: %v (it will be delivered again)", d.MessageID, q.Name(), cerr)
			}
		case err == nil:
			// autoCompleteMessages false: a custom handler cannot settle messages itself, so the
			// lock simply expires and the message comes back, exactly as in Azure.
		default:
			if ctx.Err() != nil {
				return // shutting down: leave the lock to expire
			}
			if aerr := q.Abandon(d.LockToken); aerr != nil && !errors.Is(aerr, sbqueue.ErrLockLost) {
				h.log.errorf("Abandoning message %s on %s: %v", d.MessageID, q.Name(), aerr)
			}
			if d.DeliveryCount >= h.maxDeliveryCount() {
				h.log.errorf("Message %s on %s was dead-lettered after %d deliveries (MaxDeliveryCountExceeded)", d.MessageID, q.Name(), d.DeliveryCount)
			}
		}
	}
}

func (h *Host) maxDeliveryCount() int {
	if h.opts.Queue.MaxDeliveryCount > 0 {
		return h.opts.Queue.MaxDeliveryCount
	}
	return sbqueue.DefaultMaxDeliveryCount
}

// renewLocks renews the message lock while the invocation runs, for at most
// maxAutoLockRenewalDuration; past that the lock expires and the message is redelivered even
// though the first invocation is still running, as in Azure.
func (h *Host) renewLocks(ctx context.Context, q *sbqueue.Queue, d *sbqueue.Delivery) func() {
	ctx, cancel := context.WithCancel(ctx)
	lock := d.LockedUntil.Sub(time.Now())
	if lock <= 0 {
		return cancel
	}
	deadline := time.Now().Add(h.app.Host.ServiceBus.MaxAutoLockRenewal)
	go func() {
		t := time.NewTicker(max(lock/2, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if now.After(deadline) {
					return
				}
				if _, err := q.RenewLock(d.LockToken); err != nil {
					return
				}
			}
		}
	}()
	return cancel
}

// invokeServiceBus builds the host's Service Bus payload for d and invokes f.
func (h *Host) invokeServiceBus(ctx context.Context, f *Function, d *sbqueue.Delivery, reason string) (*invokeResult, error) {
	var data any
	if f.Trigger.DataType == "binary" {
		data = base64.StdEncoding.EncodeToString(d.Body)
	} else {
		// Without dataType binary the body is a string, JSON-serialised into a string again.
		data = scalar(string(d.Body))
	}
	props := d.ApplicationProperties
	if props == nil {
		props = map[string]any{}
	}
	md := map[string]any{
		"DeliveryCount":         scalar(d.DeliveryCount),
		"ExpiresAtUtc":          hostDateTime(d.ExpiresAt),
		"ExpiresAt":             hostDateTimeOffset(d.ExpiresAt),
		"EnqueuedTimeUtc":       hostDateTime(d.EnqueuedTime),
		"EnqueuedTime":          hostDateTimeOffset(d.EnqueuedTime),
		"MessageId":             scalar(d.MessageID),
		"SequenceNumber":        scalar(d.SequenceNumber),
		"ApplicationProperties": props,
		"UserProperties":        props,
		"sys":                   sysMetadata(f.Name, time.Now()),
	}
	// The host omits keys whose value is null.
	for k, v := range map[string]string{"LockToken": d.LockToken, "ContentType": d.ContentType, "CorrelationId": d.CorrelationID,
		"Subject": d.Subject, "SessionId": d.SessionID, "ReplyTo": d.ReplyTo, "To": d.To} {
		if v != "" {
			md[k] = scalar(v)
		}
	}
	// A JSON object body's top-level scalars are binding data too.
	var obj map[string]any
	if json.Unmarshal(d.Body, &obj) == nil {
		for k, v := range obj {
			if _, taken := md[k]; taken {
				continue
			}
			switch v.(type) {
			case string, float64, bool:
				md[k] = scalar(v)
			}
		}
	}
	res, _, err := h.invoke(ctx, f, reason, payload{Data: map[string]any{f.Trigger.Name: data}, Metadata: md})
	return res, err
}
