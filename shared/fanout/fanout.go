// Package fanout is the one place a tenant sync is asked for and admitted. It builds the queue
// message for a scheduled (timer fan-out), manual (sync now) or consent (first sync) run, checks
// it against the same rules the worker applies, sends it and marks the tenant queued; and it tells
// the worker whether a received message may be synced (Admit).
package fanout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
)

// SlotFormat names a schedule slot in message and run ids (minute precision, UTC).
const SlotFormat = "20060102T1504Z"

// Run reasons.
const (
	ReasonScheduled = "scheduled"
	ReasonManual    = "manual"
	ReasonConsent   = "consent"
)

// Refusal codes: why a sync is not queued, or why the worker skipped a message.
const (
	CodeNonCanonicalTenantID = "NonCanonicalTenantId"
	CodeInvalidRunID         = "InvalidRunId"
	CodeUnknownTenant        = "UnknownTenant"
	CodeTenantExcluded       = "TenantExcluded"
	CodeNotConsented         = remedy.CodeNotConsented
)

// CheckRequest checks what a request carries: the tenant id in canonical (lower-case) form, the
// form of every table key, so that an upper-case id cannot write a second partition the API never
// shows; and a run id Table Storage accepts as a key.
func CheckRequest(r domain.SyncRequest) *domain.Problem {
	if !domain.IsCanonicalTenantID(r.TenantID) {
		return &domain.Problem{Code: CodeNonCanonicalTenantID,
			Message:     fmt.Sprintf("the message's tenant id %q is not in canonical (lower-case) form, so it was not synced", r.TenantID),
			Remediation: "Queue syncs through tenantsync (the fan-out, POST /api/tenants/{id}/sync or consent), which write lower-case tenant ids; a message sent by hand must use the lower-case id."}
	}
	if !domain.IsRunID(r.RunID) {
		id := r.RunID
		if len(id) > 64 {
			id = id[:64] + "…"
		}
		return &domain.Problem{Code: CodeInvalidRunID,
			Message:     fmt.Sprintf("the message's run id %q is empty, longer than 128 characters or has characters other than letters, digits and . _ : -, so it was not synced", id),
			Remediation: "Queue syncs through tenantsync (the fan-out, POST /api/tenants/{id}/sync or consent), which write valid run ids."}
	}
	return nil
}

// CheckTenant says whether a known tenant may be synced at all: consented and not excluded.
func CheckTenant(t domain.Tenant) *domain.Problem {
	if t.Excluded {
		return &domain.Problem{Code: CodeTenantExcluded, Message: "the tenant is excluded from syncs, so it was not synced",
			Remediation: "Include it again (PATCH /api/tenants/" + t.TenantID + ` {"excluded": false}) if it should be synced.`}
	}
	if t.Consent.State != domain.ConsentConsented {
		return &domain.Problem{Code: CodeNotConsented, Message: "tenantsync has no consent in this tenant (consent " + t.Consent.State + "), so it was not synced",
			Remediation: "Grant consent first: Partner Center consent (POST /api/consent/cpv) or the admin-consent link (POST /api/tenants/" + t.TenantID + "/consent-link)."}
	}
	return nil
}

// Eligible reports whether a tenant is synced on schedule: it may be synced (CheckTenant) and
// discovery still finds it.
func Eligible(t domain.Tenant) bool { return CheckTenant(t) == nil && !t.Missing }

// TenantReader reads a tenant row (the store).
type TenantReader interface {
	GetTenant(ctx context.Context, tenantID string) (domain.Tenant, error)
}

