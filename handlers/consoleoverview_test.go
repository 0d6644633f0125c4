package handlers

import (
	"net/http"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// ConsoleOverview: every tenant with its status, and the same table as CSV.
func TestConsoleOverview(t *testing.T) {
	e := newConsoleEnv(t)
	other := "00000000-0000-4000-8000-" + e.tenant[len(e.tenant)-12:]
	e.addTenant(domain.Tenant{TenantID: other, DisplayName: "Woodgrove Overview", Consent: domain.Consent{State: domain.ConsentNone}})
	wantPage(t, e.get("/"), http.StatusOK, "Fabrikam", "Woodgrove Overview", "/tenants/"+e.tenant)
	wantCSV(t, e.get("/?format=csv"), "tenants.csv", "Woodgrove Overview", "tenantsync has no consent in this tenant.")
}
