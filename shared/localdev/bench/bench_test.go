// Package bench holds the end-to-end benchmarks behind `make bench`: a sync of a slice of the
// simulator's large scenario (1,000 tenants, ~200,000 users) and a 1,000-tenant fan-out, against
// Azurite and the simulator over TLS through the real SDKs.
package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/funchost/sbqueue"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/queue/localqueue"
	"github.com/tenantsync/tenantsync/shared/store"
	"github.com/tenantsync/tenantsync/shared/syncer"
)

func azurite(b *testing.B) *store.Store {
	b.Helper()
	az, err := devenv.StartAzurite(context.Background(), "", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(az.Stop)
	st, err := store.Open(config.Tables{ConnectionString: az.ConnectionString()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Ensure(context.Background()); err != nil {
		b.Fatal(err)
	}
	return st
}

// peakHeap samples the heap until stop is called and returns the largest HeapInuse seen.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// BenchmarkSyncLargeSlice syncs BENCH_TENANTS (default 25; `make bench-go` sets it) consented tenants of the large scenario
// one after another, full sync each, and reports Graph round trips and table transactions per
// tenant, users per second and peak heap (simulator included, so an upper bound for the worker).
func BenchmarkSyncLargeSlice(b *testing.B) {
	n := 25
	if v, err := strconv.Atoi(os.Getenv("BENCH_TENANTS")); err == nil && v > 0 {
		n = v
	}
	s, err := sim.Start(sim.Options{Scenario: "large", Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	ep := s.Endpoints()
	app := s.World.App()
	var tenants []string
	users := 0
	for i := 0; i < s.World.TenantCount() && len(tenants) < n; i++ {
		t := s.World.TenantAt(i)
		if t.Consented && !t.Deleted && t.Faults.ThrottleEvery == 0 && t.Faults.UnavailableEvery == 0 {
			tenants = append(tenants, t.ID)
			users += t.LiveUsers()
		}
	}
	ctx := context.Background()
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		b.StopTimer()
		st := azurite(b) // a fresh table store each iteration: every sync is a full one
		s.Metrics.Reset()
		eng := &syncer.Engine{Store: st, Endpoints: ep.Endpoints,
			Credentials: &identity.AppCredentials{ClientID: app.AppID, Secret: app.Secrets[0].Value, Endpoints: ep.Endpoints}}
		runtime.GC()
		stop := peakHeap()
		b.StartTimer()
		start := time.Now()
		tx := 0
		for i, id := range tenants {
			res, err := eng.Sync(ctx, domain.SyncRequest{TenantID: id, RunID: "bench-" + strconv.Itoa(i), Reason: "bench", QueuedAt: start}, syncer.Delivery{MessageID: id, DeliveryCount: 1})
			if err != nil {
				b.Fatal(err)
			}
			for _, o := range res.Outcomes {
				tx += o.Stats.Transactions
			}
		}
		elapsed := time.Since(start)
		b.StopTimer()
		peak := stop()
		graph := s.Metrics.Total("graph", "")
		// Round trips: a $batch counts once, its items not (they are in graph.BatchItems).
		b.ReportMetric(float64(graph.RoundTrips())/float64(len(tenants)), "graph-round-trips/tenant")
		b.ReportMetric(float64(tx)/float64(len(tenants)), "table-tx/tenant")
		b.ReportMetric(float64(users)/elapsed.Seconds(), "users/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(len(tenants)), "tenants")
		b.StartTimer()
	}
}

// BenchmarkFanout1000 is the fan-out's function time for 1,000 consented tenants: list the
// Tenants table, plan the messages, send them to the queue (the local host's wire protocol into an
// embedded queue), and mark the tenants queued.
func BenchmarkFanout1000(b *testing.B) {
	st := azurite(b)
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		id := "00000000-0000-4000-8000-" + leftPad(strconv.Itoa(i), 12)
		if err := st.UpsertTenant(ctx, domain.Tenant{TenantID: id, DisplayName: "Tenant " + strconv.Itoa(i), Consent: domain.Consent{State: domain.ConsentConsented}}); err != nil {
			b.Fatal(err)
		}
	}
	q := sbqueue.New("tenant-sync", sbqueue.Options{DisableDuplicateDetection: true})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msgs []sbqueue.Message
		if err := json.NewDecoder(r.Body).Decode(&msgs); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if _, err := q.Send(msgs...); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	sender := localqueue.New(srv.URL, "tenant-sync")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tenants, err := st.ListTenants(ctx)
		if err != nil {
			b.Fatal(err)
		}
		msgs, reqs, err := fanout.Plan(tenants, time.Now().Add(time.Duration(i)*time.Minute), "scheduled", 30*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if err := sender.Send(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		if err := st.MarkQueued(ctx, reqs); err != nil {
			b.Fatal(err)
		}
		if len(msgs) != 1000 {
			b.Fatalf("%d messages", len(msgs))
		}
	}
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}
