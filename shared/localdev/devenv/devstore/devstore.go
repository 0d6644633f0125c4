// Package devstore gives tests a Table Storage store on the local Azurite: one package so the
// tests of every package that reads or writes through shared/store open it the same way.
package devstore

import (
	"testing"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Acquire returns a store with its tables created, in an empty account of the test process's
// Azurite (devenv.AcquireAccount), given back when the test ends.
func Acquire(tb testing.TB) *store.Store {
	tb.Helper()
	acct, release, err := devenv.AcquireAccount(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(release)
	st, err := store.Open(config.Tables{ConnectionString: acct.ConnectionString()}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.Ensure(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return st
}
