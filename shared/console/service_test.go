package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/devenv"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/insights"
	"github.com/tenantsync/tenantsync/shared/store"
)

// requestLog records the Table Storage requests the store sends (method and path).
type requestLog struct {
	mu   gosync.Mutex
	reqs []string
}

func (l *requestLog) Do(req *policy.Request) (*http.Response, error) {
	l.mu.Lock()
	u := req.Raw().URL
	q, _ := url.QueryUnescape(u.RawQuery)
	l.reqs = append(l.reqs, req.Raw().Method+" "+u.Path+"?"+q)
	l.mu.Unlock()
	return req.Next()
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

// The overview and the insights read every tenant, yet while nothing changed they cost one point
// query per table (its version row), not a partition scan; any write through the store shows on
// the next page (never stale), and then only the rows written lately are read.
func TestPagesReadWholeTablesOnlyAfterAChange(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	az, err := devenv.StartAzurite(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer az.Stop()
	log := &requestLog{}
	svc, err := aztables.NewServiceClientFromConnectionString(az.ConnectionString(),
		&aztables.ClientOptions{ClientOptions: policy.ClientOptions{PerCallPolicies: []policy.Policy{log}}})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(svc)
	if err := st.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1)
		if err := st.UpsertTenant(ctx, domain.Tenant{TenantID: ids[i], DisplayName: fmt.Sprintf("Customer %02d", i),
			Consent: domain.Consent{State: domain.ConsentConsented, Method: "cpv"}, Sync: domain.SyncStatus{State: domain.SyncSucceeded, LastSuccessAt: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutSummary(ctx, ids[i], insights.Summary{ComputedAt: time.Now(), Users: 10, MFAKnown: true, WithoutMFACount: 1 + i%3}); err != nil {
			t.Fatal(err)
		}
	}
	s := &Service{Store: st}
	overview := func() Overview {
		t.Helper()
		o, err := s.Overview(ctx, ParseOverviewQuery(url.Values{}))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	var last []string
	queries := func() (points, scans int) {
		last = log.take()
		for _, r := range last {
			switch {
			case strings.Contains(r, "PartitionKey='meta',RowKey='version'"):
				points++
			default:
				scans++
			}
		}
		return
	}
	delta := func() bool { // the last scan read only rows written lately
		return len(last) > 0 && strings.Contains(last[len(last)-1], "Timestamp ge datetime'")
	}

	log.take()
	if o := overview(); len(o.Rows) != n {
		t.Fatalf("%d rows, want %d", len(o.Rows), n)
	}
	if p, sc := queries(); p != 1 || sc != 1 {
		t.Errorf("first overview: %d version reads, %d other queries; want 1 and 1 (the tenant list)", p, sc)
	}
	for range 3 {
		overview()
		if p, sc := queries(); p != 1 || sc != 0 {
			t.Errorf("unchanged overview: %d version reads, %d other queries; want 1 and 0", p, sc)
		}
	}
	// A change through the store: the next overview shows it, reading the rows once more.
	if err := st.SetExcluded(ctx, ids[7], true); err != nil {
		t.Fatal(err)
	}
	log.take()
	excluded := 0
	for _, r := range overview().Rows {
		if r.T.Excluded {
			excluded++
		}
	}
	if excluded != 1 {
		t.Errorf("%d excluded rows after excluding one", excluded)
	}
	if p, sc := queries(); p != 1 || sc != 1 || !delta() {
		t.Errorf("overview after a change: %d version reads, %d other queries (%q); want 1 and 1 reading only recent rows", p, sc, last)
	}
	// MarkQueued (the fan-out's batch) is a change too.
	if err := st.MarkQueued(ctx, []domain.SyncRequest{{TenantID: ids[3], RunID: "r1", QueuedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	queued := false
	for _, r := range overview().Rows {
		queued = queued || (r.T.TenantID == ids[3] && r.T.Sync.State == domain.SyncQueued)
	}
	if !queued {
		t.Error("the overview does not show the tenant queued by MarkQueued")
	}

	// Insights: both tables' version rows, nothing else, while unchanged; a new summary shows.
	if _, err := s.Insights(ctx, 30); err != nil {
		t.Fatal(err)
	}
	log.take()
	in, err := s.Insights(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if p, sc := queries(); p != 2 || sc != 0 {
		t.Errorf("unchanged insights: %d version reads, %d other queries; want 2 and 0", p, sc)
	}
	before := len(in.MFA.Rows)
	if err := st.PutSummary(ctx, ids[0], insights.Summary{ComputedAt: time.Now(), Users: 10, MFAKnown: true}); err != nil {
		t.Fatal(err)
	}
	if in, err = s.Insights(ctx, 30); err != nil || len(in.MFA.Rows) != before-1 {
		t.Errorf("insights after a summary changed: %d MFA rows (was %d), %v", len(in.MFA.Rows), before, err)
	}
}
