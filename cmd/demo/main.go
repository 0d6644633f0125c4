// Command demo runs tenantsync end to end on the local stand-ins: the Microsoft cloud simulator
// (demo scenario), Azurite for Table Storage, the local Functions host (in process) and the real
// handler process. Discovery → fan-out → sync workers, then a per-tenant summary. With -serve it
// keeps everything running.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/apiclient"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/funchost"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

func main() {
	serve := flag.Bool("serve", false, "keep the stack running after the demo (Ctrl-C stops it)")
	verbose := flag.Bool("v", false, "print the host's and handler's log lines")
	scenarioName := flag.String("scenario", "demo", "simulator scenario: demo, large, or a scenario file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *serve, *verbose, *scenarioName); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Println("\ninterrupted: everything was stopped cleanly")
			return
		}
		fmt.Fprintln(os.Stderr, "demo: "+err.Error())
		os.Exit(1)
	}
}

type stepper struct{ n int }

func (s *stepper) say(format string, args ...any) {
	s.n++
	fmt.Printf("%2d. %s\n", s.n, fmt.Sprintf(format, args...))
}

// Fixed ports for `make run`, matching local.settings.sample.json, so the stack can also be
// driven by hand; the one-shot demo takes free ports so it never collides.
var servePorts = sim.Ports{Login: 7443, Graph: 7444, PartnerCenter: 7445, Vault: 7446, Identity: 7447, Control: 7448}

