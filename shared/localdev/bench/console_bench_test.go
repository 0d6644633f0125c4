package bench

// The console's page server time with BENCH_CONSOLE_TENANTS tenants (default 1,000) of
// BENCH_CONSOLE_USERS users (default 200) in Table Storage (Azurite): each page is served by the
// handler's own mux, signed in as App Service Authentication would forward it. Budget: 200 ms.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/insights"
	"github.com/tenantsync/tenantsync/shared/store"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

const benchAdminGroup = "0c7a1f5e-3b2d-4c6e-8f9a-7d1e2c3b4a50"

// seedConsole writes what syncs would have written: tenant rows with counts and state, users
// with their MFA and sign-in rows, licence subscriptions and insights summaries.
func seedConsole(b *testing.B, st *store.Store, tenants, users int) []string {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	ids := make([]string, tenants)
	jobs := make(chan int)
	errs := make(chan error, tenants)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				errs <- seedTenant(ctx, st, ids[i], i, users, now)
			}
		}()
	}
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1)
	}
	for i := range ids {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

func seedTenant(ctx context.Context, st *store.Store, id string, i, users int, now time.Time) error {
	pct := float64(50 + i%50)
	t := domain.Tenant{TenantID: id, DisplayName: fmt.Sprintf("Customer %04d Ltd", i), DefaultDomain: fmt.Sprintf("customer%04d.onmicrosoft.com", i),
		Sources: []string{"gdap", "csp"}, Consent: domain.Consent{State: domain.ConsentConsented, Method: "cpv", UpdatedAt: now},
		Relationship: domain.Relationship{Status: "active", EndDateTime: now.AddDate(0, 0, 10+i%700), AutoExtend: i%5 != 0, Roles: []string{"f2ef992c-3afb-46b9-b7cf-a126ee74c451"}},
		Sync:         domain.SyncStatus{State: domain.SyncSucceeded, LastSuccessAt: now.Add(-time.Duration(i%72) * time.Hour)}}
	if i%17 == 0 {
		t.Consent = domain.Consent{State: domain.ConsentNone}
		t.Sync = domain.SyncStatus{State: domain.SyncNever}
	}
	if err := st.UpsertTenant(ctx, t); err != nil {
		return err
	}
	uw, sw, lw := st.Collection(store.TableUsers, id), st.Collection(store.TableUserSecurity, id), st.Collection(store.TableLicenses, id)
	for _, w := range []*store.CollectionWriter{uw, sw, lw} {
		if err := w.Load(ctx); err != nil {
			return err
		}
	}
	sum := insights.Summary{ComputedAt: now, Users: users, MFAKnown: true, SignInKnown: true, Inactive: map[int]int{}}
	for u := 0; u < users; u++ {
		uid := fmt.Sprintf("%08x-%04x-4000-8000-%012x", i+1, u, u)
		reg := u%3 != 0
		last := now.Add(-time.Duration(u%200) * 24 * time.Hour)
		user := domain.User{ID: uid, UserPrincipalName: fmt.Sprintf("user%03d@customer%04d.onmicrosoft.com", u, i), DisplayName: fmt.Sprintf("Zoë Sørensen %03d", u),
			AccountEnabled: true, Licenses: []string{"O365_BUSINESS_PREMIUM"}, Department: "Sales", JobTitle: "Consultant"}
		if err := uw.Put(ctx, uid, user); err != nil {
			return err
		}
		if err := sw.Put(ctx, uid, domain.UserSecurity{ID: uid, MFARegistered: &reg, MFAMethods: []string{"microsoftAuthenticatorPush"}, LastSignIn: last}); err != nil {
			return err
		}
		if !reg {
			sum.WithoutMFACount++
		}
	}
	for _, sku := range []string{"O365_BUSINESS_PREMIUM", "EXCHANGESTANDARD", "POWER_BI_STANDARD"} {
		if err := lw.Put(ctx, sku, domain.License{SkuID: sku, SkuPartNumber: sku, ProductName: sku, Enabled: users + 5, Consumed: users, Available: 5}); err != nil {
			return err
		}
		sum.Licences = append(sum.Licences, insights.Licence{SkuPartNumber: sku, ProductName: sku, Purchased: users + 5, Assigned: users})
	}
	for _, w := range []*store.CollectionWriter{uw, sw, lw} {
		if _, err := w.Finish(ctx, false); err != nil {
			return err
		}
	}
	if err := st.SetTenantSyncResult(ctx, id, store.TenantSyncResult{State: t.Sync.State, SucceededAt: t.Sync.LastSuccessAt,
		Counts: map[string]int{"users": users, "licensedUsers": users, "groups": 10, "devices": users / 2, "mailboxes": users, "licenses": 3}, MFARegisteredPercent: &pct}); err != nil {
		return err
	}
	return st.PutSummary(ctx, id, sum)
}

func BenchmarkConsolePages(b *testing.B) {
	tenants, users := envInt("BENCH_CONSOLE_TENANTS", 1000), envInt("BENCH_CONSOLE_USERS", 200)
	st := azurite(b)
	start := time.Now()
	ids := seedConsole(b, st, tenants, users)
	b.Logf("seeded %d tenants x %d users (plus MFA/sign-in rows, licences, summaries) in %s", tenants, users, time.Since(start).Round(time.Second))
	mux := ConsoleMux(st, benchAdminGroup)
	principal := AdminPrincipal(benchAdminGroup)
	mid := ids[len(ids)/2]
	pages := ConsolePages(mid, "user150")
	// The storage floor: what Azurite alone takes for the pages' main queries (Azurite scans a
	// table linearly; Azure Table Storage reads a partition by index).
	b.Run("storage-floor-list-tenants", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := st.ListTenants(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
	})
	b.Run("storage-floor-page-50-users", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := st.Page(context.Background(), store.TableUsers, mid, console.PageSize, ""); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
	})
	// After a change: a sync (here an exclusion toggle, outside the timing) changes one tenant
	// before each view of the overview, so it reads the rows written since its last read.
	pages = append(pages, ConsolePage{"overview-after-a-change", "/"})
	for _, p := range pages {
		b.Run(p.Name, func(b *testing.B) {
			var worst time.Duration
			for i := 0; i < b.N; i++ {
				if p.Name == "overview-after-a-change" {
					b.StopTimer()
					if err := st.SetExcluded(context.Background(), ids[i%len(ids)], i%2 == 0); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				req := httptest.NewRequest("GET", p.Path, nil)
				req.Header.Set("X-MS-CLIENT-PRINCIPAL", principal)
				rec := httptest.NewRecorder()
				t0 := time.Now()
				mux.ServeHTTP(rec, req)
				if d := time.Since(t0); d > worst {
					worst = d
				}
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", p.Path, rec.Code, rec.Body.String())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/page")
			b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
		})
	}
}
