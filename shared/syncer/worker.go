// Package sync syncs one customer tenant's Microsoft 365 facts (organization, licences, users,
// groups, devices, mailboxes, MFA registration, sign-ins) from Microsoft Graph into Table Storage,
// with delta queries, streaming pages, batched writes and graceful degradation.
package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Delivery is what the worker needs to know about the queue message besides its body.
type Delivery struct {
	MessageID     string
	DeliveryCount int
}

// Decode parses a message body. The error explains what is wrong so that the dead-lettered
// message can be understood without reading code.
func Decode(body []byte) (domain.SyncRequest, error) {
	var req domain.SyncRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("sync message body is not a JSON sync request: %w", err)
	}
	return req, req.Validate()
}

// Handle is the TenantSync worker for one message body. A body that names no tenant is poison
// (an error: dead-lettered after MaxDeliveryCount, the reason in the logs). A request the rules of
// fanout.Admit refuse (non-canonical tenant id, bad run id, unknown, excluded or unconsented
// tenant) completes as a skipped run with the reason, and no tenant data is read or written.
// Otherwise the tenant is synced (see Sync). An error means: redeliver.
func (e *Engine) Handle(ctx context.Context, body []byte, d Delivery) (*Result, error) {
	req, err := Decode(body)
	if err != nil {
		return nil, err
	}
	if err := e.Store.Ensure(ctx); err != nil {
		return nil, err
	}
	t, refusal, err := fanout.Admit(ctx, e.Store, req)
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return e.skip(ctx, req, t, *refusal, d)
	}
	return e.Sync(ctx, req, d)
}

// skip records a refused message as a skipped run in the canonical tenant's partition. A run id
// Table Storage cannot take as a key is replaced by one derived from it. The tenant row changes
// only when it is waiting for exactly this run, so a stray message cannot hide a real run's state.
func (e *Engine) skip(ctx context.Context, req domain.SyncRequest, t *domain.Tenant, p domain.Problem, d Delivery) (*Result, error) {
	tenantID := strings.ToLower(req.TenantID)
	runID := req.RunID
	if !domain.IsRunID(runID) {
		sum := sha256.Sum256([]byte(runID))
		runID = "rejected-" + hex.EncodeToString(sum[:8])
	}
	now := e.now()
	run := domain.Run{TenantID: tenantID, RunID: runID, Reason: printable(req.Reason, 32), State: domain.SyncSkipped,
		MessageID: printable(d.MessageID, 128), DeliveryCount: d.DeliveryCount, QueuedAt: req.QueuedAt, StartedAt: now, FinishedAt: now,
		Error: &domain.Problem{Code: p.Code, Message: p.Message, Remediation: p.Remediation}}
	e.log().Warn("sync message skipped", "tenantId", tenantID, "runId", runID, "code", p.Code, "reason", p.Message, "messageId", run.MessageID)
	if err := e.Store.PutRun(ctx, run); err != nil {
		return nil, fmt.Errorf("record skipped run: %w", err)
	}
	if t != nil && t.Sync.LastRunID == req.RunID && (t.Sync.State == domain.SyncQueued || t.Sync.State == domain.SyncRunning) {
		tr := store.TenantSyncResult{State: domain.SyncSkipped, RunID: runID, ErrorCode: p.Code, ErrorMessage: p.Message, Remediation: p.Remediation}
		if err := e.Store.SetTenantSyncResult(ctx, tenantID, tr); err != nil {
			return nil, fmt.Errorf("record skipped run on the tenant: %w", err)
		}
	}
	return &Result{Run: run, Problem: &p}, nil
}

// printable keeps what a message carries fit for a table property and a log line.
func printable(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "")
	}
	return s
}
