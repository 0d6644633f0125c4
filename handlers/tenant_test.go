package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Tenant: a stored tenant reads in the API's shape (by its id in any case), an unknown one is 404
// TenantNotFound pointing at discovery, and a malformed id is 400 naming the problem.
func TestTenant(t *testing.T) {
	e := newInputsEnv(t)
	for _, id := range []string{e.tenant, strings.ToUpper(e.tenant)} {
		rec := e.do("GET", "/api/tenants/"+id, "")
		var one domain.Tenant
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &one) != nil || one.TenantID != e.tenant ||
			one.DisplayName != "Fabrikam" || one.Consent.State != domain.ConsentConsented {
			t.Errorf("GET /api/tenants/%s: %d %s", id, rec.Code, rec.Body)
		}
	}
	rec := e.do("GET", "/api/tenants/00000000-0000-4000-8000-00000000dead", "")
	if code, msg := errorCode(t, rec); rec.Code != http.StatusNotFound || code != "TenantNotFound" || !strings.Contains(msg, "POST /api/discovery") {
		t.Errorf("unknown tenant: %d %s %q", rec.Code, code, msg)
	}
	for _, bad := range []string{"nope", "00000000-0000-4000-8000-00000000dea", "%20" + e.tenant} {
		rec := e.do("GET", "/api/tenants/"+bad, "")
		if code, msg := errorCode(t, rec); rec.Code != http.StatusBadRequest || code != "BadRequest" || !strings.Contains(msg, "is not a tenant id") {
			t.Errorf("id %q: %d %s %q", bad, rec.Code, code, msg)
		}
	}
}
