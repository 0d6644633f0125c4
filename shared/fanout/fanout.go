// Package fanout turns the tenant list into one sync message per tenant for a schedule slot.
package fanout

import (
	"encoding/json"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/queue"
)

// SlotFormat names a schedule slot in message and run ids (minute precision, UTC).
const SlotFormat = "20060102T1504Z"

// Eligible reports whether a tenant is synced on schedule: consented and not excluded.
func Eligible(t domain.Tenant) bool {
	return !t.Excluded && t.ConsentState == domain.ConsentConsented
}

// Plan builds the messages for one fan-out. The MessageId is tenant + slot, so a timer that fires
// twice for the same slot (two instances, a retry) produces duplicates the queue drops; the run id
// is derived from the slot too, so a redelivered message rewrites the same run.
func Plan(tenants []domain.Tenant, slot time.Time, reason string) ([]queue.Message, error) {
	slot = slot.UTC().Truncate(time.Minute)
	name := slot.Format(SlotFormat)
	var msgs []queue.Message
	for _, t := range tenants {
		if !Eligible(t) {
			continue
		}
		req := domain.SyncRequest{TenantID: t.TenantID, RunID: name + "-" + reason, Reason: reason, QueuedAt: slot}
		body, err := json.Marshal(req)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, queue.Message{
			ID:            t.TenantID + ":" + name,
			Body:          body,
			ContentType:   "application/json",
			CorrelationID: req.RunID,
			Subject:       "tenant-sync",
		})
	}
	return msgs, nil
}
