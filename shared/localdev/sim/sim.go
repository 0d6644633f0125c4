// Package sim runs the Microsoft cloud simulator: Entra ID, Graph, Partner Center and Key Vault,
// each on its own TLS listener on loopback (as they are separate hosts in Azure), plus the App
// Service managed identity endpoint and a control API (plain HTTP) for tests, the demo and
// benchmarks. Microsoft's unmodified SDKs work against it; each rule it enforces cites its Microsoft source
// beside the code.
package sim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/entra"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/graph"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/keyvault"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/metrics"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/partnercenter"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/simtls"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// Options configure a simulator.
type Options struct {
	// World is the scenario; nil loads Scenario by name or path.
	World    *scenario.World
	Scenario string
	// Dir receives ca.pem and endpoints.json; empty: a temporary directory.
	Dir string
	// Ports fixes the listener ports (login, graph, partnercenter, vault, identity, control);
	// zero values pick free ports.
	Ports Ports
	// Now is the clock for tokens and data (default time.Now).
	Now func() time.Time
	// Log receives one line per request when set.
	Log io.Writer
	// IdentityHeader fixes the managed identity endpoint's secret header (random when empty), so a
	// fixed-port simulator matches local.settings.sample.json.
	IdentityHeader string
}

// Ports are the listener ports.
type Ports struct {
	Login, Graph, PartnerCenter, Vault, Identity, Control int
}

// Endpoints is what clients need to reach the simulator; also written to endpoints.json.
type Endpoints struct {
	cloud.Endpoints
	// ManagedIdentityEndpoint / ManagedIdentityHeader are IDENTITY_ENDPOINT / IDENTITY_HEADER
	// as App Service sets them.
	ManagedIdentityEndpoint string `json:"identityEndpoint"`
	ManagedIdentityHeader   string `json:"identityHeader"`
	// ManagedIdentityObjectID is the object id of the simulated Function App identity.
	ManagedIdentityObjectID string `json:"managedIdentityObjectId"`
	ControlURL              string `json:"controlUrl"`
	PartnerTenantID         string `json:"partnerTenantId"`
	AppID                   string `json:"appId,omitempty"`
}

// Server is a running simulator.
type Server struct {
	World     *scenario.World
	Directory *directory.Directory
	Issuer    *token.Issuer
	Metrics   *metrics.Recorder
	Entra     *entra.Service
	Graph     *graph.Service
	Partner   *partnercenter.Service
	Vault     *keyvault.Service
	CA        *simtls.CA

	endpoints Endpoints
	graphHold holdGate
	servers   []*http.Server
	wg        sync.WaitGroup
	tmpDir    string
}