func run(ctx context.Context, serve, verbose bool, scenarioName string) error {
	var st stepper
	root, err := devenv.RepoRoot()
	if err != nil {
		return err
	}
	var hostLog io.Writer
	if verbose {
		hostLog = os.Stdout
	}
	start := time.Now()

	simOpts := sim.Options{Scenario: scenarioName, Dir: filepath.Join(root, ".sim")}
	if serve {
		simOpts.Ports = servePorts
		simOpts.IdentityHeader = "local-identity-header" // as in local.settings.sample.json
	}
	cloudSim, err := sim.Start(simOpts)
	if err != nil {
		return err
	}
	defer cloudSim.Close()
	ep := cloudSim.Endpoints()
	if simClient, err = ep.HTTPClient(); err != nil {
		return err
	}
	simClient.CheckRedirect = noRedirect.CheckRedirect
	st.say("Microsoft cloud simulator: %d customer tenants, Graph at %s, CA %s", cloudSim.World.TenantCount(), ep.GraphURL, rel(root, ep.CAFile))

	azDir := ""
	if serve {
		azDir = filepath.Join(root, ".azurite")
	}
	az, err := devenv.StartAzurite(ctx, azDir, nil)
	if err != nil {
		return err
	}
	defer az.Stop()
	st.say("Azurite (Table Storage) on 127.0.0.1:%d", az.Port)

	ls, err := funchost.LoadLocalSettings(filepath.Join(root, "local.settings.json"))
	if err != nil {
		return fmt.Errorf("%w (run `make` to create it from local.settings.sample.json)", err)
	}
	if added, err := funchost.FillMissing(ls, filepath.Join(root, "local.settings.sample.json")); err != nil {
		return err
	} else if len(added) > 0 {
		fmt.Printf("      local.settings.json lacks %s: using local.settings.sample.json's values\n", strings.Join(added, ", "))
	}
	port := 7071
	if ls.Port != 0 {
		port = ls.Port
	}
	hostURL := "http://127.0.0.1:" + strconv.Itoa(port)
	for k, v := range map[string]string{
		config.SettingTablesConnection:   az.ConnectionString(),
		config.SettingLocalQueueEndpoint: hostURL,
		config.SettingAuthorityHost:      ep.AuthorityHost,
		config.SettingGraphBaseURL:       ep.GraphURL,
		config.SettingPartnerCenterURL:   ep.PartnerCenterURL,
		config.SettingCloudCAFile:        ep.CAFile,
		config.SettingPartnerTenantID:    ep.PartnerTenantID,
		config.SettingKeyVaultURL:        ep.KeyVaultURL,
		// What App Service sets for the managed identity; the simulator plays that endpoint.
		"IDENTITY_ENDPOINT": ep.ManagedIdentityEndpoint,
		"IDENTITY_HEADER":   ep.ManagedIdentityHeader,
	} {
		ls.Values[k] = v
	}
	host, err := funchost.Start(funchost.Options{
		Root: root, Settings: ls.Values, Listen: "127.0.0.1:" + strconv.Itoa(port),
		Executable: filepath.Join(root, "bin", "handler"), Key: os.Getenv("FUNCHOST_KEY"), StateDir: filepath.Join(root, ".funchost"),
		DisableTimers: !serve, Log: hostLog,
	})
	if err != nil {
		return err
	}
	defer host.Close()
	api := &apiclient.Client{Base: host.URL(), Key: host.Key()}
	st.say("local Functions host on %s started the handler", host.URL())

	who, err := connectPartner(ctx, api, scenario.DemoServiceAccountUPN)
	if err != nil {
		return fmt.Errorf("partner connect: %w", err)
	}
	st.say("partner account connected through /api/connect as %s (MFA sign-in; refresh token in Key Vault only)", who)

	var rep struct {
		Found, New, Missing, Consented, NotConsented int
		Sources                                      map[string]int
		Warnings                                     []string
	}
	if err := api.Operate(ctx, "/api/discovery", "", 120*time.Second, &rep); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	st.say("discovery (POST /api/discovery): %d tenants (GDAP %d, Partner Center %d); consent through Partner Center where GDAP allows", rep.Found, rep.Sources["gdap"], rep.Sources["csp"])
	for _, w := range rep.Warnings {
		fmt.Println("      warning: " + w)
	}

	// A tenant whose GDAP relationship lacks the roles for automatic consent: email its admin a link.
	var found struct {
		Value []domain.Tenant `json:"value"`
	}
	if err := api.Send(ctx, http.MethodGet, "/api/tenants", "", &found); err != nil {
		return err
	}
	if t, ok := needsConsentLink(found.Value); ok {
		customerAdmin := "it-admin@" + t.DefaultDomain
		if err := api.Send(ctx, http.MethodPost, "/api/tenants/"+t.TenantID+"/consent-link", `{"email":"`+customerAdmin+`"}`, nil); err != nil {
			return fmt.Errorf("consent link: %w", err)
		}
		link, err := linkFromOutbox(cloudSim, customerAdmin)
		if err != nil {
			return err
		}
		st.say("admin-consent link for %s emailed to %s (from the partner's mailbox, via Graph sendMail)", t.DisplayName, customerAdmin)
		page, err := followConsentLink(ctx, api, link)
		if err != nil {
			return fmt.Errorf("following the consent link: %w", err)
		}
		st.say("the customer's admin opened the link and approved; tenantsync's callback said: %q", page)
	} else {
		st.say("no tenant needs an emailed admin-consent link in scenario %q", cloudSim.World.File().Name)
	}

	if err := api.Send(ctx, http.MethodPost, "/admin/functions/TenantFanout?wait=true", "", nil); err != nil {
		return fmt.Errorf("fan-out: %w", err)
	}
	q := host.Queue("tenant-sync")
	queued := q.Stats().Sent
	st.say("timer TenantFanout fired: %d sync messages on queue tenant-sync", queued)

	if err := waitWithProgress(ctx, host, queued); err != nil {
		return err
	}
	stats := q.Stats()
	var list struct {
		Value []domain.Tenant `json:"value"`
	}
	if err := api.Send(ctx, http.MethodGet, "/api/tenants", "", &list); err != nil {
		return err
	}
	printTable(list.Value)
	st.say("workers done in %s: %d messages completed, %d dead-lettered (after %d deliveries of %d messages); tenants by sync state: %s",
		time.Since(start).Round(100*time.Millisecond), stats.Completed, stats.DeadLettered, stats.Delivered, queued, syncStates(list.Value))
	if err := writeSummary(root, list.Value); err != nil {
		return err
	}
	g := cloudSim.Metrics.Total("graph", "")
	st.say("wrote .demo/summary.json (the GET /api/tenants answer); the simulator served %d Graph requests (%d throttled)", g.Requests, g.Throttled)

	consoleURL := strings.TrimRight(ls.Values[config.SettingPublicBaseURL], "/") + "/"
	if !serve {
		st.say("the console would be at %s: `make run` serves it (sign in as %s)", consoleURL, scenario.DemoAdminUPN)
		st.say("stopping the handler, the host, Azurite and the simulator")
		return nil
	}
	fmt.Printf("\nConsole: %s\n  local sign-in (the local host plays App Service Authentication against the simulator's Entra ID):\n"+
		"  choose %s (in the admin group ADMIN_GROUP_ID); %s is signed in but refused (not in the group).\n",
		consoleURL, scenario.DemoAdminUPN, scenario.DemoNoMFAUPN)
	fmt.Printf("\nServing on %s (key %s). Try:\n  curl -H 'x-functions-key: %s' %s/api/tenants\n  curl -X POST -H 'x-functions-key: %s' %s/api/tenants/%s/sync\nSimulator control API: %s/stats. Ctrl-C stops everything.\n",
		host.URL(), host.Key(), host.Key(), host.URL(), host.Key(), host.URL(), list.Value[0].TenantID, ep.ControlURL)
	<-ctx.Done()
	fmt.Println("\nstopping")
	return nil
}

