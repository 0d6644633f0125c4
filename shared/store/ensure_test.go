package store

import (
	"context"
	"errors"
	"testing"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
)

// A request cancelled during the first Ensure at cold start must not poison the process: only
// success is remembered, and the next caller creates the tables with its own context.
func TestEnsureRetriesAfterAFailure(t *testing.T) {
	ctx := context.Background()
	az, err := devenv.StartAzurite(ctx, "", nil) // a fresh account: no table exists yet
	if err != nil {
		t.Fatal(err)
	}
	defer az.Stop()
	s, err := Open(config.Tables{ConnectionString: az.ConnectionString()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Ensure(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ensure with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.ListTenants(ctx); !IsNotFound(err) {
		t.Fatalf("ListTenants before the tables exist: %v, want Table Storage's 404", err)
	}
	if err := s.Ensure(ctx); err != nil {
		t.Fatalf("second Ensure: %v, want the tables created", err)
	}
	for _, table := range ensuredTables() {
		if _, err := s.svc.NewClient(table).NewListEntitiesPager(nil).NextPage(ctx); err != nil {
			t.Errorf("table %s after Ensure: %v", table, err)
		}
	}
	if err := s.Ensure(cancelled); err != nil {
		t.Errorf("Ensure after success: %v, want the remembered success even with a cancelled context", err)
	}
}
