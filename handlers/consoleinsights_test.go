package handlers

import (
	"net/http"
	"testing"

	"github.com/tenantsync/tenantsync/shared/insights"
)

// ConsoleInsights: the cross-tenant page from the stored summaries, one table as CSV, and 404
// for a table that does not exist.
func TestConsoleInsights(t *testing.T) {
	e := newConsoleEnv(t)
	if err := e.store.PutSummary(e.ctx, e.tenant, insights.Summary{MFAKnown: true, WithoutMFACount: 1,
		WithoutMFA: []insights.UserRef{{UPN: "nomfa@fabrikam.com", Name: "No MFA"}}}); err != nil {
		t.Fatal(err)
	}
	wantPage(t, e.get("/insights?days=60"), http.StatusOK, "Insights", "nomfa@fabrikam.com")
	wantCSV(t, e.get("/insights?table=users-without-mfa&format=csv"), "users-without-mfa.csv", "Fabrikam", "No MFA <nomfa@fabrikam.com>")
	wantPage(t, e.get("/insights?table=nope&format=csv"), http.StatusNotFound, "No such insights table")
}