// needsConsentLink picks the tenant (by name) that discovery could not consent automatically
// although its GDAP relationship is active: its admin gets an emailed admin-consent link.
func needsConsentLink(tenants []domain.Tenant) (domain.Tenant, bool) {
	sort.Slice(tenants, func(i, j int) bool { return tenants[i].DisplayName < tenants[j].DisplayName })
	for _, t := range tenants {
		if t.Consent.State != domain.ConsentConsented && t.Relationship.Status == "active" && t.DefaultDomain != "" {
			return t, true
		}
	}
	return domain.Tenant{}, false
}

// syncStates counts tenants by sync state, e.g. "succeeded 30" or "failed 2, succeeded 28".
func syncStates(tenants []domain.Tenant) string {
	n := map[string]int{}
	for _, t := range tenants {
		n[t.Sync.State]++
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, n[k])
	}
	return strings.Join(parts, ", ")
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

// waitWithProgress waits for the queue to drain, printing progress every second.
func waitWithProgress(ctx context.Context, host *funchost.Host, total int64) error {
	q := host.Queue("tenant-sync")
	done := make(chan error, 1)
	wait, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	go func() { done <- q.WaitIdle(wait) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("waiting for the sync workers: %w", err)
			}
			return nil
		case <-tick.C:
			s := q.Stats()
			fmt.Printf("      … %d/%d tenants synced, %d in progress, %d waiting\n", s.Completed, total, s.Locked, s.Active+s.Scheduled)
		}
	}
}

func printTable(tenants []domain.Tenant) {
	sort.Slice(tenants, func(i, j int) bool { return tenants[i].DisplayName < tenants[j].DisplayName })
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\n  TENANT\tCONSENT\tUSERS\tLICENCES\tGROUPS\tDEVICES\tMAILBOXES\tMFA (SOURCE)\tSTATE\tPROBLEM AND FIX")
	for _, t := range tenants {
		consent := t.Consent.State
		if t.Consent.Method != "" {
			consent += " (" + t.Consent.Method + ")"
		}
		mfa := "-"
		if t.MFARegisteredPercent != nil {
			mfa = fmt.Sprintf("%.0f%% (%s)", *t.MFARegisteredPercent, t.MFASource)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", trunc(t.DisplayName, 22), consent, t.Counts.Users, t.Counts.Skus,
			t.Counts.Groups, t.Counts.Devices, t.Counts.Mailboxes, mfa, t.Sync.State, problem(t))
	}
	_ = tw.Flush()
	fmt.Println()
}

