package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validFile = `{
  "name": "small",
  "seed": 7,
  "partner": {"tenantId": "0b5c4a8e-3f0f-4d5e-9a63-7f7d3c1b2a10", "displayName": "MSP", "domain": "msp.onmicrosoft.com",
              "users": [{"id": "1d1f3b52-4c1e-4a6b-9f3e-2b8c6d0a9e11", "userPrincipalName": "svc@msp.onmicrosoft.com", "displayName": "svc", "mfa": true}]},
  "tenants": [
    {"id": "2e8c0b4a-1111-4a6b-9f3e-2b8c6d0a9e11", "displayName": "Alpha", "domain": "alpha.onmicrosoft.com", "customDomain": "alpha.example",
     "users": 12, "groups": 2, "devices": 3, "csp": true, "consented": true, "premium": true, "intune": true, "concealReports": false,
     "skus": [{"skuId": "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46", "skuPartNumber": "SPB", "prepaid": 12, "assignEvery": 2}],
     "gdap": [{"status": "active", "roles": ["f2ef992c-3afb-46b9-b7cf-a126ee74c451"], "endInDays": 100, "autoExtend": true}],
     "faults": {"throttleEvery": 2, "retryAfter": "2"}},
    {"id": "3f9d1c5b-2222-4a6b-9f3e-2b8c6d0a9e11", "displayName": "Beta", "domain": "beta.onmicrosoft.com",
     "users": 0, "groups": 0, "devices": 0, "csp": false, "consented": false, "premium": false, "intune": false, "concealReports": true}
  ],
  "generate": {"count": 5, "minUsers": 3, "maxUsers": 6, "premium": 0.5, "intune": 0.5, "concealReports": 0, "consented": 1, "csp": 1},
  "faults": {"latencyMs": 5}
}`

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "scenario.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFile(t *testing.T) {
	w, err := Load(writeFile(t, validFile), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if w.TenantCount() != 7 || w.File().Name != "small" {
		t.Fatalf("%d tenants, name %q", w.TenantCount(), w.File().Name)
	}
	a, ok := w.Tenant("ALPHA.example")
	if !ok || a.Index != 0 || a.DefaultDomain != "alpha.example" || a.InitialDomain != "alpha.onmicrosoft.com" {
		t.Fatalf("alpha %+v", a)
	}
	if a.Faults.ThrottleEvery != 2 || a.Faults.LatencyMs != 0 {
		t.Errorf("a tenant's own faults replace the file's: %+v", a.Faults)
	}
	if b := w.TenantAt(1); b.Faults.LatencyMs != 5 || b.UserSlots() != 0 || !b.ConcealReports {
		t.Errorf("beta %+v", tenantView(b))
	}
	if g := w.TenantAt(6); g.Faults.LatencyMs != 5 || g.UserSlots() < 3 || g.UserSlots() > 6 || !g.Consented || !g.CSP {
		t.Errorf("generated tenant %+v", tenantView(g))
	}
	if a.UserSlots() != 12 || a.GroupSlots() != 2 || a.DeviceCount() != 3 {
		t.Errorf("alpha counts %d %d %d", a.UserSlots(), a.GroupSlots(), a.DeviceCount())
	}
	for i := 0; i < a.UserSlots(); i++ {
		u, _ := a.User(i)
		if want := i%2 == 0 && u.UserType == "Member"; (len(u.AssignedSkuIDs) == 1) != want {
			t.Errorf("alpha user %d skus %v (assignEvery 2)", i, u.AssignedSkuIDs)
		}
		if u.UserType == "Member" && !strings.HasSuffix(u.UserPrincipalName, "@alpha.example") {
			t.Errorf("UPN %s not at the default domain", u.UserPrincipalName)
		}
	}
	if r := a.GDAP[0]; r.AutoExtendDuration != "P180D" || !r.EndDateTime.Equal(testNow.Add(100*day)) || r.Activated.IsZero() {
		t.Errorf("relationship %+v", r)
	}
	// Step copes with an empty tenant.
	w.Step()
	if b := w.TenantAt(1); b.UserSlots() == 0 || len(b.UserChanges(0)) != b.UserSlots() {
		t.Errorf("empty tenant after a step: %d slots, changes %v", b.UserSlots(), b.UserChanges(0))
	}
}

