package handlers

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Tenants and Tenant: the list holds the tenant, one tenant reads in the API's shape, an unknown
// one is 404 TenantNotFound.
func TestTenantsAndTenant(t *testing.T) {
	e := newInputsEnv(t)
	rec := e.do("GET", "/api/tenants", "")
	var list struct{ Value []domain.Tenant }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	found := false
	for _, tn := range list.Value {
		found = found || tn.TenantID == e.tenant && tn.DisplayName == "Fabrikam"
	}
	if !found {
		t.Errorf("the list lacks tenant %s", e.tenant)
	}
	rec = e.do("GET", "/api/tenants/"+e.tenant, "")
	var one domain.Tenant
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &one) != nil || one.TenantID != e.tenant || one.Consent.State != domain.ConsentConsented {
		t.Errorf("tenant: %d %s", rec.Code, rec.Body)
	}
	if code, _ := errorCode(t, e.do("GET", "/api/tenants/00000000-0000-4000-8000-00000000dead", "")); code != "TenantNotFound" {
		t.Errorf("unknown tenant: %s", code)
	}
	if code, _ := errorCode(t, e.do("GET", "/api/tenants/nope", "")); code != "BadRequest" {
		t.Errorf("not a tenant id: %s", code)
	}
}
