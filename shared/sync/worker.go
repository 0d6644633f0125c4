// Package sync runs one tenant's sync for one queue message and records the run.
package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Delivery is what the worker needs to know about the queue message besides its body.
type Delivery struct {
	MessageID     string
	DeliveryCount int
}

// Worker syncs tenants.
type Worker struct {
	Store *store.Store
	Now   func() time.Time
	Log   *slog.Logger
}

// Decode parses and validates a message body. The error explains what is wrong so that the
// dead-lettered message can be understood without reading code.
func Decode(body []byte) (domain.SyncRequest, error) {
	var req domain.SyncRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("sync message body is not a JSON sync request: %w", err)
	}
	return req, req.Validate()
}

// Handle runs the sync for req. It is idempotent per run: a redelivery of the same message
// rewrites the same run row with the same final state.
func (w *Worker) Handle(ctx context.Context, req domain.SyncRequest, d Delivery) error {
	log := w.Log.With("tenantId", req.TenantID, "runId", req.RunID)
	if err := w.Store.Ensure(ctx); err != nil {
		return err
	}
	run := domain.Run{
		TenantID: req.TenantID, RunID: req.RunID, Reason: req.Reason, State: domain.SyncRunning,
		MessageID: d.MessageID, DeliveryCount: d.DeliveryCount, QueuedAt: req.QueuedAt, StartedAt: w.Now(),
	}
	if err := w.Store.PutRun(ctx, run); err != nil {
		return fmt.Errorf("record run start: %w", err)
	}
	log.Info("sync started", "deliveryCount", d.DeliveryCount)

	// The collections themselves are synced here once the Graph client exists (issue 4); for now a
	// run records that the tenant was reached through the queue.
	run.State = domain.SyncSucceeded
	run.FinishedAt = w.Now()
	if err := w.Store.PutRun(ctx, run); err != nil {
		return fmt.Errorf("record run end: %w", err)
	}
	if err := w.Store.SetTenantSync(ctx, req.TenantID, run.State, run.RunID, run.FinishedAt); err != nil {
		return fmt.Errorf("record tenant sync state: %w", err)
	}
	log.Info("sync finished", "state", run.State, "durationMs", run.FinishedAt.Sub(run.StartedAt).Milliseconds())
	return nil
}
