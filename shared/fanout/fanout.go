// Package fanout turns the tenant list into one sync message per tenant for a schedule slot.
package fanout

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/queue"
)

// SlotFormat names a schedule slot in message and run ids (minute precision, UTC).
const SlotFormat = "20060102T1504Z"

// Eligible reports whether a tenant is synced on schedule: consented, not excluded, still found.
func Eligible(t domain.Tenant) bool {
	return !t.Excluded && !t.Missing && t.Consent.State == domain.ConsentConsented
}

// Plan builds the messages for one fan-out. The MessageId is tenant + slot, so a timer that fires
// twice for the same slot (two instances, a retry) produces duplicates the queue drops; the run id
// derives from the slot too, so a redelivered message rewrites the same run. spread staggers the
// messages' ScheduledEnqueueTime evenly over that window.
func Plan(tenants []domain.Tenant, now time.Time, reason string, spread time.Duration) ([]queue.Message, []domain.SyncRequest, error) {
	slot := now.UTC().Truncate(time.Minute)
	name := slot.Format(SlotFormat)
	var eligible []domain.Tenant
	for _, t := range tenants {
		if Eligible(t) {
			eligible = append(eligible, t)
		}
	}
	msgs := make([]queue.Message, 0, len(eligible))
	reqs := make([]domain.SyncRequest, 0, len(eligible))
	for i, t := range eligible {
		req := domain.SyncRequest{TenantID: t.TenantID, RunID: name + "-" + reason, Reason: reason, QueuedAt: slot}
		m, err := message(req, t.TenantID+":"+name)
		if err != nil {
			return nil, nil, err
		}
		if spread > 0 && len(eligible) > 1 {
			m.ScheduledEnqueueTime = now.Add(spread * time.Duration(i) / time.Duration(len(eligible)))
		}
		msgs = append(msgs, m)
		reqs = append(reqs, req)
	}
	return msgs, reqs, nil
}

// Manual builds the message for a sync asked for through the API: its own run id, delivered now.
func Manual(t domain.Tenant, now time.Time) (queue.Message, domain.SyncRequest, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	req := domain.SyncRequest{TenantID: t.TenantID, RunID: now.UTC().Format("20060102T150405Z") + "-manual-" + hex.EncodeToString(b[:]), Reason: "manual", QueuedAt: now.UTC()}
	m, err := message(req, t.TenantID+":"+req.RunID)
	return m, req, err
}

func message(req domain.SyncRequest, id string) (queue.Message, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return queue.Message{}, err
	}
	return queue.Message{ID: id, Body: body, ContentType: "application/json", CorrelationID: req.RunID, Subject: "tenant-sync"}, nil
}
