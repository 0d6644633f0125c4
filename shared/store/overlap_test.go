package store

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// gatedBatches holds every batch transaction until released, and records how many were in
// flight at once.
type gatedBatches struct {
	entered chan struct{}
	release chan struct{}
	open    chan struct{} // one slot per transaction in flight
	max     int
}

func (g *gatedBatches) Do(req *policy.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.Raw().URL.Path, "/$batch") {
		return req.Next()
	}
	g.open <- struct{}{}
	if n := len(g.open); n > g.max {
		g.max = n
	}
	g.entered <- struct{}{}
	<-g.release
	defer func() { <-g.open }()
	return req.Next()
}

// Writing overlaps reading: a Put that fills a batch hands the transaction to the background and
// returns, so the caller fetches its next page while Table Storage writes; the next full batch
// waits for that transaction, so at most one is in flight and two batches are held in memory.
// The real aztables client against Azurite; the gate only holds requests back.
func TestPutDoesNotWaitForTheTransaction(t *testing.T) {
	g := &gatedBatches{entered: make(chan struct{}, 16), release: make(chan struct{}), open: make(chan struct{}, 16)}
	svc, err := aztables.NewServiceClientFromConnectionString(testConn,
		&aztables.ClientOptions{ClientOptions: azcore.ClientOptions{PerCallPolicies: []policy.Policy{g}}})
	if err != nil {
		t.Fatal(err)
	}
	st := New(svc)
	tenant := newTenant(t)
	ctx := context.Background()
	w := st.Collection(TableUsers, tenant)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	users := makeUsers(2*maxBatchActions+10, "overlap")
	put := func(from, to int) <-chan error {
		done := make(chan error, 1)
		go func() {
			for _, u := range users[from:to] {
				if err := w.Put(ctx, u.ID, u); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		return done
	}
	// The first full batch goes out and is held; the Puts that filled it return regardless.
	first := put(0, maxBatchActions+5)
	<-g.entered
	select {
	case err := <-first:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Put waited for its batch's transaction: fetching and writing do not overlap")
	}
	// The second full batch waits for the first: release them one by one.
	second := put(maxBatchActions+5, len(users))
	g.release <- struct{}{}
	<-g.entered
	g.release <- struct{}{}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	finished := make(chan error, 1)
	var stats Stats
	go func() {
		var err error
		stats, err = w.Finish(ctx, false)
		finished <- err
	}()
	<-g.entered
	g.release <- struct{}{}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	if g.max != 1 {
		t.Errorf("%d transactions in flight at once, want 1", g.max)
	}
	if stats.Written != len(users) || stats.Transactions != 3 {
		t.Errorf("stats %+v, want %d written in 3 transactions", stats, len(users))
	}
	if n, ok := w.Count(); !ok || n != len(users) {
		t.Errorf("count %d (%v), want %d", n, ok, len(users))
	}
	if n, err := testStore.Count(ctx, TableUsers, tenant); err != nil || n != len(users) {
		t.Fatalf("stored %d (%v), want %d", n, err, len(users))
	}
}
