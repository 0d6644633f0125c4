package handlers

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The read API's CSV: `Accept: text/csv` on GET /api/tenants and on a tenant's collection answers
// the console's table of the same data (every row); other requests stay JSON.
func TestReadAPIAnswersCSV(t *testing.T) {
	e := newInputsEnv(t)
	csv := func(target string) *httptest.ResponseRecorder { return e.do("GET", target, "", "Accept", "text/csv") }
	wantCSV(t, csv("/api/tenants"), "tenants.csv", "Fabrikam")
	// Every group, not one page of $top.
	wantCSV(t, csv("/api/tenants/"+e.tenant+"/groups?$top=2"), "fabrikam-groups.csv", "Group 00", "Group 11")
	wantCSV(t, csv("/api/tenants/"+e.tenant+"/runs"), "fabrikam-runs.csv", "Run,Reason,State")
	if code, _ := errorCode(t, csv("/api/tenants/00000000-0000-4000-8000-00000000dead/groups")); code != "TenantNotFound" {
		t.Errorf("CSV of an unknown tenant: %s", code)
	}
	if rec := csv("/api/tenants/" + e.tenant + "/secrets"); rec.Code != http.StatusNotFound {
		t.Errorf("CSV of an unknown collection: %d %s", rec.Code, rec.Body)
	}
	if rec := csv("/api/tenants/nope/groups"); rec.Code != http.StatusBadRequest {
		t.Errorf("CSV for a bad tenant id: %d", rec.Code)
	}
	if rec := e.do("GET", "/api/tenants/"+e.tenant+"/groups", ""); rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("without Accept: text/csv: %q", rec.Header().Get("Content-Type"))
	}
}
