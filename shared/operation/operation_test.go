package operation

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/testkit"
)

// memStore and testkit.Queue are in-memory stand-ins for Table Storage and Service Bus: this file tests
// the operation's state machine only (Azurite and the local host are in the handler and e2e tests).
type memStore struct {
	mu  sync.Mutex
	ops map[string]Operation
	err error
}

func (m *memStore) PutOperation(_ context.Context, op Operation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.ops == nil {
		m.ops = map[string]Operation{}
	}
	m.ops[op.ID] = op
	return nil
}

func (m *memStore) GetOperation(_ context.Context, id string) (Operation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	op, ok := m.ops[id]
	if !ok {
		return Operation{}, ErrNotFound
	}
	return op, nil
}

// notConnected is a runner's classified failure.
var notConnected = &domain.Problem{Code: "PartnerNotConnected", Message: "partner account not connected",
	Remediation: "Connect the partner account (/api/connect)."}

func TestStartQueuesOneMessageNamingTheOperation(t *testing.T) {
	st, q := &memStore{}, &testkit.Queue{}
	s := &Service{Store: st, Queue: q}
	op, err := s.Start(context.Background(), Operation{Kind: KindConsentCPV, TenantIDs: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	if op.State != StateQueued || op.ID == "" || op.CreatedAt.IsZero() {
		t.Errorf("started %+v", op)
	}
	if rec, _ := st.GetOperation(context.Background(), op.ID); rec.State != StateQueued || rec.Kind != KindConsentCPV {
		t.Errorf("recorded %+v", rec)
	}
	if len(q.Messages()) != 1 || q.Messages()[0].ID != op.ID {
		t.Fatalf("queued %+v", q.Messages())
	}
	id, err := DecodeMessage(q.Messages()[0].Body)
	if err != nil || id != op.ID {
		t.Errorf("decoded %q, %v", id, err)
	}
	for _, bad := range []string{``, `{}`, `{"operationId":"x"}`, `{"operationId":"` + op.ID + `","more":1}`, `{"operationId":"` + op.ID + `"}{}`} {
		if _, err := DecodeMessage([]byte(bad)); err == nil {
			t.Errorf("message %q accepted", bad)
		}
	}
}

func TestStartThatCannotQueueIsRecordedFailed(t *testing.T) {
	st := &memStore{}
	s := &Service{Store: st, Queue: &testkit.Queue{Err: errors.New("namespace unreachable")}}
	op, err := s.Start(context.Background(), Operation{Kind: KindDiscovery})
	if err == nil {
		t.Fatal("no error")
	}
	if rec, _ := st.GetOperation(context.Background(), op.ID); rec.State != StateFailed || rec.Error == nil || rec.Error.Code != "QueueUnavailable" {
		t.Errorf("recorded %+v", rec)
	}
}

func TestRunRecordsOutcomeAndRunsOnce(t *testing.T) {
	ctx := context.Background()
	st, q := &memStore{}, &testkit.Queue{}
	s := &Service{Store: st, Queue: q}
	calls := 0
	runners := map[string]Runner{
		KindDiscovery: func(context.Context, Operation) (any, error) { calls++; return map[string]int{"found": 13}, nil },
		KindConsentCPV: func(_ context.Context, op Operation) (any, error) {
			calls++
			return map[string]any{"results": []string{}}, notConnected
		},
	}
	ok, _ := s.Start(ctx, Operation{Kind: KindDiscovery})
	for range 2 { // a redelivered message
		got, err := s.Run(ctx, ok.ID, runners)
		if err != nil || got.State != StateSucceeded || string(got.Result) != `{"found":13}` || got.Attempts != 1 {
			t.Errorf("run: %+v %s %v", got, got.Result, err)
		}
	}
	if calls != 1 {
		t.Errorf("runner called %d times for two deliveries", calls)
	}
	bad, _ := s.Start(ctx, Operation{Kind: KindConsentCPV, All: true})
	got, err := s.Run(ctx, bad.ID, runners)
	if err != nil || got.State != StateFailed || got.Error == nil || got.Error.Code != "PartnerNotConnected" ||
		!strings.Contains(got.Error.Remediation, "/api/connect") || got.Result == nil {
		t.Errorf("failed run: %+v %+v %v", got, got.Error, err)
	}
	unknown, _ := s.Start(ctx, Operation{Kind: "nope"})
	if got, err := s.Run(ctx, unknown.ID, runners); err != nil || got.State != StateFailed || got.Error.Code != "UnknownOperation" {
		t.Errorf("unknown kind: %+v %v", got, err)
	}
	if _, err := s.Run(ctx, "00000000-0000-0000-0000-000000000000", runners); err != nil {
		t.Errorf("an unknown id must complete the message: %v", err)
	}
	// The record cannot be written: Run fails so Service Bus redelivers.
	again, _ := s.Start(ctx, Operation{Kind: KindDiscovery})
	st.err = errors.New("table storage down")
	if _, err := s.Run(ctx, again.ID, runners); err == nil {
		t.Error("Run succeeded although nothing could be recorded")
	}
}

func TestViewReportsAbandonedOperations(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	fresh := Operation{ID: "x", State: StateRunning, CreatedAt: now.Add(-3 * time.Hour), StartedAt: now.Add(-time.Minute)}
	if v := View(fresh, now); v.State != StateRunning || v.Error != nil {
		t.Errorf("fresh: %+v", v)
	}
	stale := Operation{ID: "y", State: StateQueued, CreatedAt: now.Add(-StaleAfter - time.Second)}
	v := View(stale, now)
	if v.State != StateFailed || v.Error == nil || v.Error.Code != "OperationAbandoned" || !strings.Contains(v.Error.Message, "queued") {
		t.Errorf("stale: %+v %+v", v, v.Error)
	}
	done := Operation{ID: "z", State: StateSucceeded, CreatedAt: now.Add(-48 * time.Hour), Result: json.RawMessage(`{}`)}
	if v := View(done, now); v.State != StateSucceeded {
		t.Errorf("done: %+v", v)
	}
}
