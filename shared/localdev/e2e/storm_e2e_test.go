package e2e

// End-to-end tests of issue 9's storms and crashes: a throttling storm ends complete, a handler
// killed mid-fan-out loses nothing and burns no delivery attempt on messages it never saw. Every
// expectation is computed from the scenario's truth; the tests wait on events (wait-idle, the
// simulator's request counter, process exit), never on sleeps.

import (
	"context"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// stormWorld is the storm scenario's fault pattern at a size make test can afford.
func stormWorld(t *testing.T, size scenario.StormSize) *scenario.World {
	t.Helper()
	now := time.Now()
	w, err := scenario.New(scenario.StormFile(now, size), now)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// checkAllSucceeded: every tenant of the world synced exactly once (one run, succeeded) with
// exactly the scenario's data, and the queue completed one message per tenant with none
// dead-lettered. It returns the runs' delivery counts.
func checkAllSucceeded(t *testing.T, s *stack, w *scenario.World, q queueCounts) []int {
	t.Helper()
	n := w.TenantCount()
	if q.Sent != int64(n) || q.Completed != int64(n) || q.DeadLettered != 0 {
		t.Errorf("queue %+v: want %d messages sent and completed, none dead-lettered", q, n)
	}
	var deliveries []int
	for i := 0; i < n; i++ {
		tt := w.TenantAt(i)
		t.Run(tt.DisplayName, func(t *testing.T) {
			checkSynced(t, s, tt.ID, nil)
			runs := s.runs(t, tt.ID)
			if len(runs) != 1 || runs[0].State != domain.SyncSucceeded || runs[0].Error != nil {
				t.Errorf("runs %+v: want exactly one, succeeded", runs)
			}
			for _, r := range runs {
				deliveries = append(deliveries, r.DeliveryCount)
			}
		})
	}
	return deliveries
}

// The storm: 429 (Retry-After 0.5) on every 2nd and 503 on every 3rd Graph request of every
// tenant, $batch items included. Every tenant ends succeeded with exactly the simulator's data
// and nothing is dead-lettered (the stack dead-letters after 3 deliveries).
func TestStormEndsCompleteAndExact(t *testing.T) {
	w := stormWorld(t, scenario.StormSize{Tenants: 6, MinUsers: 20, MaxUsers: 45, LatencyMs: 10})
	s := startStackWith(t, stackOptions{world: w})
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range s.sim.Metrics.Rows() {
				t.Logf("simulator %s %s %s: %+v", r.Service, r.TenantID, r.Endpoint, r.Counts)
			}
		}
	})
	s.discover(t)
	s.fanout(t)
	q := s.waitIdle(t)
	checkAllSucceeded(t, s, w, q)
	for i := 0; i < w.TenantCount(); i++ {
		tt := w.TenantAt(i)
		if c := s.sim.Metrics.Total("graph", tt.ID); c.Throttled == 0 || c.Errors == 0 {
			t.Errorf("%s: the simulator served %+v: want 429s and 503s (the storm did not happen)", tt.DisplayName, c)
		}
	}
	t.Logf("queue %+v; graph %+v", q, s.sim.Metrics.Total("graph", ""))
}

var handlerPidRe = regexp.MustCompile(`Starting custom handler .* \(Pid=(\d+), port \d+\)`)

// handlerPid is the pid of the handler process the host started last.
func (s *stack) handlerPid(t *testing.T) int {
	t.Helper()
	m := handlerPidRe.FindAllStringSubmatch(s.output(), -1)
	if len(m) == 0 {
		t.Fatal("the host's output names no handler process")
	}
	pid, _ := strconv.Atoi(m[len(m)-1][1])
	return pid
}

// The handler is killed (SIGKILL, as the OOM killer would) while the fan-out's sync messages are
// being worked. The host restarts it; the messages in flight fail once and are redelivered; the
// messages that had not reached it wait for the restarted handler instead of being sent to the
// dead port. Result: every tenant complete and exact, one run each, no message past its 2nd
// delivery, none dead-lettered.
func TestHandlerKilledMidFanoutLosesNothing(t *testing.T) {
	now := time.Now()
	f := scenario.StormFile(now, scenario.StormSize{Tenants: 8, MinUsers: 20, MaxUsers: 40, LatencyMs: 40})
	f.Name, f.Faults = "e2e-kill", scenario.Faults{LatencyMs: 40} // slow, not throttled
	w, err := scenario.New(f, now)
	if err != nil {
		t.Fatal(err)
	}
	s := startStackWith(t, stackOptions{world: w})
	s.discover(t)
	before := s.sim.Metrics.Total("graph", "").Requests
	pid := s.handlerPid(t)
	s.fanout(t)
	// Mid-fan-out: the workers have made some Graph calls (each tenant needs dozens).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.sim.Metrics.WaitRequests(ctx, "graph", before+10); err != nil {
		t.Fatalf("the sync workers made no Graph calls: %v", err)
	}
	_, body := s.call("GET", "/admin/queues/tenant-sync", "", true)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed handler %d; queue then: %s", pid, body)
	q := s.waitIdle(t)
	if s.handlerPid(t) == pid {
		t.Fatal("the host did not restart the handler")
	}
	redelivered := 0
	for _, d := range checkAllSucceeded(t, s, w, q) {
		if d > 2 {
			t.Errorf("a run took %d deliveries: a crash may cost the messages in flight one delivery, no more", d)
		}
		if d == 2 {
			redelivered++
		}
	}
	// Every message was delivered before the kill and none can have finished after 10 Graph
	// calls in all, so the kill hit messages in flight.
	if redelivered == 0 {
		t.Error("no run was redelivered: the kill did not hit a message in flight")
	}
	_, body = s.call("GET", "/admin/queues/tenant-sync", "", true)
	t.Logf("%d runs redelivered once; queue %s", redelivered, body)
}
