package bench

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/tenantsync/tenantsync/handlers"
	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/store"
)

// ConsolePage is a console page the benchmarks time.
type ConsolePage struct{ Name, Path string }

// ConsolePages are the console's pages with tenantID's tenant pages, searched for search: the
// overview (HTML, filtered and sorted, CSV), a tenant's users (page, search, CSV), its run history
// and the insights. Issue 13's budget is 200 ms of server time for each.
func ConsolePages(tenantID, search string) []ConsolePage {
	return []ConsolePage{
		{"overview", "/"},
		{"overview-problems-sorted", "/?state=problems&sort=users&dir=desc"},
		{"overview-csv", "/?format=csv"},
		{"tenant-users", "/tenants/" + tenantID},
		{"tenant-users-search", "/tenants/" + tenantID + "?q=" + search},
		{"tenant-runs", "/tenants/" + tenantID + "?tab=runs"},
		{"tenant-users-csv", "/tenants/" + tenantID + "?format=csv"},
		{"insights", "/insights"},
	}
}

// ConsoleMux is the handler's mux over st with the console's sign-in on, for adminGroup.
func ConsoleMux(st *store.Store, adminGroup string) http.Handler {
	return handlers.New(handlers.Deps{Store: st, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ConsoleSettings: handlers.ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: adminGroup}, CSRFKey: []byte("bench-csrf-key-bench-csrf-key-32")}})
}

// AdminPrincipal is X-MS-CLIENT-PRINCIPAL as App Service Authentication forwards it for a
// member of group.
func AdminPrincipal(group string) string {
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": "preferred_username", "claims": []map[string]string{
		{"typ": "oid", "val": "2517b119-8115-4ae8-a5df-545d3329824b"}, {"typ": "preferred_username", "val": "admin@bench"}, {"typ": "groups", "val": group}}})
	return base64.StdEncoding.EncodeToString(b)
}
