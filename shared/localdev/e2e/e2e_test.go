package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/store"
)

// build compiles a command of this module into dir.
func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = "../../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

type stack struct {
	t       *testing.T
	url     string // http://127.0.0.1:port
	public  string // PUBLIC_BASE_URL when stackOptions.localPublicURL is set
	key     string
	az      string // Azurite connection string
	store   *store.Store
	cmd     *exec.Cmd
	exited  chan struct{}
	handler string
	sim     *sim.Server
	ep      sim.Endpoints

	stopOnce sync.Once
	logMu    sync.Mutex
	log      strings.Builder // the host's and handler's output; read it with output()
}

// output is what funchost and the handler printed so far.
func (s *stack) output() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// stackOptions adjust startStackWith; the zero value gives startStack's stack.
type stackOptions struct {
	// world replaces the simulator's demo scenario when set.
	world *scenario.World
	// settings override app settings (after the stack's own).
	settings map[string]string
	// localPublicURL sets PUBLIC_BASE_URL to http://localhost:<the host's port>, so OAuth
	// redirects come back to this stack.
	localPublicURL bool
}

func startStack(t *testing.T) *stack {
	t.Helper()
	return startStackWith(t, stackOptions{})
}

func startStackWith(t *testing.T, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	bin := t.TempDir()
	handler := build(t, bin, "./cmd/handler")
	funchost := build(t, bin, "./cmd/funchost")

	az, err := devenv.StartAzurite(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(az.Stop)
	cloudSim, err := sim.Start(sim.Options{World: o.world, Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cloudSim.Close)
	ep := cloudSim.Endpoints()
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, url: "http://127.0.0.1:" + strconv.Itoa(port), key: "e2e-key", az: az.ConnectionString(),
		exited: make(chan struct{}), handler: handler, sim: cloudSim, ep: ep}
	root, _ := filepath.Abs("../../..")
	settings := map[string]string{
		config.SettingTablesConnection:   az.ConnectionString(),
		config.SettingLocalQueueEndpoint: s.url,
		config.SettingAuthorityHost:      ep.AuthorityHost,
		config.SettingGraphBaseURL:       ep.GraphURL,
		config.SettingPartnerCenterURL:   ep.PartnerCenterURL,
		config.SettingCloudCAFile:        ep.CAFile,
		config.SettingKeyVaultURL:        ep.KeyVaultURL,
		// What App Service sets for the managed identity; the simulator plays that endpoint.
		"IDENTITY_ENDPOINT": ep.ManagedIdentityEndpoint,
		"IDENTITY_HEADER":   ep.ManagedIdentityHeader,
	}
	if o.localPublicURL {
		s.public = "http://localhost:" + strconv.Itoa(port)
		settings[config.SettingPublicBaseURL] = s.public
	}
	for k, v := range o.settings {
		settings[k] = v
	}
	args := []string{"-root", root, "-settings", filepath.Join(root, "local.settings.sample.json"),
		"-handler", handler, "-listen", "127.0.0.1:" + strconv.Itoa(port), "-key", s.key,
		"-state", filepath.Join(bin, "state"), "-no-timers", "-max-delivery-count", "3"}
	for k, v := range settings {
		args = append(args, "-set", k+"="+v)
	}
	s.cmd = exec.Command(funchost, args...)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		// Only this goroutine writes s.log until s.exited is closed; readers wait for that.
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		signalled := false
		for sc.Scan() {
			s.logMu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.logMu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "Host listening on") {
				signalled = true
				close(ready)
			}
		}
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("funchost output:\n%s", s.output())
		}
	})
	select {
	case <-ready:
	case <-s.exited:
		t.Fatal("funchost exited during start-up")
	case <-time.After(60 * time.Second):
		t.Fatal("funchost not listening after 60s")
	}
	if s.store, err = store.Open(config.Tables{ConnectionString: az.ConnectionString()}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.store.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// stop interrupts funchost (as Ctrl-C does) and waits until it and its output are finished.
func (s *stack) stop() {
	s.stopOnce.Do(func() { _ = s.cmd.Process.Signal(syscall.SIGINT) })
	<-s.exited
}

func (s *stack) call(method, path, body string, withKey bool) (int, []byte) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if withKey {
		req.Header.Set("x-functions-key", s.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestEndToEndTimerQueueWorkerTable(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	// Tenants of the simulator's demo scenario, seeded directly (discovery has its own tests).
	consented := domain.Tenant{TenantID: scenario.DemoContosoDental, DisplayName: "Contoso", Consent: domain.Consent{State: domain.ConsentConsented}, Sync: domain.SyncStatus{State: domain.SyncNever}}
	excluded := domain.Tenant{TenantID: scenario.DemoNorthwindTraders, DisplayName: "Northwind", Consent: domain.Consent{State: domain.ConsentConsented}, Excluded: true, Sync: domain.SyncStatus{State: domain.SyncNever}}
	pending := domain.Tenant{TenantID: scenario.DemoWoodgroveBank, DisplayName: "Woodgrove", Consent: domain.Consent{State: domain.ConsentPending}, Sync: domain.SyncStatus{State: domain.SyncNever}}
	for _, tn := range []domain.Tenant{consented, excluded, pending} {
		if err := s.store.UpsertTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}

	// Timer → queue: fire the fan-out timer through the admin API, as the real host allows.
	if status, body := s.call("POST", "/admin/functions/TenantFanout?wait=true", `{"input":""}`, true); status != 200 {
		t.Fatalf("fire TenantFanout: %d %s", status, body)
	}
	// Queue → worker: wait until the embedded queue has nothing left in flight.
	status, body := s.call("POST", "/admin/queues/tenant-sync/wait-idle?timeout=60s", "", true)
	if status != 200 {
		t.Fatalf("wait-idle: %d %s", status, body)
	}
	var q struct {
		Stats struct{ Sent, Completed, DeadLettered int64 }
	}
	_ = json.Unmarshal(body, &q)
	if q.Stats.Sent != 1 || q.Stats.Completed != 1 || q.Stats.DeadLettered != 0 {
		t.Fatalf("queue stats %s: want exactly one message (the consented tenant) completed", body)
	}

	// Worker → table: the run row and the tenant's sync state, read back with aztables.
	runs, err := s.store.ListRuns(ctx, consented.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].State != domain.SyncSucceeded || runs[0].Reason != "scheduled" || runs[0].DeliveryCount != 1 ||
		runs[0].MessageID != consented.TenantID+":"+runs[0].QueuedAt.Format("20060102T1504Z") {
		t.Fatalf("runs for the consented tenant: %+v", runs)
	}
	got, err := s.store.GetTenant(ctx, consented.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sync.State != domain.SyncSucceeded || got.Sync.LastRunID != runs[0].RunID || got.Sync.LastSuccessAt.IsZero() || got.Consent.State != domain.ConsentConsented {
		t.Errorf("tenant after sync: %+v", got)
	}
	// The worker synced the tenant from the simulator's Graph into Table Storage.
	truth, _ := s.sim.World.Tenant(scenario.DemoContosoDental)
	if got.Counts.Users != truth.LiveUsers() || got.DisplayName != truth.DisplayName {
		t.Errorf("synced %d users for %q, the scenario has %d in %q", got.Counts.Users, got.DisplayName, truth.LiveUsers(), truth.DisplayName)
	}
	for _, tn := range []domain.Tenant{excluded, pending} {
		if runs, _ := s.store.ListRuns(ctx, tn.TenantID); len(runs) != 0 {
			t.Errorf("%s was synced though it is excluded or not consented", tn.DisplayName)
		}
	}

	// The read API through the host: key required, Graph-like collection shape.
	if status, _ := s.call("GET", "/api/tenants", "", false); status != 401 {
		t.Errorf("GET /api/tenants without key: %d, want 401", status)
	}
	status, body = s.call("GET", "/api/tenants", "", true)
	var list struct {
		Value []domain.Tenant `json:"value"`
	}
	if status != 200 || json.Unmarshal(body, &list) != nil || len(list.Value) != 3 {
		t.Fatalf("GET /api/tenants: %d %s", status, body)
	}

	// Re-firing in the same minute produces the same MessageIds: the queue drops them.
	if status, body := s.call("POST", "/admin/functions/TenantFanout?wait=true", `{"input":""}`, true); status != 200 {
		t.Fatalf("second fan-out: %d %s", status, body)
	}
	_, body = s.call("GET", "/admin/queues/tenant-sync", "", true)
	var q2 struct {
		Stats struct{ Sent, Duplicates int64 }
	}
	_ = json.Unmarshal(body, &q2)
	// Allow for the minute rolling over between the two fan-outs.
	if q2.Stats.Sent+q2.Stats.Duplicates != 2 || (q2.Stats.Duplicates != 1 && runs[0].QueuedAt.Equal(time.Now().UTC().Truncate(time.Minute))) {
		t.Errorf("second fan-out in the same slot: %s", body)
	}
}

func TestEndToEndPoisonMessageDeadLettered(t *testing.T) {
	s := startStack(t)
	status, body := s.call("POST", "/admin/queues/tenant-sync/messages", `[{"messageId":"poison-1","body":"`+b64(`{"tenantId":"nope"}`)+`"}]`, false)
	if status != 201 {
		t.Fatalf("send: %d %s", status, body)
	}
	if status, body := s.call("POST", "/admin/queues/tenant-sync/wait-idle?timeout=60s", "", true); status != 200 {
		t.Fatalf("wait-idle: %d %s", status, body)
	}
	status, body = s.call("GET", "/admin/queues/tenant-sync/deadletter", "", true)
	var dl struct {
		Value []struct {
			MessageID        string `json:"messageId"`
			DeliveryCount    int    `json:"deliveryCount"`
			DeadLetterReason string `json:"deadLetterReason"`
		} `json:"value"`
	}
	if status != 200 || json.Unmarshal(body, &dl) != nil || len(dl.Value) != 1 {
		t.Fatalf("dead letters: %d %s", status, body)
	}
	if d := dl.Value[0]; d.MessageID != "poison-1" || d.DeliveryCount != 3 || d.DeadLetterReason != "MaxDeliveryCountExceeded" {
		t.Errorf("dead letter %+v", d)
	}
	s.stop()
	log := s.output()
	for _, want := range []string{"invalid sync request: tenantId \"nope\" is not a tenant GUID", "was dead-lettered after 3 deliveries", "funchost: stopping"} {
		if !strings.Contains(log, want) {
			t.Errorf("funchost output lacks %q", want)
		}
	}
	if s.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("funchost exit code %d after Ctrl-C, want 0", s.cmd.ProcessState.ExitCode())
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestHandlerRefusesBadConfiguration(t *testing.T) {
	handler := build(t, t.TempDir(), "./cmd/handler")
	cmd := exec.Command(handler)
	cmd.Env = []string{"FUNCTIONS_CUSTOMHANDLER_PORT=0", "TABLES_CONNECTION_STRING=@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/t/)"}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("handler started with an invalid configuration")
	}
	for _, want := range []string{"FUNCTIONS_CUSTOMHANDLER_PORT is \"0\"", "TABLES_CONNECTION_STRING is an unresolved Key Vault reference", "LOCAL_QUEUE_ENDPOINT"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if _, statErr := os.Stat(handler); statErr != nil {
		t.Fatal(statErr)
	}
}
