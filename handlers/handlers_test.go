package handlers

import (
	"net/http"
	"strings"
	"testing"
)

// The host matches route literals case-insensitively (ASP.NET Core routing) and forwards the path
// as sent; the handler finds the same function (main answered 404).
func TestRoutesMatchCaseInsensitively(t *testing.T) {
	e := newInputsEnv(t)
	upper := strings.ToUpper(e.tenant)
	for _, c := range []struct {
		method, path, body string
		status             int
		has                string
	}{
		{"GET", "/api/Tenants", "", http.StatusOK, `"tenantId":"` + e.tenant + `"`},
		{"GET", "/API/TENANTS", "", http.StatusOK, `"value":[`},
		{"GET", "/api/tenants/" + upper, "", http.StatusOK, `"displayName":"Fabrikam"`},
		{"GET", "/Api/Tenants/" + e.tenant + "/Groups", "", http.StatusOK, `"Group 00"`},
		{"GET", "/api/tenants/" + e.tenant + "/RUNS", "", http.StatusOK, `"value":[]`},
		{"PATCH", "/api/TENANTS/" + e.tenant, `{"excluded":false}`, http.StatusOK, `"excluded":false`},
		{"POST", "/api/Tenants/" + e.tenant + "/SYNC", "", http.StatusAccepted, `"runId"`},
		{"POST", "/api/Tenants/" + e.tenant + "/Sync", "{}", http.StatusAccepted, `"runId"`},
		{"GET", "/api/tenants/" + e.tenant + "/nothing", "", http.StatusNotFound, `no collection \"nothing\"`},
		{"GET", "/api/Nothing", "", http.StatusNotFound, "no such API route"},
	} {
		rec := e.do(c.method, c.path, c.body)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.has) {
			t.Errorf("%s %s: %d %s, want %d with %s", c.method, c.path, rec.Code, rec.Body, c.status, c.has)
		}
	}
	// A body on sync now is still read strictly.
	if rec := e.do("POST", "/api/tenants/"+e.tenant+"/sync", `{"force":true}`); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "force") {
		t.Errorf("sync now with an unknown key: %d %s", rec.Code, rec.Body)
	}
	if n := len(e.queue.Tenants(t)); n != 2 {
		t.Errorf("%d sync messages queued, want 2", n)
	}
}
