// Package operation runs work that an HTTP request starts but that may outlast the request: Azure ends
// an HTTP response at 230 s whatever the function timeout ("Regardless of the function app timeout
// setting, 230 seconds is the maximum amount of time that an HTTP triggered function can take to
// respond to a request. This is because of the default idle timeout of Azure Load Balancer. For longer
// processing times, consider using the Durable Functions async pattern or defer the actual work and
// return an immediate response": Azure Functions docs, includes/functions-timeout-duration.md).
//
// Start records the operation (queued) and queues one message; the Service Bus-triggered OperationRun
// function calls Run, which records running, does the work and records the outcome; the status route
// reads the record. Nothing here knows about HTTP.
package operation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/queue"
)

// QueueName is the Service Bus queue OperationRun listens on (infra/main.bicep creates it).
const QueueName = "tenant-operations"

// Kinds of operation.
const (
	KindDiscovery  = "discovery"  // discovery now, then Partner Center consent when AUTO_CONSENT is on
	KindConsentCPV = "consentCPV" // Partner Center consent for named tenants or all eligible ones
)

// States of an operation.
const (
	StateQueued    = "queued"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// StaleAfter is how long an operation may stay queued or running before it is reported failed: longer
// than every delivery of its message timing out (host.json functionTimeout 10 minutes x the queue's
// MaxDeliveryCount 10), so only a worker that stopped for good (its message dead-lettered) looks
// abandoned.
const StaleAfter = 2 * time.Hour

// Operation is one long-running request.
type Operation struct {
	ID          string          `json:"id"`
	Kind        string          `json:"kind"`
	State       string          `json:"state"`
	RequestedBy string          `json:"requestedBy,omitempty"`
	TenantIDs   []string        `json:"tenantIds,omitempty"`
	All         bool            `json:"all,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	StartedAt   time.Time       `json:"startedAt,omitzero"`
	FinishedAt  time.Time       `json:"finishedAt,omitzero"`
	Attempts    int             `json:"attempts,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	Error       *domain.Problem `json:"error,omitempty"`
}

// Done reports whether the operation has finished.
func (o Operation) Done() bool { return o.State == StateSucceeded || o.State == StateFailed }

// Store keeps operations (Table Storage in tenantsync: store.Store).
type Store interface {
	PutOperation(ctx context.Context, op Operation) error
	// GetOperation returns ErrNotFound for an unknown id.
	GetOperation(ctx context.Context, id string) (Operation, error)
}

// ErrNotFound is returned for an unknown operation id.
var ErrNotFound = errors.New("operation not found")

// Runner does one kind of operation and returns its result (JSON-encoded into Result).
type Runner func(ctx context.Context, op Operation) (any, error)

// Service starts and runs operations.
type Service struct {
	Store Store
	Queue queue.Sender // the QueueName queue
	Now   func() time.Time
	Log   *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// message is the queue message: the operation id only; everything else is in the record.
type message struct {
	OperationID string `json:"operationId"`
}

// Start records a queued operation and queues its message. If the message cannot be sent the record
// says so (failed), so nothing waits for work that will never run.
func (s *Service) Start(ctx context.Context, op Operation) (Operation, error) {
	op.ID = uuid.NewString()
	op.State = StateQueued
	op.CreatedAt = s.now()
	if err := s.Store.PutOperation(ctx, op); err != nil {
		return Operation{}, fmt.Errorf("recording the operation: %w", err)
	}
	body, _ := json.Marshal(message{OperationID: op.ID})
	if err := s.Queue.Send(ctx, []queue.Message{{ID: op.ID, Body: body, ContentType: "application/json", Subject: op.Kind}}); err != nil {
		op.State, op.FinishedAt = StateFailed, s.now()
		op.Error = &domain.Problem{Code: "QueueUnavailable", Message: "the operation could not be queued: " + err.Error(), Remediation: "Try again; if it persists, check the Service Bus namespace."}
		_ = s.Store.PutOperation(context.WithoutCancel(ctx), op)
		return op, fmt.Errorf("queueing the operation: %w", err)
	}
	return op, nil
}

// DecodeMessage returns the operation id of a queue message, refusing anything else.
func DecodeMessage(body []byte) (string, error) {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	var m message
	if err := dec.Decode(&m); err != nil || dec.More() {
		return "", fmt.Errorf("operation message must be {\"operationId\": \"<uuid>\"}")
	}
	if _, err := uuid.Parse(m.OperationID); err != nil {
		return "", fmt.Errorf("operation message: %q is not an operation id", m.OperationID)
	}
	return m.OperationID, nil
}

// Run does operation id with the runner for its kind. A finished operation is left alone (a message
// delivered twice runs once). The work's own failure is recorded on the operation and is not an
// error of Run: the message is completed, because retrying the same request gives the same answer;
// Run returns an error only when the record cannot be read or written, so Service Bus redelivers.
func (s *Service) Run(ctx context.Context, id string, runners map[string]Runner) (Operation, error) {
	op, err := s.Store.GetOperation(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// Nothing to do and nothing to report: completing the message loses nothing.
		return Operation{ID: id}, nil
	}
	if err != nil {
		return op, err
	}
	if op.Done() {
		return op, nil
	}
	run := runners[op.Kind]
	if run == nil {
		return s.finish(ctx, op, nil, &domain.Problem{Code: "UnknownOperation", Message: "no runner for operation kind " + op.Kind})
	}
	op.State, op.StartedAt, op.Attempts = StateRunning, s.now(), op.Attempts+1
	if err := s.Store.PutOperation(ctx, op); err != nil {
		return op, err
	}
	res, err := run(ctx, op)
	if err != nil {
		e := &domain.Problem{Code: "OperationFailed", Message: err.Error()}
		var p *domain.Problem
		if errors.As(err, &p) && p != nil {
			e = &domain.Problem{Code: p.Code, Message: p.Message, Remediation: p.Remediation}
		}
		if s.Log != nil {
			s.Log.Warn("operation failed", "operationId", op.ID, "kind", op.Kind, "code", e.Code, "error", err.Error())
		}
		return s.finish(ctx, op, res, e)
	}
	return s.finish(ctx, op, res, nil)
}

func (s *Service) finish(ctx context.Context, op Operation, res any, e *domain.Problem) (Operation, error) {
	op.FinishedAt, op.Error, op.State = s.now(), e, StateSucceeded
	if e != nil {
		op.State = StateFailed
	}
	if res != nil {
		b, err := json.Marshal(res)
		if err != nil {
			return op, fmt.Errorf("encoding the operation's result: %w", err)
		}
		op.Result = b
	}
	// The work is done: record it even if the invocation's context ended meanwhile.
	return op, s.Store.PutOperation(context.WithoutCancel(ctx), op)
}

// View is the operation as the status route shows it: one that stayed queued or running past
// StaleAfter is reported failed, since its worker stopped for good (its message dead-lettered).
func View(op Operation, now time.Time) Operation {
	if op.Done() {
		return op
	}
	since := op.CreatedAt
	if !op.StartedAt.IsZero() {
		since = op.StartedAt
	}
	if now.Sub(since) > StaleAfter {
		was := op.State
		op.State = StateFailed
		op.Error = &domain.Problem{Code: "OperationAbandoned", Message: fmt.Sprintf("the operation was %s for more than %s without finishing", was, StaleAfter),
			Remediation: "Start it again; if it keeps stopping, check the " + QueueName + " dead-letter queue and the function logs."}
	}
	return op
}