// Admit decides whether the worker may sync a received request, with the rules every sync is
// queued under: the request well-formed (CheckRequest), the tenant known (in the Tenants table),
// consented and not excluded (CheckTenant). It returns the tenant row when the tenant is known, and
// the refusal to record as a skipped run; an error only when the tenant could not be read (the
// message is then retried).
func Admit(ctx context.Context, tenants TenantReader, r domain.SyncRequest) (*domain.Tenant, *domain.Problem, error) {
	t, err := tenants.GetTenant(ctx, strings.ToLower(r.TenantID))
	known := err == nil
	switch {
	case store.IsNotFound(err):
	case err != nil:
		return nil, nil, fmt.Errorf("read tenant %s: %w", r.TenantID, err)
	}
	var tp *domain.Tenant
	if known {
		tp = &t
	}
	if p := CheckRequest(r); p != nil {
		return tp, p, nil
	}
	if !known {
		return nil, &domain.Problem{Code: CodeUnknownTenant, Message: "tenant " + r.TenantID + " is not in the Tenants table, so it was not synced",
			Remediation: "Run discovery (POST /api/discovery) if it is a new customer; a message for a tenant tenantsync does not know is never synced."}, nil
	}
	return tp, CheckTenant(t), nil
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
		req := domain.SyncRequest{TenantID: strings.ToLower(t.TenantID), RunID: name + "-" + reason, Reason: reason, QueuedAt: slot}
		m, err := message(req, req.TenantID+":"+name)
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

// OnDemand builds the message for a sync asked for now (reason manual or consent): its own run id,
// delivered at once. A tenant the worker would refuse gives that refusal (a domain.Problem) as the
// error, and nothing to send.
func OnDemand(t domain.Tenant, reason string, now time.Time) (queue.Message, domain.SyncRequest, error) {
	if p := CheckTenant(t); p != nil {
		return queue.Message{}, domain.SyncRequest{}, *p
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	req := domain.SyncRequest{TenantID: strings.ToLower(t.TenantID), RunID: now.UTC().Format("20060102T150405Z") + "-" + reason + "-" + hex.EncodeToString(b[:]),
		Reason: reason, QueuedAt: now.UTC()}
	m, err := message(req, req.TenantID+":"+req.RunID)
	return m, req, err
}

// Marker records queued syncs on the tenants (the store).
type Marker interface {
	MarkQueued(ctx context.Context, reqs []domain.SyncRequest) error
	RestoreSyncState(ctx context.Context, tenantID, state, lastRunID string) error
}

// Send is the one place a sync is queued. Every request is checked with the worker's rules
// first, so nothing tenantsync sends is refused for its form. The tenants are marked queued
// BEFORE the messages are sent: marked after, a worker that starts at once would see its
// "running" overwritten by "queued" for the whole run. If sending fails, each tenant's sync state
// from before (prev, the tenant rows the requests were planned from) is put back, so no tenant
// looks queued without a message.
func Send(ctx context.Context, q queue.Sender, m Marker, log *slog.Logger, msgs []queue.Message, reqs []domain.SyncRequest, prev []domain.Tenant) error {
	for _, r := range reqs {
		if p := CheckRequest(r); p != nil {
			return fmt.Errorf("refusing to queue a sync for %q: %w", r.TenantID, *p)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := m.MarkQueued(ctx, reqs); err != nil {
		return err // nothing sent yet: the caller fails and nothing is lost
	}
	if err := q.Send(ctx, msgs); err != nil {
		before := make(map[string]domain.SyncStatus, len(prev))
		for _, t := range prev {
			before[strings.ToLower(t.TenantID)] = t.Sync
		}
		for _, r := range reqs {
			st := before[strings.ToLower(r.TenantID)]
			if st.State == "" {
				st.State = domain.SyncNever
			}
			if rerr := m.RestoreSyncState(ctx, r.TenantID, st.State, st.LastRunID); rerr != nil {
				log.Error("restoring the sync state after a failed send failed", "tenantId", r.TenantID, "runId", r.RunID, "error", rerr.Error())
			}
		}
		return fmt.Errorf("queue sync messages: %w", err)
	}
	return nil
}

func message(req domain.SyncRequest, id string) (queue.Message, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return queue.Message{}, err
	}
	return queue.Message{ID: id, Body: body, ContentType: "application/json", CorrelationID: req.RunID, Subject: "tenant-sync"}, nil
}