func TestLoadErrorsNameTheField(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(string) string
		wantAll []string
	}{
		{"unknown top-level field", func(s string) string { return strings.Replace(s, `"seed": 7`, `"seed": 7, "sead": 8`, 1) },
			[]string{`unknown field "sead"`}},
		{"unknown tenant field", func(s string) string { return strings.Replace(s, `"users": 12`, `"users": 12, "usres": 3`, 1) },
			[]string{`tenants[0] "Alpha"`, `"usres"`}},
		{"unknown fault field", func(s string) string { return strings.Replace(s, `"throttleEvery": 2`, `"throttleEvry": 2`, 1) },
			[]string{`tenants[0] "Alpha"`, "faults", `"throttleEvry"`}},
		{"unknown sku field", func(s string) string { return strings.Replace(s, `"prepaid": 12`, `"prepaid": 12, "consumed": 3`, 1) },
			[]string{"skus[0]", `"consumed"`}},
		{"partner tenant id", func(s string) string {
			return strings.Replace(s, `"0b5c4a8e-3f0f-4d5e-9a63-7f7d3c1b2a10"`, `"msp"`, 1)
		}, []string{"partner.tenantId", `"msp"`}},
		{"tenant id not a GUID", func(s string) string {
			return strings.Replace(s, `"3f9d1c5b-2222-4a6b-9f3e-2b8c6d0a9e11"`, `"beta"`, 1)
		},
			[]string{`tenants[1] "Beta"`, "id", "GUID"}},
		{"duplicate tenant id", func(s string) string {
			return strings.Replace(s, `"3f9d1c5b-2222-4a6b-9f3e-2b8c6d0a9e11"`, `"2E8C0B4A-1111-4a6b-9f3e-2b8c6d0a9e11"`, 1)
		}, []string{`tenants[1] "Beta"`, "id", "already used"}},
		{"duplicate domain", func(s string) string {
			return strings.Replace(s, `"beta.onmicrosoft.com"`, `"Alpha.onmicrosoft.com"`, 1)
		},
			[]string{`tenants[1] "Beta"`, "domain", "already used"}},
		{"custom domain equals another tenant's", func(s string) string { return strings.Replace(s, `"alpha.example"`, `"beta.onmicrosoft.com"`, 1) },
			[]string{"customDomain"}},
		{"negative users", func(s string) string { return strings.Replace(s, `"users": 0`, `"users": -4`, 1) },
			[]string{`tenants[1] "Beta"`, "users", "-4"}},
		{"negative devices", func(s string) string { return strings.Replace(s, `"devices": 3`, `"devices": -1`, 1) },
			[]string{`tenants[0] "Alpha"`, "devices"}},
		{"fault code not numeric", func(s string) string {
			return strings.Replace(s, `"throttleEvery": 2`, `"throttleEvery": 2, "tokenError": "AADSTS7000229x"`, 1)
		}, []string{`tenants[0] "Alpha"`, "faults.tokenError"}},
		{"retry-after not a number", func(s string) string { return strings.Replace(s, `"retryAfter": "2"`, `"retryAfter": "soon"`, 1) },
			[]string{"faults.retryAfter"}},
		{"file-wide fault", func(s string) string { return strings.Replace(s, `"latencyMs": 5`, `"latencyMs": -5`, 1) },
			[]string{"faults.latencyMs"}},
		{"gdap status", func(s string) string { return strings.Replace(s, `"status": "active"`, `"status": "live"`, 1) },
			[]string{`tenants[0] "Alpha" gdap[0]`, "status"}},
		{"gdap role", func(s string) string {
			return strings.Replace(s, `"roles": ["f2ef992c`, `"roles": ["reader", "f2ef992c`, 1)
		},
			[]string{"roles[0]"}},
		{"sku id", func(s string) string {
			return strings.Replace(s, `"skuId": "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"`, `"skuId": "SPB"`, 1)
		},
			[]string{"skus[0]", "skuId"}},
		{"generate fraction", func(s string) string { return strings.Replace(s, `"premium": 0.5`, `"premium": 50`, 1) },
			[]string{"generate", "premium"}},
		{"generate range", func(s string) string { return strings.Replace(s, `"maxUsers": 6`, `"maxUsers": 2`, 1) },
			[]string{"generate", "maxUsers"}},
		{"sign-in error", func(s string) string {
			return strings.Replace(s, `"mfa": true`, `"mfa": true, "signInError": "blocked"`, 1)
		},
			[]string{"signInError"}},
		{"wrong type", func(s string) string { return strings.Replace(s, `"users": 12`, `"users": "twelve"`, 1) },
			[]string{"users"}},
		{"trailing data", func(s string) string { return s + `{}` }, []string{"after"}},
		{"not json", func(string) string { return `tenants: []` }, []string{"invalid"}},
	}
	if _, err := Load(writeFile(t, validFile), testNow); err != nil {
		t.Fatalf("the base file must load: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			content := c.edit(validFile)
			if content == validFile {
				t.Fatal("edit did not apply")
			}
			_, err := Load(writeFile(t, content), testNow)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range c.wantAll {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	f := DemoFile(testNow)
	f.Tenants[0].Users = -1
	f.Tenants[3].Domain = ""
	f.Tenants[5].Faults = &Faults{TokenError: "x"}
	_, err := New(f, testNow)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"Contoso Dental": users`, `"Tailspin Toys": domain`, `"Adventure Works": faults.tokenError`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"), testNow)
	if err == nil || !strings.Contains(err.Error(), "demo, large") {
		t.Fatalf("err = %v", err)
	}
}

func TestGeneratedDomainCollision(t *testing.T) {
	// A generated tenant's domain clashing with an explicit one is reported, not silently shadowed.
	g := &GenerateSpec{Count: 50, MinUsers: 1, MaxUsers: 2}
	probe, err := New(File{Seed: 3, Partner: PartnerSpec{TenantID: DemoPartnerTenantID}, Generate: g}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	clash := probe.TenantAt(10).InitialDomain
	f := File{Seed: 3, Partner: PartnerSpec{TenantID: DemoPartnerTenantID}, Generate: g,
		Tenants: []TenantSpec{{ID: DemoContosoDental, DisplayName: "Clash", Domain: clash}}}
	if _, err := New(f, testNow); err == nil || !strings.Contains(err.Error(), clash) {
		t.Fatalf("err = %v", err)
	}
}
