// Package testkit is the test harness shared by the product's tests: a log sink safe for many
// goroutines and an in-memory queue recording what would go to Service Bus. Only tests import it;
// the deployed handler never links anything under shared/localdev (see cmd/handler's layout test).
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/queue"
)

// LogBuffer collects log output written from many goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Queue is a queue.Sender that records messages; with Err set every Send fails with it.
type Queue struct {
	Err error

	mu   sync.Mutex
	msgs []queue.Message
}

// Send records m, or answers Err.
func (q *Queue) Send(_ context.Context, m []queue.Message) error {
	if q.Err != nil {
		return q.Err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m...)
	return nil
}

// Close does nothing.
func (q *Queue) Close(context.Context) error { return nil }

// Messages are the messages sent so far.
func (q *Queue) Messages() []queue.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queue.Message(nil), q.msgs...)
}

// SyncRequests decodes every message as a sync request, failing t on one that is not a valid
// request or whose message id is not "<tenant>:<run>".
func (q *Queue) SyncRequests(t testing.TB) []domain.SyncRequest {
	t.Helper()
	var out []domain.SyncRequest
	for _, m := range q.Messages() {
		var r domain.SyncRequest
		if err := json.Unmarshal(m.Body, &r); err != nil {
			t.Fatal(err)
		}
		if r.Validate() != nil || m.ID != r.TenantID+":"+r.RunID {
			t.Errorf("queue message %s: %+v is not a valid sync request", m.ID, r)
		}
		out = append(out, r)
	}
	return out
}

// Tenants are the tenant ids of the sync requests sent so far (message ids not checked: the
// fan-out names its messages by schedule slot).
func (q *Queue) Tenants(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, m := range q.Messages() {
		var r domain.SyncRequest
		if err := json.Unmarshal(m.Body, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r.TenantID)
	}
	return out
}

// Reset forgets the messages sent so far.
func (q *Queue) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = nil
}
