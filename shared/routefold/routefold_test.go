package routefold

import "testing"

func TestFold(t *testing.T) {
	f := New(
		"GET /api/tenants",
		"GET /api/tenants/{tenantId}",
		"PATCH /api/tenants/{tenantId}",
		"GET /api/tenants/{tenantId}/{collection}",
		"POST /api/tenants/{tenantId}/sync",
		"POST /api/tenants/{tenantId}/consent-link",
		"GET /api/connect/callback",
	)
	const id = "0A1B2C3D-0000-4000-8000-000000000001"
	for _, c := range []struct{ method, in, want string }{
		{"GET", "/api/tenants", "/api/tenants"},
		{"GET", "/api/Tenants", "/api/tenants"},
		{"GET", "/API/TENANTS", "/api/tenants"},
		{"GET", "/api/%54enants", "/api/tenants"}, // %54 is T
		{"PATCH", "/Api/tenantS/" + id, "/api/tenants/" + id},
		{"GET", "/api/TENANTS/" + id + "/Users", "/api/tenants/" + id + "/Users"}, // a parameter keeps its spelling
		{"POST", "/api/Tenants/" + id + "/SYNC", "/api/tenants/" + id + "/sync"},
		{"POST", "/api/tenants/" + id + "/Consent-Link", "/api/tenants/" + id + "/consent-link"},
		{"GET", "/api/Connect/Callback", "/api/connect/callback"},
		{"GET", "/api/tenants/a%2Fb", "/api/tenants/a%2Fb"}, // an escaped slash stays inside its segment
		{"DELETE", "/api/Tenants", "/api/tenants"},          // no DELETE route: folded anyway, the router answers
		{"GET", "/api/nothing", "/api/nothing"},
		{"GET", "/api/Tenants/", "/api/Tenants/"}, // an empty segment matches no route
		{"GET", "/api/tenants/" + id + "/users/extra", "/api/tenants/" + id + "/users/extra"},
		{"GET", "/api/tenants/%zz", "/api/tenants/%zz"},
	} {
		got, changed := f.Fold(c.method, c.in)
		if got != c.want || changed != (c.in != c.want) {
			t.Errorf("%s %s: %s (changed %v), want %s", c.method, c.in, got, changed, c.want)
		}
	}
}
