package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tenantsync/tenantsync/handlers"
	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/console"
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
	mux := handlers.New(handlers.Deps{Store: st, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ConsoleSettings: handlers.ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: adminGroup}, CSRFKey: []byte("bench-csrf-key-bench-csrf-key-32")}})
	principal := benchPrincipal(adminGroup)
	pages := []struct{ name, path string }{
		{"overview", "/"},
		{"overview-problems-sorted", "/?state=problems&sort=users&dir=desc"},
		{"overview-csv", "/?format=csv"},
		{"tenant-users", "/tenants/" + tenantID},
		{"tenant-users-search", "/tenants/" + tenantID + "?q=a"},
		{"tenant-runs", "/tenants/" + tenantID + "?tab=runs"},
		{"tenant-users-csv", "/tenants/" + tenantID + "?format=csv"},
		{"insights", "/insights"},
	}
	var out []consolePage
	for _, p := range pages {
		var ms []float64
		for i := 0; i < reps; i++ {
			req := httptest.NewRequest(http.MethodGet, p.path, nil)
			req.Header.Set("X-MS-CLIENT-PRINCIPAL", principal)
			rec := httptest.NewRecorder()
			t0 := time.Now()
			mux.ServeHTTP(rec, req)
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
			if rec.Code != http.StatusOK {
				return nil, fmt.Errorf("console %s answered %d", p.path, rec.Code)
			}
		}
		out = append(out, consolePage{Page: p.name, Path: p.path, P50Ms: percentile(ms, 50), P90Ms: percentile(ms, 90), MaxMs: percentile(ms, 100)})
	}
	return out, nil
}

// benchPrincipal is X-MS-CLIENT-PRINCIPAL for a member of the admin group.
func benchPrincipal(group string) string {
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": "preferred_username", "claims": []map[string]string{
		{"typ": "oid", "val": "2517b119-8115-4ae8-a5df-545d3329824b"}, {"typ": "preferred_username", "val": "admin@bench"}, {"typ": "groups", "val": group}}})
	return base64.StdEncoding.EncodeToString(b)
}
