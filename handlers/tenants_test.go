package handlers

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Tenants: the list holds the tenant in the API's shape.
func TestTenants(t *testing.T) {
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
}
