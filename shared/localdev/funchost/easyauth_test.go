package funchost

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// With App Service Authentication on but its settings missing, the local host still starts (the
// handler's own "setting X is missing" error is what the operator needs to see), signing in is
// refused naming the settings, and client-sent identity headers are still stripped.
func TestLocalSignInWithoutItsSettings(t *testing.T) {
	a, err := newEasyAuth(map[string]string{"WEBSITE_AUTH_ENABLED": "true", "PARTNER_TENANT_ID": "t", "APP_CLIENT_ID": "c", "PUBLIC_BASE_URL": "http://localhost:7071"})
	if err != nil || a == nil || a.unavailable == nil {
		t.Fatalf("newEasyAuth = %v, %v; want a sign-in that says why it cannot work", a, err)
	}
	mux := http.NewServeMux()
	a.routes(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/.auth/login/aad", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "APP_CLIENT_SECRET") {
		t.Errorf("sign-in: %d %q", rec.Code, rec.Body)
	}
	var got http.Header
	h := a.wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Header }))
	req := httptest.NewRequest("GET", "/api/tenants", nil)
	req.Header.Set("X-MS-CLIENT-PRINCIPAL", "forged")
	req.Header.Set("X-MS-CLIENT-PRINCIPAL-NAME", "forged")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got.Get("X-MS-CLIENT-PRINCIPAL") != "" || got.Get("X-MS-CLIENT-PRINCIPAL-NAME") != "" {
		t.Errorf("client-sent principal headers reached the handler: %v", got)
	}
	if off, err := newEasyAuth(map[string]string{"WEBSITE_AUTH_ENABLED": "False"}); off != nil || err != nil {
		t.Errorf("auth off: %v, %v", off, err)
	}
}