// Start builds and starts a simulator.
func Start(o Options) (*Server, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	w := o.World
	if w == nil {
		name := o.Scenario
		if name == "" {
			name = "demo"
		}
		var err error
		if w, err = scenario.Load(name, o.Now()); err != nil {
			return nil, err
		}
	}
	s := &Server{World: w, Metrics: metrics.New()}
	var err error
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "tenantsync-sim-"); err != nil {
			return nil, err
		}
		s.tmpDir = o.Dir
	} else if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	if s.CA, err = simtls.NewCA(); err != nil {
		return nil, err
	}
	caFile := filepath.Join(o.Dir, "ca.pem")
	if err := s.CA.WriteFile(caFile); err != nil {
		return nil, err
	}
	tlsCfg, err := s.CA.ServerConfig()
	if err != nil {
		return nil, err
	}

	listen := func(port int) (net.Listener, error) {
		return net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	}
	var lns [6]net.Listener
	for i, p := range []int{o.Ports.Login, o.Ports.Graph, o.Ports.PartnerCenter, o.Ports.Vault, o.Ports.Identity, o.Ports.Control} {
		if lns[i], err = listen(p); err != nil {
			for _, l := range lns[:i] {
				l.Close()
			}
			return nil, fmt.Errorf("simulator listen on port %d: %w", p, err)
		}
	}
	base := func(l net.Listener, scheme string) string { return scheme + "://" + l.Addr().String() }
	loginURL, graphURL, pcURL, vaultURL := base(lns[0], "https"), base(lns[1], "https"), base(lns[2], "https"), base(lns[3], "https")

	var hdr [16]byte
	_, _ = rand.Read(hdr[:])
	partner := w.Partner()
	s.endpoints = Endpoints{
		Endpoints: cloud.Endpoints{
			AuthorityHost: loginURL + "/", GraphURL: graphURL + "/v1.0", PartnerCenterURL: pcURL,
			KeyVaultURL: vaultURL + "/", CAFile: caFile,
		},
		ManagedIdentityEndpoint: base(lns[4], "http") + "/msi/token",
		ManagedIdentityHeader:   firstNonEmpty(o.IdentityHeader, hex.EncodeToString(hdr[:])),
		ManagedIdentityObjectID: "5f0c0d8e-6b2a-4c59-9d51-3a7e2f1b0c01",
		ControlURL:              base(lns[5], "http"),
		PartnerTenantID:         partner.TenantID,
	}
	if a := w.App(); a != nil {
		s.endpoints.AppID = a.AppID
	}

	if s.Issuer, err = token.New(loginURL, o.Now); err != nil {
		return nil, err
	}
	s.Directory = directory.New(w, o.Now)
	s.Entra = entra.New(entra.Options{Directory: s.Directory, Issuer: s.Issuer, Metrics: s.Metrics,
		IdentityHeader: s.endpoints.ManagedIdentityHeader, ManagedIdentityObjectID: s.endpoints.ManagedIdentityObjectID})
	s.Graph = graph.New(graph.Options{Directory: s.Directory, Issuer: s.Issuer, Metrics: s.Metrics, BaseURL: graphURL})
	s.Partner = partnercenter.New(partnercenter.Options{Directory: s.Directory, Issuer: s.Issuer, Metrics: s.Metrics, BaseURL: pcURL})
	s.Vault = keyvault.New(keyvault.Options{Issuer: s.Issuer, Metrics: s.Metrics, VaultURL: vaultURL + "/", TenantID: partner.TenantID})

	serve := func(l net.Listener, h http.Handler, tc *tls.Config) {
		if o.Log != nil {
			h = logRequests(o.Log, h)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, TLSConfig: tc}
		s.servers = append(s.servers, srv)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if tc != nil {
				_ = srv.ServeTLS(l, "", "")
			} else {
				_ = srv.Serve(l)
			}
		}()
	}
	// Each server mutates its TLS config when it starts: give each its own copy.
	serve(lns[0], s.Entra, tlsCfg.Clone())
	serve(lns[1], s.graphHold.wrap(s.Graph), tlsCfg.Clone())
	serve(lns[2], s.Partner, tlsCfg.Clone())
	serve(lns[3], s.Vault, tlsCfg.Clone())
	serve(lns[4], s.Entra.ManagedIdentity(), nil)
	serve(lns[5], s.control(), nil)

	b, _ := json.MarshalIndent(s.endpoints, "", "  ")
	if err := os.WriteFile(filepath.Join(o.Dir, "endpoints.json"), b, 0o644); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Endpoints returns where the simulator listens and the CA file to trust.
func (s *Server) Endpoints() Endpoints { return s.endpoints }

// Close stops every listener.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
	s.wg.Wait()
	if s.tmpDir != "" {
		_ = os.RemoveAll(s.tmpDir)
	}
}

func logRequests(w io.Writer, h http.Handler) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: rw, status: 200}
		start := time.Now()
		h.ServeHTTP(rec, r)
		mu.Lock()
		fmt.Fprintf(w, "%s %s %s%s -> %d (%dms)\n", time.Now().UTC().Format("15:04:05.000"), r.Method, r.Host, r.URL.RequestURI(), rec.status, time.Since(start).Milliseconds())
		mu.Unlock()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

// Flush keeps streaming answers streaming through the logger.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// control is the simulator's own API (not a Microsoft one): stats, mutations, the outbox.
func (s *Server) control() http.Handler {
	mux := http.NewServeMux()
	js := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /endpoints", func(w http.ResponseWriter, r *http.Request) { js(w, s.endpoints) })
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		js(w, map[string]any{"value": s.Metrics.Rows(), "total": s.Metrics.Total("", "")})
	})
	mux.HandleFunc("POST /stats/reset", func(w http.ResponseWriter, r *http.Request) { s.Metrics.Reset(); w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /step", func(w http.ResponseWriter, r *http.Request) { js(w, s.World.Step()) })
	mux.HandleFunc("GET /outbox", func(w http.ResponseWriter, r *http.Request) {
		mails := s.Graph.Outbox()
		if mails == nil {
			mails = []graph.Mail{}
		}
		js(w, map[string]any{"value": mails})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		js(w, map[string]any{"error": errors.New("no such control endpoint").Error(),
			"endpoints": []string{"GET /endpoints", "GET /stats", "POST /stats/reset", "POST /step", "GET /outbox"}})
	})
	return mux
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
