package handlers

import (
	"net/http"
	"strings"
	"testing"
)

// ConsoleTenant: the tenant's page with one tab's table, its CSV, the flash after an action, and
// refusals for what is not a tenant.
func TestConsoleTenant(t *testing.T) {
	e := newConsoleEnv(t)
	base := "/tenants/" + e.tenant
	wantPage(t, e.get(base+"?tab=groups"), http.StatusOK, "Fabrikam", "Group 00", "Group 11")
	wantPage(t, e.get(strings.ToUpper(base)+"?tab=groups&q=group+07"), http.StatusOK, "Group 07")
	if body := e.get(base + "?tab=groups&q=group+07").Body.String(); strings.Contains(body, "Group 08") {
		t.Error("search shows a group that does not match")
	}
	wantPage(t, e.get(base+"?tab=groups&done=excluded"), http.StatusOK, "Excluded from scheduled syncs.")
	if body := e.get(base + "?tab=groups&done=%3Cb%3Ehi").Body.String(); strings.Contains(body, "<b>hi") {
		t.Error("an unknown flash code is reflected into the page")
	}
	wantPage(t, e.get(base+"?tab=access"), http.StatusOK, "Access check")
	wantCSV(t, e.get(base+"?tab=groups&format=csv"), "fabrikam-groups.csv", "Group 00", "Group 11")
	wantPage(t, e.get(base+"?tab=access&format=csv"), http.StatusNotFound, "no table to download")
	wantPage(t, e.get("/tenants/not-a-guid"), http.StatusNotFound, "not a tenant id")
	wantPage(t, e.get("/tenants/00000000-0000-4000-8000-00000000dead"), http.StatusNotFound, "No such tenant")
}
