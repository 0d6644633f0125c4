// Command bench is `make bench`: tenantsync on the local stack (the Microsoft cloud simulator,
// Azurite, the local Functions host and the real handler process) syncing the simulator's large
// scenario, measured from outside the product, next to a naive msgraph-sdk-go integrator syncing
// the same tenants in the same run. It prints the figures and writes .bench/summary.json.
//
// Knobs (environment): BENCH_TENANTS (scenario size, default 1000), BENCH_RESYNC_TENANTS (tenants
// resynced to measure no-change and changed rounds, default 100), BENCH_PEER_TENANTS (how many of
// the tenants tenantsync synced the peer syncs too, default 200), BENCH_PEER_CONCURRENCY (default 16, the host's
// maxConcurrentCalls), BENCH_READY_RUNS (handler starts timed, default 30), BENCH_CONSOLE_REPS
// (requests per console page, default 10).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/queue/localqueue"
)

func main() {
	peerJobFile := flag.String("peer", "", "internal: run the naive peer for this job file and print its result")
	out := flag.String("o", ".bench/summary.json", "where to write the summary (relative to the repository root)")
	verbose := flag.Bool("v", false, "print the host's and handler's log lines")
	flag.Parse()
	if *peerJobFile != "" {
		if err := runPeer(*peerJobFile); err != nil {
			fmt.Fprintln(os.Stderr, "peer: "+err.Error())
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *out, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "bench: "+err.Error())
		os.Exit(1)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// summary is .bench/summary.json.
type summary struct {
	Machine  machine `json:"machine"`
	Scenario string  `json:"scenario"`
	Tenants  int     `json:"tenants"` // in the scenario
	Synced   int     `json:"tenantsSynced"`
	Failed   int     `json:"tenantsFailed"`
	Users    int     `json:"usersSynced"`

	GraphRoundTripsPerMinimum float64          `json:"graphRoundTripsPerMinimum"`
	GraphRoundTrips           int64            `json:"graphRoundTrips"`
	GraphMinimum              int64            `json:"graphMinimum"`
	GraphBatchItems           int64            `json:"graphBatchItems"`
	GraphWorstTenant          tenantRatio      `json:"graphWorstTenant"`
	GraphByEndpoint           map[string]int64 `json:"graphRoundTripsByEndpoint"`

	FullSyncTableTxPerTenant    float64     `json:"fullSyncTableTxPerTenant"`
	FullSyncTableReadsPerTenant float64     `json:"fullSyncTableReadsPerTenant"`
	FullSyncTable               tableCounts `json:"fullSyncTable"`

	NoChangeResyncTenants               int     `json:"noChangeResyncTenants"`
	NoChangeResyncTableTxPerTenant      float64 `json:"noChangeResyncTableTxPerTenant"`
	NoChangeResyncTableReadsPerTenant   float64 `json:"noChangeResyncTableReadsPerTenant"`
	NoChangeResyncGraphRoundTripsPerTen float64 `json:"noChangeResyncGraphRoundTripsPerTenant"`
	NoChangeResyncSeconds               float64 `json:"noChangeResyncSeconds"`

	ChangedRows             int     `json:"changedRows"`
	ChangedResyncTableTx    int64   `json:"changedResyncTableTx"`
	TableTxPer50ChangedRows float64 `json:"tableTxPer50ChangedRows"`

	Tenants1000Seconds float64 `json:"tenants1000Seconds"`
	// FirstPeerTenantsSeconds: fan-out until as many syncs completed as the peer syncs tenants.
	FirstPeerTenantsSeconds float64 `json:"firstPeerTenantsSeconds"`
	DiscoverySeconds        float64 `json:"discoverySeconds"`
	UsersPerSecond          float64 `json:"usersPerSecond"`

	HandlerPeakRssMB   float64       `json:"handlerPeakRssMB"`
	HandlerProcesses   int           `json:"handlerProcesses"`
	HandlerReadyMsP50  float64       `json:"handlerReadyMsP50"`
	HandlerReadyMsP90  float64       `json:"handlerReadyMsP90"`
	HandlerReadyMsMax  float64       `json:"handlerReadyMsMax"`
	HandlerReadyStarts int           `json:"handlerReadyStarts"`
	ConsolePageMsP90   float64       `json:"consolePageMsP90"`
	ConsoleWorstPage   string        `json:"consoleWorstPage"`
	ConsolePages       []consolePage `json:"consolePages"`

	Peer          peerSummary       `json:"peer"`
	graphByTenant map[string]int64  // full sync round trips per tenant (lower-case id)
	Definitions   map[string]string `json:"definitions"`
}

type tenantRatio struct {
	TenantID   string  `json:"tenantId"`
	RoundTrips int64   `json:"roundTrips"`
	Minimum    int     `json:"minimum"`
	Ratio      float64 `json:"ratio"`
}

type peerSummary struct {
	Tenants         int      `json:"tenants"`
	TenantsOK       int      `json:"tenantsOk"`
	Concurrency     int      `json:"concurrency"`
	GraphRoundTrips int64    `json:"graphRoundTrips"`
	OursRoundTrips  int64    `json:"tenantsyncGraphRoundTrips"` // tenantsync's full sync, the same tenants
	WallSeconds     float64  `json:"wallSeconds"`
	OursWallSeconds float64  `json:"tenantsyncWallSeconds"` // for as many tenants
	PeakRssMB       float64  `json:"peakRssMB"`
	TableTx         int64    `json:"tableTx"`
	Rows            int64    `json:"rows"`
	Errors          []string `json:"errors,omitempty"`
	// tenantsync's figure divided by the peer's, for the same tenants (< 1: tenantsync is better).
	RoundTripsRatio float64 `json:"tenantsyncRoundTripsRatio"`
	WallTimeRatio   float64 `json:"tenantsyncWallTimeRatio"`
	PeakRssRatio    float64 `json:"tenantsyncPeakRssRatio"`
	TableTxRatio    float64 `json:"tenantsyncTableTxRatio"`
	Comparison      string  `json:"comparison"`
}

func run(ctx context.Context, outPath string, verbose bool) error {
	root, err := devenv.RepoRoot()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "handler")); err != nil {
		return fmt.Errorf("bin/handler: %w (make bench builds it)", err)
	}
	n := envInt("BENCH_TENANTS", 1000)
	resyncN := envInt("BENCH_RESYNC_TENANTS", 100)
	peerConc := envInt("BENCH_PEER_CONCURRENCY", 16)
	sum := summary{Machine: describeMachine(root), Scenario: "large", Definitions: definitions}
	if !filepath.IsAbs(outPath) {
		outPath = filepath.Join(root, outPath)
	}
	// Written after each phase too, so a run stopped part way keeps what it measured.
	save := func() {
		if err := writeJSON(outPath, sum); err != nil {
			fmt.Fprintln(os.Stderr, "bench: "+err.Error())
		}
	}
	say := func(format string, args ...any) {
		fmt.Printf("[%s] %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
	}

	now := time.Now()
	f := scenario.LargeFile(now)
	f.Generate.Count = n
	world, err := scenario.New(f, now)
	if err != nil {
		return err
	}
	sum.Tenants = world.TenantCount()
	dir, err := os.MkdirTemp("", "tenantsync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var hostLog io.Writer
	if verbose {
		hostLog = os.Stdout
	}
	st, err := startStack(ctx, root, world, dir, hostLog)
	if err != nil {
		return err
	}
	defer st.close()
	hwm := watchHWM(st.host.HandlerPID)
	say("stack up: simulator (large scenario, %d tenants), Azurite, local host %s, handler pid %d", sum.Tenants, st.host.URL(), st.host.HandlerPID())

	t0 := time.Now()
	if err := st.connectAndDiscover(ctx); err != nil {
		return fmt.Errorf("connect and discovery: %w", err)
	}
	sum.DiscoverySeconds = time.Since(t0).Seconds()
	say("partner connected, discovery done in %.1fs", sum.DiscoverySeconds)

	// 1. The large scenario end to end: fan-out → every worker done.
	st.sim.Metrics.Reset()
	before := st.counter.snapshot()
	t1 := time.Now()
	if err := st.api.Send(ctx, "POST", "/admin/functions/TenantFanout?wait=true", "", nil); err != nil {
		return fmt.Errorf("fan-out: %w", err)
	}
	q := st.host.Queue("tenant-sync")
	queued := q.Stats().Sent
	// The peer syncs the first BENCH_PEER_TENANTS tenants: tenantsync's time for as many tenants
	// is when that many of its syncs had completed, in this run.
	firstN, err := waitIdle(ctx, st, say, t1, int64(peerTenants(int(queued))))
	if err != nil {
		return err
	}
	sum.FirstPeerTenantsSeconds = firstN.Seconds()
	sum.Tenants1000Seconds = time.Since(t1).Seconds()
	sum.HandlerPeakRssMB, sum.HandlerProcesses = hwm.end(st.host.HandlerPID())
	full := st.counter.snapshot().minus(before)
	tenants, err := st.tenants(ctx)
	if err != nil {
		return err
	}
	var synced []domain.Tenant
	for _, t := range tenants {
		switch t.Sync.State {
		case domain.SyncSucceeded, domain.SyncPartial:
			synced = append(synced, t)
			sum.Users += t.Counts.Users
		case domain.SyncFailed:
			sum.Failed++
		}
	}
	sort.Slice(synced, func(i, j int) bool { return synced[i].TenantID < synced[j].TenantID })
	sum.Synced = len(synced)
	if sum.Synced == 0 {
		return fmt.Errorf("no tenant synced (%d queued)", queued)
	}
	sum.UsersPerSecond = float64(sum.Users) / sum.Tenants1000Seconds
	sum.FullSyncTable = full
	sum.FullSyncTableTxPerTenant = float64(full.Writes) / float64(sum.Synced)
	sum.FullSyncTableReadsPerTenant = float64(full.Reads) / float64(sum.Synced)
	graphFigures(&sum, st, world, synced)
	save()
	say("full sync: %d tenants queued, %d synced, %d failed in %.1fs; Graph %.3f× the minimum; handler peak RSS %.0f MB",
		queued, sum.Synced, sum.Failed, sum.Tenants1000Seconds, sum.GraphRoundTripsPerMinimum, sum.HandlerPeakRssMB)

	// 2. The naive peer on the same tenants, same data (before any mutation).
	if err := runPeerRound(ctx, st, synced, peerConc, &sum, full, say); err != nil {
		return fmt.Errorf("peer: %w", err)
	}

	save()

	// 3. A no-change resync, then one after the simulator changed users and groups, of a sample,
	// queued as the fan-out queues them (the fan-out's own bookkeeping is in the full sync).
	sample := synced[:min(resyncN, len(synced))]
	sum.NoChangeResyncTenants = len(sample)
	sender := localqueue.New(st.host.URL(), "tenant-sync")
	round := func(slot time.Time) (tableCounts, int64, float64, error) {
		msgs, _, err := fanout.Plan(sample, slot, "scheduled", 0)
		if err != nil {
			return tableCounts{}, 0, 0, err
		}
		st.sim.Metrics.Reset()
		b := st.counter.snapshot()
		t := time.Now()
		if err := sender.Send(ctx, msgs); err != nil {
			return tableCounts{}, 0, 0, err
		}
		if _, err := waitIdle(ctx, st, say, t, 0); err != nil {
			return tableCounts{}, 0, 0, err
		}
		return st.counter.snapshot().minus(b), st.sim.Metrics.Total("graph", "").RoundTrips(), time.Since(t).Seconds(), nil
	}
	nc, ncGraph, ncSecs, err := round(now.Add(time.Hour))
	if err != nil {
		return fmt.Errorf("no-change resync: %w", err)
	}
	k := float64(len(sample))
	sum.NoChangeResyncTableTxPerTenant, sum.NoChangeResyncTableReadsPerTenant = float64(nc.Writes)/k, float64(nc.Reads)/k
	sum.NoChangeResyncGraphRoundTripsPerTen, sum.NoChangeResyncSeconds = float64(ncGraph)/k, ncSecs
	say("no-change resync of %d tenants: %.2f table tx and %.1f table reads per tenant, %.1f Graph round trips per tenant, %.1fs",
		len(sample), sum.NoChangeResyncTableTxPerTenant, sum.NoChangeResyncTableReadsPerTenant, sum.NoChangeResyncGraphRoundTripsPerTen, ncSecs)

	epoch := world.Epoch()
	world.Step()
	for _, t := range sample {
		if wt, ok := world.Tenant(t.TenantID); ok {
			sum.ChangedRows += len(wt.UserChanges(epoch)) + len(wt.GroupChanges(epoch))
		}
	}
	ch, _, _, err := round(now.Add(2 * time.Hour))
	if err != nil {
		return fmt.Errorf("changed resync: %w", err)
	}
	sum.ChangedResyncTableTx = ch.Writes
	if sum.ChangedRows > 0 {
		sum.TableTxPer50ChangedRows = float64(ch.Writes) / float64(sum.ChangedRows) * 50
	}
	say("resync after the simulator changed %d users and groups: %d table tx (%.1f per 50 changed rows)", sum.ChangedRows, ch.Writes, sum.TableTxPer50ChangedRows)

	save()

	// 4. The console's server time against what the syncs wrote.
	pages, err := timeConsole(st.az.ConnectionString(), st.settings[config.SettingAdminGroupID], synced[len(synced)/2].TenantID, envInt("BENCH_CONSOLE_REPS", 10))
	if err != nil {
		return err
	}
	sum.ConsolePages = pages
	for _, p := range pages {
		if p.P90Ms > sum.ConsolePageMsP90 {
			sum.ConsolePageMsP90, sum.ConsoleWorstPage = p.P90Ms, p.Page
		}
	}
	say("console: worst page p90 %.0f ms (%s)", sum.ConsolePageMsP90, sum.ConsoleWorstPage)

	// 5. Handler start to ready.
	ready, err := handlerReady(ctx, root, st.settings, envInt("BENCH_READY_RUNS", 30))
	if err != nil {
		return err
	}
	sum.HandlerReadyStarts = len(ready)
	sum.HandlerReadyMsP50, sum.HandlerReadyMsP90, sum.HandlerReadyMsMax = percentile(ready, 50), percentile(ready, 90), percentile(ready, 100)

	sum.Machine.LoadEnd = loadAvg()
	if err := writeJSON(outPath, sum); err != nil {
		return err
	}
	printSummary(sum)
	fmt.Printf("\nwrote %s\n", outPath)
	return nil
}

// waitIdle waits for the sync queue to drain, printing progress every 15 s. It returns when the
// mark-th message was completed, measured from start (0 when mark is 0 or was not reached).
func waitIdle(ctx context.Context, st *stack, say func(string, ...any), start time.Time, mark int64) (time.Duration, error) {
	q := st.host.Queue("tenant-sync")
	wait, cancel := context.WithTimeout(ctx, 90*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- q.WaitIdle(wait) }()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var markAt time.Duration
	last := time.Now()
	for {
		select {
		case err := <-done:
			if markAt == 0 && mark > 0 && q.Stats().Completed >= mark {
				markAt = time.Since(start)
			}
			return markAt, err
		case <-tick.C:
			s := q.Stats()
			if markAt == 0 && mark > 0 && s.Completed >= mark {
				markAt = time.Since(start)
			}
			if time.Since(last) >= 15*time.Second {
				last = time.Now()
				say("  … %d completed, %d in progress, %d waiting, %d dead-lettered", s.Completed, s.Locked, s.Active+s.Scheduled, s.DeadLettered)
			}
		}
	}
}

// graphFigures compares each synced tenant's Graph round trips with the minimum Graph allows.
func graphFigures(sum *summary, st *stack, world *scenario.World, synced []domain.Tenant) {
	perTenant := map[string]int64{}
	sum.graphByTenant = perTenant
	sum.GraphByEndpoint = map[string]int64{}
	for _, r := range st.sim.Metrics.Rows() {
		if r.Service != "graph" {
			continue
		}
		perTenant[strings.ToLower(r.TenantID)] += r.RoundTrips()
		sum.GraphBatchItems += r.BatchItems
		if rt := r.RoundTrips(); rt > 0 {
			sum.GraphByEndpoint[r.Endpoint] += rt
		}
	}
	for _, t := range synced {
		wt, ok := world.Tenant(t.TenantID)
		if !ok {
			continue
		}
		got, minimum := perTenant[strings.ToLower(t.TenantID)], minimumRoundTrips(wt)
		sum.GraphRoundTrips += got
		sum.GraphMinimum += int64(minimum)
		if r := float64(got) / float64(minimum); r > sum.GraphWorstTenant.Ratio {
			sum.GraphWorstTenant = tenantRatio{TenantID: t.TenantID, RoundTrips: got, Minimum: minimum, Ratio: r}
		}
	}
	if sum.GraphMinimum > 0 {
		sum.GraphRoundTripsPerMinimum = float64(sum.GraphRoundTrips) / float64(sum.GraphMinimum)
	}
}

// peerTenants is how many of n synced tenants the peer syncs: BENCH_PEER_TENANTS, 200 by
// default (the peer writes ~1,000 rows per tenant one request at a time, ~20 minutes for the
// whole large scenario on 2 cores, more than the rest of the bench together).
func peerTenants(n int) int { return min(n, envInt("BENCH_PEER_TENANTS", 200)) }

// runPeerRound runs the naive peer in its own process against a fresh Azurite (as tenantsync's
// full sync had one) on the same simulator, and compares.
func runPeerRound(ctx context.Context, st *stack, synced []domain.Tenant, conc int, sum *summary, full tableCounts, say func(string, ...any)) error {
	ids := make([]string, 0, len(synced))
	for _, t := range synced {
		ids = append(ids, t.TenantID)
	}
	ids = ids[:peerTenants(len(ids))]
	az, err := devenv.StartAzurite(ctx, "", nil)
	if err != nil {
		return err
	}
	defer az.Stop()
	counter, srv, proxyURL, err := countingProxy(az)
	if err != nil {
		return err
	}
	defer srv.Close()
	app := st.sim.World.App()
	job := peerJob{Endpoints: st.sim.Endpoints().Endpoints, ClientID: app.AppID, Secret: app.Secrets[0].Value, Tenants: ids, Concurrency: conc, Tables: connectionStringFor(proxyURL)}
	jobFile := filepath.Join(os.TempDir(), fmt.Sprintf("tenantsync-bench-peer-%d.json", os.Getpid()))
	if err := writeJSON(jobFile, job); err != nil {
		return err
	}
	defer os.Remove(jobFile)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	say("peer: a naive msgraph-sdk-go integrator syncs %d tenants, %d at a time", len(ids), conc)
	st.sim.Metrics.Reset()
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, self, "-peer", jobFile)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	// The simulator's CA as the peer's system roots (crypto/x509 reads SSL_CERT_FILE on Linux).
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+st.sim.Endpoints().CAFile)
	if err := cmd.Run(); err != nil {
		return err
	}
	var res peerResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return fmt.Errorf("peer result %q: %w", stdout.String(), err)
	}
	p := &sum.Peer
	p.Tenants, p.TenantsOK, p.Concurrency, p.Errors = len(ids), res.TenantsOK, conc, res.Errors
	p.GraphRoundTrips = st.sim.Metrics.Total("graph", "").RoundTrips()
	p.WallSeconds, p.PeakRssMB, p.Rows = res.WallSeconds, res.PeakRssMB, res.Rows
	p.TableTx = counter.snapshot().Writes
	// Round trips are compared tenant by tenant; time and table writes are whole runs, scaled by
	// the share of tenants when the peer synced fewer (both sides are throughput-bound at the
	// same concurrency).
	var ours int64
	for _, id := range ids {
		ours += sum.graphByTenant[strings.ToLower(id)]
	}
	p.OursRoundTrips = ours
	p.RoundTripsRatio = ratio(float64(ours), float64(p.GraphRoundTrips))
	k := float64(len(ids)) / float64(len(synced))
	p.TableTxRatio = ratio(float64(full.Writes)*k, float64(p.TableTx))
	p.OursWallSeconds = sum.Tenants1000Seconds
	p.Comparison = "the same tenants"
	if len(ids) < len(synced) {
		// tenantsync's time for its first len(ids) syncs: the tables were as small as the
		// peer's then (Azurite scans a whole table for a partition query, so later syncs are slower).
		p.OursWallSeconds = sum.FirstPeerTenantsSeconds
		p.Comparison = fmt.Sprintf("the first %d of the %d tenants tenantsync synced: round trips tenant by tenant, wall time against tenantsync's first %d syncs, table writes per tenant", len(ids), len(synced), len(ids))
	}
	p.WallTimeRatio = ratio(p.OursWallSeconds, p.WallSeconds)
	p.PeakRssRatio = ratio(sum.HandlerPeakRssMB, p.PeakRssMB)
	say("peer: %d/%d tenants in %.1fs, %d Graph round trips, %d table tx, peak RSS %.0f MB", p.TenantsOK, p.Tenants, p.WallSeconds, p.GraphRoundTrips, p.TableTx, p.PeakRssMB)
	return nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

