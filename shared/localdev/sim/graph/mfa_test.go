package graph

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The MFA faces of a tenant without Entra ID P1/P2: the registration report refused with
// Microsoft's non-premium error, the security defaults policy, registered methods per user and
// the beta-only per-user MFA state.
func TestMFAFacesWithoutPremium(t *testing.T) {
	f := newFixture(t)
	// Echo answers every 3rd request 429 (its fault); past one throttled answer each call is real.
	get := func(url, tok string) resp {
		r := f.get(url, tok)
		if r.status == http.StatusTooManyRequests {
			r = f.get(url, tok)
		}
		return r
	}
	all := f.appToken(tenantE, "User.Read.All", "AuditLog.Read.All", "Policy.Read.All", "UserAuthenticationMethod.Read.All")

	r := get("/v1.0/reports/authenticationMethods/userRegistrationDetails", all)
	if r.status != http.StatusForbidden || r.errCode(t) != "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
		t.Errorf("registration report without P1/P2: %d %s", r.status, r.body)
	}

	for tenant, want := range map[string]bool{tenantB: true, tenantE: false} {
		tok := f.appToken(tenant, "Policy.Read.All")
		r := get("/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", tok)
		if r.status != http.StatusOK || r.json(t)["isEnabled"] != want || r.json(t)["id"] != securityDefaultsID {
			t.Errorf("%s security defaults: %d %s, want isEnabled %v", tenant, r.status, r.body, want)
		}
	}
	if r := get("/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", f.appToken(tenantE, "User.Read.All")); r.status != http.StatusForbidden || r.errCode(t) != "Authorization_RequestDenied" {
		t.Errorf("security defaults without Policy.Read.All: %d %s", r.status, r.body)
	}

	ten, _ := f.world.Tenant(tenantE)
	for i := 0; i < ten.UserSlots(); i++ {
		u, ok := ten.User(i)
		if !ok {
			continue
		}
		r := get("/v1.0/users/"+u.ID+"/authentication/methods", all)
		if r.status != http.StatusOK {
			t.Fatalf("methods of %s: %d %s", u.UserPrincipalName, r.status, r.body)
		}
		var types []string
		for _, m := range r.json(t)["value"].([]any) {
			types = append(types, m.(map[string]any)["@odata.type"].(string))
		}
		if (u.UserType != "Guest") != slices.Contains(types, "#microsoft.graph.passwordAuthenticationMethod") {
			t.Errorf("%s (%s): password method presence wrong in %v", u.UserPrincipalName, u.UserType, types)
		}
		if u.MFARegistered && len(types) < 2 {
			t.Errorf("%s is MFA-registered (%v) but lists %v", u.UserPrincipalName, u.MethodsRegistered, types)
		}
		if slices.Contains(u.MethodsRegistered, "email") != slices.Contains(types, "#microsoft.graph.emailAuthenticationMethod") {
			t.Errorf("%s: email method %v vs %v", u.UserPrincipalName, u.MethodsRegistered, types)
		}

		r = get("/beta/users/"+u.ID+"/authentication/requirements", all)
		if r.status != http.StatusOK || r.json(t)["perUserMfaState"] != u.PerUserMFA {
			t.Errorf("%s per-user MFA: %d %s, want %q", u.UserPrincipalName, r.status, r.body, u.PerUserMFA)
		}
	}
	id := f.liveUsers(tenantE)[0]
	idB := f.liveUsers(tenantB)[0]
	// Per-user MFA state is beta only.
	if r := get("/v1.0/users/"+id+"/authentication/requirements", all); r.status != http.StatusBadRequest || !strings.Contains(r.errMessage(t), "requirements") {
		t.Errorf("v1.0 requirements: %d %s", r.status, r.body)
	}
	if r := get("/v1.0/users/"+id+"/authentication/methods", f.appToken(tenantE, "User.Read.All")); r.status != http.StatusForbidden {
		t.Errorf("methods without UserAuthenticationMethod.Read.All: %d %s", r.status, r.body)
	}
	if r := get("/beta/users/"+id+"/authentication/requirements", f.appToken(tenantE, "UserAuthenticationMethod.Read.All")); r.status != http.StatusForbidden {
		t.Errorf("requirements without Policy.Read.All: %d %s", r.status, r.body)
	}
	if r := get("/v1.0/users/00000000-0000-4000-8000-000000000000/authentication/methods", all); r.status != http.StatusNotFound || r.errCode(t) != "Request_ResourceNotFound" {
		t.Errorf("methods of an unknown user: %d %s", r.status, r.body)
	}
	// Beta $batch items are relative to beta.
	r = f.do(http.MethodPost, "/beta/$batch", f.appToken(tenantB, "Policy.Read.All"), map[string]any{"requests": []map[string]any{
		{"id": "1", "method": "GET", "url": "/users/" + idB + "/authentication/requirements"},
	}})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), "perUserMfaState") {
		t.Errorf("beta batch: %d %s", r.status, r.body)
	}
}
