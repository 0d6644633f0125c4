package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/localdev/bench"
	"github.com/tenantsync/tenantsync/shared/store"
)

// consolePage is one console page's server time over reps requests.
type consolePage struct {
	Page  string  `json:"page"`
	Path  string  `json:"path"`
	P50Ms float64 `json:"p50Ms"`
	P90Ms float64 `json:"p90Ms"`
	MaxMs float64 `json:"maxMs"`
}

// timeConsole serves each console page reps times through the handler's own mux, signed in as an
// admin the way App Service Authentication forwards one, against the Table Storage the large
// scenario's syncs wrote (issue 13: every page's server time ≤ 200 ms with 1,000 tenants × 200
// users). Server time: from the request entering the mux to the answer written, no network.
func timeConsole(conn, adminGroup, tenantID string, reps int) ([]consolePage, error) {
	st, err := store.Open(config.Tables{ConnectionString: conn}, nil)
	if err != nil {
		return nil, err
	}
	mux := bench.ConsoleMux(st, adminGroup)
	principal := bench.AdminPrincipal(adminGroup)
	pages := bench.ConsolePages(tenantID, "a")
	var out []consolePage
	for _, p := range pages {
		var ms []float64
		for i := 0; i < reps; i++ {
			req := httptest.NewRequest(http.MethodGet, p.Path, nil)
			req.Header.Set("X-MS-CLIENT-PRINCIPAL", principal)
			rec := httptest.NewRecorder()
			t0 := time.Now()
			mux.ServeHTTP(rec, req)
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
			if rec.Code != http.StatusOK {
				return nil, fmt.Errorf("console %s answered %d", p.Path, rec.Code)
			}
		}
		out = append(out, consolePage{Page: p.Name, Path: p.Path, P50Ms: percentile(ms, 50), P90Ms: percentile(ms, 90), MaxMs: percentile(ms, 100)})
	}
	return out, nil
}
