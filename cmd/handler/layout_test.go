package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The deployed handler links product packages only: the simulator, the local host, Azurite's
// starter, the test harness and the end-to-end suites live under shared/localdev and must never
// reach the binary that runs in Azure.
func TestHandlerDoesNotLinkLocalStandIns(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	var product int
	for _, pkg := range strings.Fields(string(out)) {
		if !strings.HasPrefix(pkg, "github.com/tenantsync/tenantsync/") {
			continue
		}
		product++
		if strings.Contains(pkg, "/shared/localdev") || strings.Contains(pkg, "/cmd/") && pkg != "github.com/tenantsync/tenantsync/cmd/handler" {
			t.Errorf("the handler links %s, a local stand-in", pkg)
		}
	}
	if product < 10 { // the listing itself must have worked
		t.Fatalf("go list found only %d tenantsync packages:\n%s", product, out)
	}
}
