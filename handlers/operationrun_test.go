package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/operation"
)

// OperationRun, invoked as the host delivers a Service Bus message: a malformed message fails the
// invocation naming the problem (Service Bus dead-letters it after its retries) and records
// nothing; a message for an unknown operation completes; an operation of a kind nobody runs is
// finished as failed, once, however often the message is delivered; a store failure fails the
// invocation so Service Bus redelivers.
func TestOperationRun(t *testing.T) {
	e := newOpsEnv(t)
	for body, says := range map[string]string{
		`not json`:                         "operation message must be",
		`{"operationId":"x","extra":true}`: "operation message must be",
		`{"operationId":"nope"}`:           `"nope" is not an operation id`,
	} {
		code, resp := invoke(t, e.mux, "OperationRun", serviceBusInvocation([]byte(body), "m1", 1))
		if code != http.StatusInternalServerError || !strings.Contains(strings.Join(resp.Logs, "\n"), says) {
			t.Errorf("message %s: %d %q, want 500 saying %q", body, code, resp.Logs, says)
		}
	}
	// A payload without the "msg" binding is not a Service Bus delivery.
	if code, resp := invoke(t, e.mux, "OperationRun", timerInvocation); code != http.StatusInternalServerError || len(resp.Logs) == 0 {
		t.Errorf("no msg binding: %d %q", code, resp.Logs)
	}

	unknown := uuid.NewString()
	msg, _ := json.Marshal(map[string]string{"operationId": unknown})
	if code, resp := invoke(t, e.mux, "OperationRun", serviceBusInvocation(msg, unknown, 1)); code != http.StatusOK {
		t.Errorf("unknown operation: %d %q", code, resp.Logs)
	}
	if _, code, _ := e.status(unknown); code != http.StatusNotFound {
		t.Errorf("a message for an unknown operation recorded one: %d", code)
	}

	started, err := e.deps.Operations.Start(e.ctx, operation.Operation{Kind: "bogus"})
	if err != nil {
		t.Fatal(err)
	}
	body := e.opQueue.Messages()[0].Body
	for delivery := 1; delivery <= 2; delivery++ {
		code, resp := invoke(t, e.mux, "OperationRun", serviceBusInvocation(body, started.ID, delivery))
		if want := "operation " + started.ID + " (bogus): failed"; code != http.StatusOK || strings.Join(resp.Logs, "\n") != want {
			t.Errorf("delivery %d: %d %q, want %q", delivery, code, resp.Logs, want)
		}
	}
	if op, code, got := e.status(started.ID); op == nil || op.State != operation.StateFailed || op.Error == nil || op.Error.Code != "UnknownOperation" || op.Attempts > 1 {
		t.Errorf("bogus operation: %d %s", code, got)
	}

	e.deps.Operations = &operation.Service{Store: failingOps{}, Queue: e.opQueue, Log: e.deps.Log}
	e.mux = New(e.deps)
	if code, resp := invoke(t, e.mux, "OperationRun", serviceBusInvocation(body, started.ID, 3)); code != http.StatusInternalServerError || !strings.Contains(strings.Join(resp.Logs, "\n"), "table offline") {
		t.Errorf("failing store: %d %q", code, resp.Logs)
	}
}
