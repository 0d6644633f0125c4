// Command demo runs tenantsync end to end on the local stand-ins: Azurite for Table Storage, the
// local Functions host (in process) and the real handler process. With -serve it keeps serving.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/devenv"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/funchost"
	"github.com/tenantsync/tenantsync/shared/funchost/sbqueue"
	"github.com/tenantsync/tenantsync/shared/store"
)

func main() {
	serve := flag.Bool("serve", false, "keep the stack running after the demo (Ctrl-C stops it)")
	verbose := flag.Bool("v", false, "print the host's and handler's log lines")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *serve, *verbose); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Println("\ninterrupted: everything was stopped cleanly")
			return
		}
		fmt.Fprintln(os.Stderr, "demo: "+err.Error())
		os.Exit(1)
	}
}

// step prints a numbered progress line.
type stepper struct{ n int }

func (s *stepper) say(format string, args ...any) {
	s.n++
	fmt.Printf("%2d. %s\n", s.n, fmt.Sprintf(format, args...))
}

func run(ctx context.Context, serve, verbose bool) error {
	var st stepper
	root, err := devenv.RepoRoot()
	if err != nil {
		return err
	}
	var hostLog io.Writer
	if verbose || serve {
		hostLog = os.Stdout
	}

	azDir := ""
	if serve {
		azDir = filepath.Join(root, ".azurite") // keep data across `make run` sessions
	}
	az, err := devenv.StartAzurite(ctx, azDir, nil)
	if err != nil {
		return err
	}
	defer az.Stop()
	st.say("Azurite (Table Storage) started on 127.0.0.1:%d", az.Port)

	ls, err := funchost.LoadLocalSettings(filepath.Join(root, "local.settings.json"))
	if err != nil {
		return fmt.Errorf("%w (run `make` to create it from local.settings.sample.json)", err)
	}
	port := 7071
	if ls.Port != 0 {
		port = ls.Port
	}
	hostURL := "http://127.0.0.1:" + strconv.Itoa(port)
	ls.Values[config.SettingTablesConnection] = az.ConnectionString()
	ls.Values[config.SettingLocalQueueEndpoint] = hostURL
	key := os.Getenv("FUNCHOST_KEY")
	host, err := funchost.Start(funchost.Options{
		Root: root, Settings: ls.Values, Listen: "127.0.0.1:" + strconv.Itoa(port),
		Executable: filepath.Join(root, "bin", "handler"), Key: key, StateDir: filepath.Join(root, ".funchost"),
		DisableTimers: !serve, Log: hostLog,
	})
	if err != nil {
		return err
	}
	defer host.Close()
	st.say("local Functions host on %s started the handler (custom handler, forwarded HTTP)", host.URL())

	svc, err := store.Open(config.Tables{ConnectionString: az.ConnectionString()}, nil)
	if err != nil {
		return err
	}
	if err := svc.Ensure(ctx); err != nil {
		return err
	}
	seed := []domain.Tenant{
		{TenantID: "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01", DisplayName: "Contoso Dental", DefaultDomain: "contosodental.onmicrosoft.com", ConsentState: domain.ConsentConsented, SyncState: domain.SyncNever},
		{TenantID: "1c7a7d4f-7b2f-4d54-8b64-7e2b4a1f2b02", DisplayName: "Fabrikam Legal", DefaultDomain: "fabrikamlegal.onmicrosoft.com", ConsentState: domain.ConsentConsented, SyncState: domain.SyncNever},
		{TenantID: "2d8b8e50-8c30-4e65-9c75-8f3c5b203c03", DisplayName: "Northwind Traders", DefaultDomain: "northwind.onmicrosoft.com", ConsentState: domain.ConsentConsented, SyncState: domain.SyncNever, Excluded: true},
		{TenantID: "3e9c9f61-9d41-4f76-8d86-904d6c314d04", DisplayName: "Tailspin Toys", DefaultDomain: "tailspintoys.onmicrosoft.com", ConsentState: domain.ConsentPending, SyncState: domain.SyncNever},
	}
	for _, t := range seed {
		if err := svc.UpsertTenant(ctx, t); err != nil {
			return err
		}
	}
	st.say("seeded %d tenants into the Tenants table (2 consented, 1 excluded, 1 awaiting consent)", len(seed))

	if err := fire(ctx, host.URL(), host.Key(), "TenantFanout"); err != nil {
		return fmt.Errorf("fan-out: %w", err)
	}
	q := host.Queue("tenant-sync")
	st.say("timer TenantFanout fired through POST /admin/functions/TenantFanout: %d messages on queue tenant-sync", q.Stats().Sent)

	poisonBody := `{"tenantId":"not-a-tenant","runId":""}`
	if _, err := q.Send(sbqueueMessage("poison-demo", poisonBody)); err != nil {
		return err
	}
	st.say("also queued a malformed message, to show redelivery and dead-lettering")

	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := q.WaitIdle(wait); err != nil {
		return fmt.Errorf("waiting for the queue to drain: %w", err)
	}
	stats := q.Stats()
	st.say("queue drained: %d completed, %d dead-lettered", stats.Completed, stats.DeadLettered)
	for _, dl := range q.DeadLetters() {
		fmt.Printf("      dead letter %s: %s (%s) after %d deliveries\n", dl.MessageID, dl.DeadLetterReason, dl.DeadLetterErrorDescription, dl.DeliveryCount)
	}

	tenants, err := getTenants(ctx, host.URL(), host.Key())
	if err != nil {
		return err
	}
	st.say("GET /api/tenants through the host (function key) returned %d tenants:", len(tenants))
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "      TENANT\tCONSENT\tEXCLUDED\tSYNC\tLAST RUN\tRUNS")
	for _, t := range tenants {
		runs, err := svc.ListRuns(ctx, t.TenantID)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "      %s\t%s\t%v\t%s\t%s\t%d\n", t.DisplayName, t.ConsentState, t.Excluded, t.SyncState, dash(t.LastRunID), len(runs))
	}
	_ = tw.Flush()
	if err := writeSummary(root, tenants); err != nil {
		return err
	}
	st.say("wrote .demo/summary.json; invocations: %s", invocationSummary(host.Invocations()))

	if !serve {
		st.say("stopping the handler, the host and Azurite")
		return nil
	}
	fmt.Printf("\nServing on %s (key %s). Try:\n  curl -H 'x-functions-key: %s' %s/api/tenants\n  curl -X POST -H 'x-functions-key: %s' %s/admin/functions/TenantFanout\nCtrl-C stops everything.\n",
		host.URL(), host.Key(), host.Key(), host.URL(), host.Key(), host.URL())
	<-ctx.Done()
	fmt.Println("\nstopping")
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fire runs a timer function now through the host's admin API and waits for it (?wait=true).
func fire(ctx context.Context, base, key, name string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/functions/"+name+"?wait=true", strings.NewReader(`{"input":""}`))
	req.Header.Set("x-functions-key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("POST /admin/functions/%s: %s: %s", name, resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

func getTenants(ctx context.Context, base, key string) ([]domain.Tenant, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/tenants", nil)
	req.Header.Set("x-functions-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/tenants: %s", resp.Status)
	}
	var out struct {
		Value []domain.Tenant `json:"value"`
	}
	return out.Value, json.NewDecoder(resp.Body).Decode(&out)
}

func writeSummary(root string, tenants []domain.Tenant) error {
	dir := filepath.Join(root, ".demo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(map[string]any{"value": tenants}, "", "  ")
	return os.WriteFile(filepath.Join(dir, "summary.json"), b, 0o644)
}

func invocationSummary(invs []funchost.Invocation) string {
	counts := map[string][2]int{}
	var order []string
	for _, inv := range invs {
		c, seen := counts[inv.Function]
		if !seen {
			order = append(order, inv.Function)
		}
		if inv.Succeeded {
			c[0]++
		} else {
			c[1]++
		}
		counts[inv.Function] = c
	}
	var parts []string
	for _, f := range order {
		parts = append(parts, fmt.Sprintf("%s %d ok/%d failed", f, counts[f][0], counts[f][1]))
	}
	return strings.Join(parts, ", ")
}

func sbqueueMessage(id, body string) sbqueue.Message {
	return sbqueue.Message{MessageID: id, Body: []byte(body), ContentType: "application/json"}
}
