package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/testkit"
	"github.com/tenantsync/tenantsync/shared/operation"
)

// opsEnv is newInputsEnv with an operation service on the same Table Storage and its own
// operations queue.
type opsEnv struct {
	*inputsEnv
	deps    Deps
	opQueue *testkit.Queue
}

func newOpsEnv(t *testing.T) *opsEnv {
	t.Helper()
	in := newInputsEnv(t)
	log := slog.New(slog.NewJSONHandler(in.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := &opsEnv{inputsEnv: in, opQueue: &testkit.Queue{}}
	e.deps = Deps{Store: in.store, Queue: in.queue, Log: log, Now: time.Now,
		Operations: &operation.Service{Store: in.store, Queue: e.opQueue, Log: log}}
	in.mux = New(e.deps)
	return e
}

// status reads GET /api/operations/{id}.
func (e *opsEnv) status(id string) (*operation.Operation, int, string) {
	e.t.Helper()
	rec := e.do("GET", "/api/operations/"+id, "")
	if rec.Code != http.StatusOK {
		return nil, rec.Code, rec.Body.String()
	}
	var op operation.Operation
	if err := json.Unmarshal(rec.Body.Bytes(), &op); err != nil {
		e.t.Fatalf("GET /api/operations/%s: %v in %s", id, err, rec.Body)
	}
	return &op, rec.Code, rec.Body.String()
}

// OperationStatus: a recorded operation reads with its state (by its id in any case), one queued
// too long reads as abandoned, an unknown id is 404 OperationNotFound, and a failing store is a
// 500 that names no internals.
func TestOperationStatus(t *testing.T) {
	e := newOpsEnv(t)
	started, err := e.deps.Operations.Start(e.ctx, operation.Operation{Kind: operation.KindDiscovery, RequestedBy: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{started.ID, strings.ToUpper(started.ID)} {
		op, code, body := e.status(id)
		if op == nil || op.ID != started.ID || op.State != operation.StateQueued || op.Kind != operation.KindDiscovery || op.RequestedBy != "alice" {
			t.Errorf("GET %s: %d %s", id, code, body)
		}
	}
	// A finished operation shows its outcome.
	done := started
	done.State, done.FinishedAt, done.Result = operation.StateSucceeded, time.Now(), json.RawMessage(`{"found":3}`)
	if err := e.store.PutOperation(e.ctx, done); err != nil {
		t.Fatal(err)
	}
	if op, code, body := e.status(started.ID); op == nil || op.State != operation.StateSucceeded || string(op.Result) != `{"found":3}` {
		t.Errorf("finished: %d %s", code, body)
	}
	// Queued for longer than operation.StaleAfter: the answer says it was abandoned.
	stale := operation.Operation{ID: uuid.NewString(), Kind: operation.KindDiscovery, State: operation.StateQueued,
		CreatedAt: time.Now().Add(-operation.StaleAfter - time.Minute)}
	if err := e.store.PutOperation(e.ctx, stale); err != nil {
		t.Fatal(err)
	}
	if op, code, body := e.status(stale.ID); op == nil || op.State != operation.StateFailed || op.Error == nil || op.Error.Code != "OperationAbandoned" {
		t.Errorf("stale: %d %s", code, body)
	}

	rec := e.do("GET", "/api/operations/00000000-0000-4000-8000-000000000000", "")
	if code, msg := errorCode(t, rec); rec.Code != http.StatusNotFound || code != "OperationNotFound" || !strings.Contains(msg, "00000000-0000-4000-8000-000000000000") {
		t.Errorf("unknown operation: %d %s %q", rec.Code, code, msg)
	}

	// The store failing: 500, the cause in the log only.
	e.deps.Operations = &operation.Service{Store: failingOps{}, Queue: e.opQueue, Log: e.deps.Log}
	e.mux = New(e.deps)
	rec = e.do("GET", "/api/operations/"+started.ID, "")
	if code, _ := errorCode(t, rec); rec.Code != http.StatusInternalServerError || code != "InternalError" || strings.Contains(rec.Body.String(), "table offline") {
		t.Errorf("failing store: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(e.logs.String(), "table offline") {
		t.Error("the store's error is not in the log")
	}
}

// failingOps is an operation.Store whose every call fails.
type failingOps struct{}

func (failingOps) PutOperation(context.Context, operation.Operation) error {
	return errors.New("table offline")
}
func (failingOps) GetOperation(context.Context, string) (operation.Operation, error) {
	return operation.Operation{}, errors.New("table offline")
}