var definitions = map[string]string{
	"graphRoundTripsPerMinimum":      "Graph HTTP round trips of the full sync (a $batch counts once, its items not; the mailbox report's CSV download counts) divided by the minimum Graph allows for the same data at its documented page caps plus one $batch (cmd/bench/minimum.go), summed over the synced tenants",
	"tenants1000Seconds":             "the large scenario end to end: TenantFanout fired through the host's admin API until the tenant-sync queue is idle (every worker done); discovery before it is discoverySeconds",
	"noChangeResyncTableTxPerTenant": "Table Storage write transactions (each $batch, insert, upsert, merge or delete request, counted by a proxy in front of Azurite; bookkeeping included) per tenant when the sample is synced again with nothing changed in Graph; messages built by fanout.Plan and sent as the fan-out sends them",
	"tableTxPer50ChangedRows":        "write transactions of the resync after the simulator changed users and groups (Step), per 50 changed objects (users added, changed or removed plus groups changed in the sample)",
	"handlerPeakRssMB":               "VmHWM of the handler process(es) from /proc/<pid>/status, sampled through discovery and the full sync",
	"handlerReadyMsP90":              "bin/handler exec until its first HTTP answer on FUNCTIONS_CUSTOMHANDLER_PORT, p90 of handlerReadyStarts starts with the host's settings",
	"consolePageMsP90":               "the highest per-page p90 of the console's server time (handler mux, signed in) against the Table Storage the full sync wrote",
	"peer":                           "a naive msgraph-sdk-go integrator (PageIterator at the default page size, no $select except signInActivity, no delta, no $batch, per-user authentication methods without P1/P2, one aztables upsert per row) in its own process on a fresh Azurite, same simulator, same tenants; ratios are tenantsync's figure over the peer's",
}

