package syncer_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/syncer"
	"github.com/tenantsync/tenantsync/shared/transport"
)

// One transport serves every tenant: syncing many tenants one after another opens connections for
// the first and reuses them for the rest (each sync and each tenant's cached credential used to
// clone a transport of its own, so connections grew with the number of tenants synced).
// The real msgraph-sdk-go and azidentity against the simulator over TLS, the store on Azurite.
func TestOneTransportServesManyTenants(t *testing.T) {
	st := testStore(t)
	const n = 16
	faults := map[string]*scenario.Faults{}
	var ids []string
	for range n {
		id := tenantID()
		ids = append(ids, id)
		faults[id] = &scenario.Faults{}
	}
	srv := world(t, faults)
	e := engine(t, srv, st, nil)
	tr, err := transport.For(srv.Endpoints().CAFile)
	if err != nil {
		t.Fatal(err)
	}
	before := tr.Dials()
	afterFirst := before
	for i, id := range ids {
		runID := "20261207T0100Z-scheduled"
		seed(t, st, id, runID, nil)
		if _, err := e.Handle(context.Background(), body(id, runID), syncer.Delivery{MessageID: id + ":1", DeliveryCount: 1}); err != nil {
			t.Fatal(err)
		}
		if run := onlyRun(t, st, id); run.State != domain.SyncSucceeded && run.State != domain.SyncPartial {
			t.Fatalf("tenant %s: run %+v", id, run)
		}
		if i == 0 {
			afterFirst = tr.Dials()
		}
	}
	first, total := afterFirst-before, tr.Dials()-before
	for name, u := range map[string]string{"Graph": srv.Endpoints().GraphURL, "Entra": srv.Endpoints().AuthorityHost} {
		if tr.DialsTo(hostPort(t, u)) == 0 {
			t.Fatalf("no connection to %s (%s) through the shared transport: it is not using it", name, u)
		}
	}
	// Every sync's Graph reads (deltas, devices, sign-ins, registrations, the report, the $batch:
	// at least 5) went through it, not only the report download.
	if sent := tr.RequestsTo(hostPort(t, srv.Endpoints().GraphURL)); sent < 5*n {
		t.Fatalf("%d Graph requests through the shared transport for %d tenant syncs: the Graph client has a transport of its own", sent, n)
	}
	// The later syncs may need a few more connections than the first happened to (collections read
	// concurrently), never one set per tenant.
	t.Logf("%d connections for %d tenant syncs (%d for the first)", total, n, first)
	if total >= n {
		t.Fatalf("%d connections for %d tenant syncs (%d for the first): connections grow with tenants", total, n, first)
	}
}

func hostPort(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}
