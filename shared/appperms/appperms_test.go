package appperms

import (
	"strings"
	"testing"
)

// Least privilege: every permission configured on the app (what a customer's admin-consent link
// grants) is a read permission, and nothing partner-only is among them; the partner-only
// application permissions are read permissions too, and Mail.Send is never an application
// permission.
func TestCustomerPermissionsAreReadOnly(t *testing.T) {
	if len(Customer()) == 0 {
		t.Fatal("no customer permissions")
	}
	read := func(v string) bool { return strings.Contains(v, ".Read.") || strings.HasSuffix(v, ".Read") }
	for _, p := range Graph {
		if !read(p.Value) {
			t.Errorf("customer-facing permission %s is not a read permission", p.Value)
		}
		for _, q := range PartnerApp {
			if q.Value == p.Value {
				t.Errorf("partner-only permission %s is configured for customer tenants", p.Value)
			}
		}
		if p.Value == "Mail.Send" {
			t.Error("Mail.Send is an application permission")
		}
	}
	for _, p := range PartnerApp {
		if !read(p.Value) || p.Value == "Mail.Send" {
			t.Errorf("partner-only application permission %s is not a read permission", p.Value)
		}
	}
}

func TestMissing(t *testing.T) {
	all := make([]string, 0, len(Customer()))
	for _, p := range Customer() {
		all = append(all, p.Value)
	}
	if m := Missing(all); len(m) != 0 {
		t.Errorf("missing %v with every role held", m)
	}
	m := Missing(all[1:])
	if len(m) != 1 || m[0].Value != all[0] {
		t.Errorf("missing %v, want [%s]", m, all[0])
	}
	if m := Missing(nil); len(m) != len(Customer()) {
		t.Errorf("no roles: missing %d, want %d", len(m), len(Customer()))
	}
}

// The gdap path's delegated scopes are read scopes; a tenant whose service account cannot assign
// app roles is granted no write scope at all.
func TestConsentScopesLeastPrivilege(t *testing.T) {
	for _, s := range CustomerDelegated() {
		if !strings.Contains(s, ".Read.") && !strings.HasSuffix(s, ".Read") {
			t.Errorf("delegated scope %s is not a read scope", s)
		}
	}
	for _, s := range ConsentScopes(false, true) {
		if strings.Contains(s, "Write") {
			t.Errorf("a tenant without Privileged Role Administrator is granted %s", s)
		}
	}
	if got := ConsentScopes(true, true); len(got) != len(Bootstrap) {
		t.Errorf("cpv+roles tenant granted %v, want exactly %v", got, Bootstrap)
	}
	unknown := ConsentScopes(false, false)
	seen := map[string]bool{}
	for _, s := range unknown {
		if seen[s] {
			t.Errorf("unknown roles: %s granted twice", s)
		}
		seen[s] = true
	}
	for _, s := range append(append([]string{}, Bootstrap...), CustomerDelegated()...) {
		if !seen[s] {
			t.Errorf("unknown roles: %s missing from %v", s, unknown)
		}
	}
}