// problem is the most important thing to fix in a tenant, with its remediation.
func problem(t domain.Tenant) string {
	if e := t.Sync.Error; e != nil {
		return e.Code + ": " + e.Remediation
	}
	if t.Consent.Error != "" {
		return t.Consent.Error
	}
	for _, name := range []string{"devices", "mailboxes", "userSecurity"} {
		if c, ok := t.Collections[name]; ok && !c.Available && c.Problem != nil {
			return c.Problem.Code + ": " + c.Problem.Remediation
		}
	}
	for _, f := range t.Flags {
		return f.Code + ": " + f.Remediation
	}
	return ""
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func writeSummary(root string, tenants []domain.Tenant) error {
	dir := filepath.Join(root, ".demo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(map[string]any{"value": tenants}, "", "  ")
	return os.WriteFile(filepath.Join(dir, "summary.json"), b, 0o644)
}

// noRedirect is a browser that shows each redirect instead of following it, so the demo can walk
// the OAuth round trips step by step.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// connectPartner signs the partner's service account in as an admin would in a browser: /api/connect
// redirects to Entra; the simulator's non-interactive mode (sim_user) stands in for the sign-in page
// and redirects back to the callback.
func connectPartner(ctx context.Context, api *apiclient.Client, upn string) (string, error) {
	resp, err := get(ctx, api.Base+"/api/connect?code="+url.QueryEscape(api.Key), nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("/api/connect answered %s", resp.Status)
	}
	signIn := resp.Header.Get("Location") + "&sim_user=" + url.QueryEscape(upn)
	// The sign-in page and the callback are both plain HTTPS/HTTP hops a browser would follow.
	back, err := get(ctx, signIn, simClient)
	if err != nil {
		return "", err
	}
	cb := back.Header.Get("Location")
	if back.StatusCode != http.StatusFound || !strings.Contains(cb, "/api/connect/callback") {
		return "", fmt.Errorf("the sign-in did not redirect back to the callback (%s)", back.Status)
	}
	res, err := get(ctx, strings.Replace(cb, "http://localhost:", "http://127.0.0.1:", 1), nil)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("callback answered %s: %s", res.Status, res.body)
	}
	return upn, nil
}

// followConsentLink is the customer's admin opening the emailed link and approving.
func followConsentLink(ctx context.Context, api *apiclient.Client, link string) (string, error) {
	back, err := get(ctx, link+"&sim_action=approve", simClient)
	if err != nil {
		return "", err
	}
	cb := back.Header.Get("Location")
	if back.StatusCode != http.StatusFound || !strings.Contains(cb, "/api/consent/callback") {
		return "", fmt.Errorf("the consent page did not redirect back to the callback (%s)", back.Status)
	}
	res, err := get(ctx, strings.Replace(cb, "http://localhost:", "http://127.0.0.1:", 1), nil)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("callback answered %s: %s", res.Status, res.body)
	}
	return pageText(res.body), nil
}

// simClient trusts the simulator's CA (set once the simulator runs) and follows no redirects.
var simClient *http.Client

type page struct {
	*http.Response
	body string
}

func get(ctx context.Context, u string, c *http.Client) (*page, error) {
	if c == nil {
		c = noRedirect
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return &page{resp, string(b)}, nil
}

var linkRe = regexp.MustCompile(`https://[^\s"'<>]+/v2\.0/adminconsent\?[^\s"'<>]+`)

// linkFromOutbox finds the consent link in the mail the simulator's Graph recorded.
func linkFromOutbox(s *sim.Server, to string) (string, error) {
	mails := s.Graph.Outbox()
	for i := len(mails) - 1; i >= 0; i-- {
		m := mails[i]
		if !slices.Contains(m.To, to) {
			continue
		}
		if l := linkRe.FindString(m.HTML + " " + m.Text); l != "" {
			return html.UnescapeString(l), nil
		}
	}
	return "", fmt.Errorf("no consent link mailed to %s in the simulator's outbox", to)
}

var tagRe = regexp.MustCompile(`<[^>]+>`)

// pageText is a page's visible text, squeezed to one line.
func pageText(h string) string {
	if i := strings.Index(h, "<body"); i >= 0 {
		h = h[i:]
	}
	return strings.Join(strings.Fields(html.UnescapeString(tagRe.ReplaceAllString(h, " "))), " ")
}
