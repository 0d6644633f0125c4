package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/apiclient"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/localdev/funchost"
	"github.com/tenantsync/tenantsync/shared/localdev/funchost/sbqueue"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// stack is the local stack the bench measures: the simulator, Azurite behind a counting proxy,
// the local Functions host and the real handler process (bin/handler), as `make demo` runs it.
type stack struct {
	root     string
	sim      *sim.Server
	az       *devenv.Azurite
	counter  *tableCounter
	proxySrv *http.Server
	host     *funchost.Host
	settings map[string]string
	api      *apiclient.Client
}

// startStack starts everything on free ports (never the fixed ones `make run` uses).
func startStack(ctx context.Context, root string, world *scenario.World, dir string, hostLog io.Writer) (*stack, error) {
	s := &stack{root: root}
	var err error
	if s.sim, err = sim.Start(sim.Options{World: world, Dir: filepath.Join(dir, "sim")}); err != nil {
		return nil, err
	}
	if s.az, err = devenv.StartAzurite(ctx, "", nil); err != nil {
		s.close()
		return nil, err
	}
	var proxyURL string
	if s.counter, s.proxySrv, proxyURL, err = countingProxy(s.az); err != nil {
		s.close()
		return nil, err
	}
	ls, err := funchost.LoadLocalSettings(filepath.Join(root, "local.settings.sample.json"))
	if err != nil {
		s.close()
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		s.close()
		return nil, err
	}
	hostURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	ep := s.sim.Endpoints()
	for k, v := range map[string]string{
		config.SettingTablesConnection:   connectionStringFor(proxyURL),
		config.SettingLocalQueueEndpoint: hostURL,
		config.SettingAuthorityHost:      ep.AuthorityHost,
		config.SettingGraphBaseURL:       ep.GraphURL,
		config.SettingPartnerCenterURL:   ep.PartnerCenterURL,
		config.SettingCloudCAFile:        ep.CAFile,
		config.SettingPartnerTenantID:    ep.PartnerTenantID,
		config.SettingKeyVaultURL:        ep.KeyVaultURL,
		"IDENTITY_ENDPOINT":              ep.ManagedIdentityEndpoint,
		"IDENTITY_HEADER":                ep.ManagedIdentityHeader,
		"LOG_LEVEL":                      "warn", // a line per sync step is not what is measured
	} {
		ls.Values[k] = v
	}
	s.settings = ls.Values
	s.host, err = funchost.Start(funchost.Options{
		Root: root, Settings: ls.Values, Listen: fmt.Sprintf("127.0.0.1:%d", port),
		Executable: filepath.Join(root, "bin", "handler"), StateDir: filepath.Join(dir, "funchost"),
		DisableTimers: true, Log: hostLog,
		// Each measured round is a new fan-out slot in production (six hours apart); the bench
		// runs them minutes apart, so the slot-named message ids must not be dropped as duplicates.
		Queue: sbqueue.Options{DisableDuplicateDetection: true},
	})
	if err != nil {
		s.close()
		return nil, err
	}
	s.api = &apiclient.Client{Base: s.host.URL(), Key: s.host.Key()}
	return s, nil
}

func (s *stack) close() {
	if s.host != nil {
		s.host.Close()
	}
	if s.proxySrv != nil {
		_ = s.proxySrv.Close()
	}
	if s.az != nil {
		s.az.Stop()
	}
	if s.sim != nil {
		s.sim.Close()
	}
}

// countingProxy puts a tableCounter in front of Azurite and returns its base URL.
func countingProxy(az *devenv.Azurite) (*tableCounter, *http.Server, string, error) {
	c, err := newTableCounter(fmt.Sprintf("http://127.0.0.1:%d", az.Port))
	if err != nil {
		return nil, nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, "", err
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return c, srv, "http://" + ln.Addr().String(), nil
}

// connectionStringFor is Azurite's well-known account at another table endpoint (the proxy).
func connectionStringFor(base string) string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;TableEndpoint=%s/devstoreaccount1;", devenv.AzuriteAccountKey, base)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// connectAndDiscover connects the partner's service account (the simulator's non-interactive
// sign-in stands in for the browser) and runs discovery as an operation, as `make demo` does.
func (s *stack) connectAndDiscover(ctx context.Context) error {
	resp, err := get(ctx, s.api.Base+"/api/connect?code="+url.QueryEscape(s.api.Key), noRedirect)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusFound {
		return fmt.Errorf("/api/connect answered %s", resp.Status)
	}
	simClient, err := s.sim.Endpoints().HTTPClient()
	if err != nil {
		return err
	}
	simClient.CheckRedirect = noRedirect.CheckRedirect
	back, err := get(ctx, resp.Header.Get("Location")+"&sim_user="+url.QueryEscape(scenario.DemoServiceAccountUPN), simClient)
	if err != nil {
		return err
	}
	// The app's registered redirect URI is PUBLIC_BASE_URL's (the sample's fixed port); this
	// host listens on a free port, so the browser's last hop is pointed at it.
	cb, err := url.Parse(back.Header.Get("Location"))
	if err != nil || back.StatusCode != http.StatusFound || cb.Path != "/api/connect/callback" {
		return fmt.Errorf("the sign-in did not redirect back to the callback (%s)", back.Status)
	}
	cb.Scheme, cb.Host = "http", strings.TrimPrefix(s.api.Base, "http://")
	if res, err := get(ctx, cb.String(), noRedirect); err != nil {
		return err
	} else if res.StatusCode != http.StatusOK {
		return fmt.Errorf("connect callback answered %s", res.Status)
	}
	return s.api.Operate(ctx, "/api/discovery", "", 600*time.Second, nil)
}

// tenants is the read API's tenant list.
func (s *stack) tenants(ctx context.Context) ([]domain.Tenant, error) {
	var list struct {
		Value []domain.Tenant `json:"value"`
	}
	err := s.api.Send(ctx, http.MethodGet, "/api/tenants", "", &list)
	return list.Value, err
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get fetches u with hc and discards the body (the connect flow's redirects).
func get(ctx context.Context, u string, hc *http.Client) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, nil
}

// writeJSON writes v indented to path, creating its directory.
func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