func printSummary(s summary) {
	fmt.Printf("\ntenantsync bench: %s scenario, %d tenants (%d synced, %d failed, %d users); commit %.12s%s\n",
		s.Scenario, s.Tenants, s.Synced, s.Failed, s.Users, s.Machine.Commit, map[bool]string{true: " (with uncommitted changes)"}[s.Machine.Dirty])
	fmt.Printf("machine: %s, %d cores, %.0f GB, load %s → %s\n\n", s.Machine.CPU, s.Machine.Cores, s.Machine.MemoryGB, s.Machine.LoadStart, s.Machine.LoadEnd)
	rows := [][2]string{
		{"graphRoundTripsPerMinimum", fmt.Sprintf("%.3f (%d round trips, minimum %d; worst tenant %.2f)", s.GraphRoundTripsPerMinimum, s.GraphRoundTrips, s.GraphMinimum, s.GraphWorstTenant.Ratio)},
		{"noChangeResyncTableTxPerTenant", fmt.Sprintf("%.2f (reads %.1f, Graph round trips %.1f per tenant; %d tenants)", s.NoChangeResyncTableTxPerTenant, s.NoChangeResyncTableReadsPerTenant, s.NoChangeResyncGraphRoundTripsPerTen, s.NoChangeResyncTenants)},
		{"tableTxPer50ChangedRows", fmt.Sprintf("%.1f (%d tx for %d changed rows)", s.TableTxPer50ChangedRows, s.ChangedResyncTableTx, s.ChangedRows)},
		{"tenants1000Seconds", fmt.Sprintf("%.1f (%d tenants, %.0f users/s; discovery before it %.1f s)", s.Tenants1000Seconds, s.Synced, s.UsersPerSecond, s.DiscoverySeconds)},
		{"handlerPeakRssMB", fmt.Sprintf("%.1f (%d handler process(es))", s.HandlerPeakRssMB, s.HandlerProcesses)},
		{"handlerReadyMsP90", fmt.Sprintf("%.1f (p50 %.1f, max %.1f, %d starts)", s.HandlerReadyMsP90, s.HandlerReadyMsP50, s.HandlerReadyMsMax, s.HandlerReadyStarts)},
		{"consolePageMsP90", fmt.Sprintf("%.0f (%s)", s.ConsolePageMsP90, s.ConsoleWorstPage)},
		{"fullSyncTableTxPerTenant", fmt.Sprintf("%.1f (%.1f of them batches; reads %.1f; %d requests Azurite reset)", s.FullSyncTableTxPerTenant,
			float64(s.FullSyncTable.Batches)/float64(max(1, s.Synced)), s.FullSyncTableReadsPerTenant, s.FullSyncTable.Errors)},
	}
	for _, r := range rows {
		fmt.Printf("  %-32s %s\n", r[0], r[1])
	}
	fmt.Println("\n  console page server time (p50 / p90 / max ms):")
	for _, p := range s.ConsolePages {
		fmt.Printf("    %-26s %7.0f %7.0f %7.0f\n", p.Page, p.P50Ms, p.P90Ms, p.MaxMs)
	}
	p := s.Peer
	fmt.Printf("\n  peer (%s, %d/%d tenants ok):\n", p.Comparison, p.TenantsOK, p.Tenants)
	fmt.Printf("    %-22s %12s %12s %10s\n", "", "tenantsync", "peer", "ratio")
	fmt.Printf("    %-22s %12d %12d %10.3f\n", "Graph round trips", p.OursRoundTrips, p.GraphRoundTrips, p.RoundTripsRatio)
	fmt.Printf("    %-22s %12.1f %12.1f %10.3f\n", "wall seconds", p.OursWallSeconds, p.WallSeconds, p.WallTimeRatio)
	fmt.Printf("    %-22s %12.1f %12.1f %10.3f\n", "peak RSS MB", s.HandlerPeakRssMB, p.PeakRssMB, p.PeakRssRatio)
	fmt.Printf("    %-22s %12.0f %12d %10.3f\n", "table write tx", s.FullSyncTableTxPerTenant*float64(p.Tenants), p.TableTx, p.TableTxRatio)
	if len(p.Errors) > 0 {
		fmt.Printf("    peer errors: %s\n", strings.Join(p.Errors, "; "))
	}
	eps := make([]string, 0, len(s.GraphByEndpoint))
	for e := range s.GraphByEndpoint {
		eps = append(eps, e)
	}
	slices.SortFunc(eps, func(a, b string) int { return int(s.GraphByEndpoint[b] - s.GraphByEndpoint[a]) })
	fmt.Println("\n  tenantsync's Graph round trips by endpoint (full sync):")
	for _, e := range eps {
		fmt.Printf("    %8d  %s\n", s.GraphByEndpoint[e], e)
	}
}
