package sim

import (
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// TB is what StartTest needs of a *testing.T (the package does not import testing).
type TB interface {
	Helper()
	TempDir() string
	Cleanup(func())
	Fatal(args ...any)
}

// StartTest starts the simulator on the world of scenario file f as of now for test t, its files
// in t's temporary directory, and stops it when the test ends.
func StartTest(t TB, f scenario.File, now time.Time) *Server {
	t.Helper()
	w, err := scenario.New(f, now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{World: w, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
