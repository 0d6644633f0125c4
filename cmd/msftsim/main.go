// Command msftsim runs the Microsoft cloud simulator (Entra ID, Graph, Partner Center, Key Vault)
// on loopback over TLS, prints its endpoints and CA file, and writes them as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim"
)

func main() {
	scenario := flag.String("scenario", "demo", "built-in scenario (demo, large) or a scenario JSON file")
	dir := flag.String("dir", ".sim", "directory for ca.pem and endpoints.json")
	verbose := flag.Bool("v", false, "log every request")
	var p sim.Ports
	flag.IntVar(&p.Login, "login-port", 0, "Entra ID port (0: any free port)")
	flag.IntVar(&p.Graph, "graph-port", 0, "Graph port")
	flag.IntVar(&p.PartnerCenter, "partnercenter-port", 0, "Partner Center port")
	flag.IntVar(&p.Vault, "vault-port", 0, "Key Vault port")
	flag.IntVar(&p.Identity, "identity-port", 0, "managed identity endpoint port (plain HTTP)")
	flag.IntVar(&p.Control, "control-port", 0, "control API port (plain HTTP)")
	flag.Parse()

	var log io.Writer
	if *verbose {
		log = os.Stdout
	}
	start := time.Now()
	s, err := sim.Start(sim.Options{Scenario: *scenario, Dir: *dir, Ports: p, Log: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "msftsim: "+err.Error())
		os.Exit(1)
	}
	ep := s.Endpoints()
	fmt.Printf("Microsoft cloud simulator: scenario %q, %d customer tenants (started in %s)\n", *scenario, s.World.TenantCount(), time.Since(start).Round(time.Millisecond))
	fmt.Printf("  Entra ID (authority host) %s\n", ep.AuthorityHost)
	fmt.Printf("  Microsoft Graph           %s\n", ep.GraphURL)
	fmt.Printf("  Partner Center            %s\n", ep.PartnerCenterURL)
	fmt.Printf("  Key Vault                 %s\n", ep.KeyVaultURL)
	fmt.Printf("  Managed identity          %s (X-IDENTITY-HEADER %s)\n", ep.ManagedIdentityEndpoint, ep.ManagedIdentityHeader)
	fmt.Printf("  Control API               %s (/stats, /step, /outbox, /endpoints)\n", ep.ControlURL)
	fmt.Printf("  CA certificate            %s  (trust it explicitly: CLOUD_CA_FILE)\n", ep.CAFile)
	fmt.Printf("  Partner tenant            %s, app %s\n", ep.PartnerTenantID, ep.AppID)
	b, _ := json.Marshal(ep)
	fmt.Printf("  endpoints.json            %s/endpoints.json (%d bytes)\nCtrl-C stops it.\n", *dir, len(b))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	s.Close()
}
