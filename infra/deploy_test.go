package infra

// infra/deploy.sh against a recording fake az (infra/fakeaz, built once and put first on PATH). The
// fake keeps a small model of the resource group (the last deployment's parameters and outputs, the
// app's settings, the vault's secret and who may read it) and records every call, so each test
// asserts the exact command sequence and the parameters deploy.sh passes.

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/tenantsync/tenantsync/infra/fakeaz"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := fakeAzBinary(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// fakeAzBinary builds infra/fakeaz/cmd/az once per test binary (into a directory put first on PATH).
var fakeAzBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fakeaz")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "az")
	out, err := exec.Command("go", "build", "-o", bin, "./fakeaz/cmd/az").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building the fake az: %v\n%s", err, out)
	}
	return dir, nil
})

// deployEnv is one run of deploy.sh.
type deployEnv struct {
	t     *testing.T
	state string
	path  string
	pkg   string
}

func newDeployEnv(t *testing.T, s fakeaz.State) *deployEnv {
	t.Helper()
	dir := t.TempDir()
	bin, err := fakeAzBinary()
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(dir, "functionapp.zip")
	if err := os.WriteFile(pkg, []byte("zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &deployEnv{t: t, state: filepath.Join(dir, "state.json"), path: bin + string(os.PathListSeparator) + os.Getenv("PATH"), pkg: pkg}
	if err := s.Save(e.state); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs deploy.sh with exactly env (plus PATH and the fake's files) and returns the calls it made.
func (e *deployEnv) run(env map[string]string) (calls []string, output string, err error) {
	e.t.Helper()
	before, lerr := fakeaz.Load(e.state)
	if lerr != nil {
		e.t.Fatal(lerr)
	}
	cmd := exec.Command("bash", "deploy.sh")
	cmd.Env = []string{"PATH=" + e.path, "HOME=" + e.t.TempDir(), "FAKE_AZ_STATE=" + e.state, "DEPLOY_PACKAGE=" + e.pkg, "DEPLOY_RETRY_DELAY=0"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	after := e.load()
	return after.Calls[len(before.Calls):], string(out), err
}

func (e *deployEnv) load() *fakeaz.State {
	e.t.Helper()
	s, err := fakeaz.Load(e.state)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *deployEnv) edit(f func(*fakeaz.State)) {
	e.t.Helper()
	s := e.load()
	f(s)
	if err := s.Save(e.state); err != nil {
		e.t.Fatal(err)
	}
}

func sameCalls(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: az calls\n got:\n  %s\n want:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

const (
	partnerTenant = "5ce257ad-9315-420b-900a-9d770d9cda65"
	appID         = "7d1f3b52-4c1e-4a6b-9f3e-2b8c6d0a9e11"
)

// The az calls of an upgrade, up to and including the deployment.
func upgradeCalls(rg string) []string {
	show := "deployment group show -g " + rg + " -n tenantsync --query "
	return []string{
		"account show --query tenantId -o tsv",
		"group show -n " + rg + " --query location -o tsv",
		show + "name -o tsv",
		show + "properties.outputs.functionAppName.value -o tsv",
		"functionapp config appsettings list -g " + rg + " -n tsync-func-abc --query [].[name, value] -o tsv",
		show + "properties.parameters.authClientId.value -o tsv",
		show + "properties.parameters.prefix.value -o tsv",
		show + "properties.parameters.maximumInstanceCount.value -o tsv",
		show + "properties.parameters.keyVaultName.value -o tsv",
		"deployment group create -g " + rg + " -n tenantsync -f infra/main.bicep -p @PARAMS -o none",
		show + "properties.outputs.functionAppName.value -o tsv",
		show + "properties.outputs.keyVaultName.value -o tsv",
	}
}

func outputCalls(rg string, register bool) []string {
	show := "deployment group show -g " + rg + " -n tenantsync --query properties.outputs."
	c := []string{show + "appUrl.value -o tsv", show + "keyVaultUrl.value -o tsv", show + "managedIdentityPrincipalId.value -o tsv", show + "managedIdentityTenantId.value -o tsv"}
	if register {
		c = append(c, show+"keyVaultUrl.value -o tsv", show+"managedIdentityPrincipalId.value -o tsv")
	}
	return c
}

// First deployment, wiring the app id in, then an upgrade with an empty environment: the exact
// calls, and the upgrade passes the same parameters and leaves every app setting as it was,
// including ones an operator set by hand.
func TestDeployFirstRunThenUpgradeWithEmptyEnvironmentChangesNothing(t *testing.T) {
	e := newDeployEnv(t, fakeaz.State{Tenant: partnerTenant, User: "user-1"})
	calls, out, err := e.run(map[string]string{"RESOURCE_GROUP": "rg1", "LOCATION": "westeurope"})
	if err != nil {
		t.Fatalf("first deployment failed: %v\n%s", err, out)
	}
	vault := e.load().Params["keyVaultName"]
	vaultStr, _ := vault.(string)
	if !regexp.MustCompile(`^tsync-kv-[0-9a-f]{8}$`).MatchString(vaultStr) {
		t.Fatalf("first deployment chose vault name %v, want tsync-kv-<8 hex>", vault)
	}
	show := "deployment group show -g rg1 -n tenantsync --query "
	sameCalls(t, "first deployment", calls, append([]string{
		"account show --query tenantId -o tsv",
		"group show -n rg1 --query location -o tsv",
		"group create -n rg1 -l westeurope -o none",
		show + "name -o tsv",
		"keyvault list -g rg1 --query [0].name -o tsv",
		"deployment group create -g rg1 -n tenantsync -f infra/main.bicep -p @PARAMS -o none",
		show + "properties.outputs.functionAppName.value -o tsv",
		show + "properties.outputs.keyVaultName.value -o tsv",
		"keyvault secret show --vault-name " + vaultStr + " -n state-signing-key --query id -o tsv",
		"keyvault secret set --vault-name " + vaultStr + " -n state-signing-key --file KEYFILE --encoding utf-8 -o none",
	}, outputCalls("rg1", true)...))
	first := e.load()
	wantFirst := map[string]any{"prefix": "tsync", "keyVaultName": vaultStr, "partnerTenantId": partnerTenant, "appClientId": "", "appAuth": "federated",
		"adminGroupId": "", "authClientId": "", "consentMailFrom": "", "fanoutSchedule": "0 0 */6 * * *", "discoverySchedule": "0 30 */6 * * *",
		"fanoutSpread": "PT30M", "autoConsent": true, "partnerCenterUrl": "https://api.partnercenter.microsoft.com", "maximumInstanceCount": float64(40),
		"currentAppSettings": map[string]any{}}
	if !equalJSON(first.LastParams, wantFirst) {
		t.Errorf("first deployment's parameters\n got %v\nwant %v", first.LastParams, wantFirst)
	}
	if first.SecretSets != 1 {
		t.Errorf("first deployment wrote the signing key %d times, want once", first.SecretSets)
	}
	if !strings.Contains(out, "--credential federated --federated-identity mi-principal") || !strings.Contains(out, "functionKeys.default") {
		t.Errorf("first deployment's next steps lack the register flags or the function key command:\n%s", out)
	}

	// Step 3 of the README: the app id wired in; now the package goes out.
	calls, out, err = e.run(map[string]string{"RESOURCE_GROUP": "rg1", "APP_CLIENT_ID": appID})
	if err != nil {
		t.Fatalf("wiring the app id failed: %v\n%s", err, out)
	}
	sameCalls(t, "app id", calls, append(append(upgradeCalls("rg1"),
		"keyvault secret show --vault-name "+vaultStr+" -n state-signing-key --query id -o tsv",
		"functionapp deployment source config-zip -g rg1 -n tsync-func-abc --src "+e.pkg+" -o none"),
		outputCalls("rg1", false)...))
	if got := e.load().Params["appClientId"]; got != appID {
		t.Errorf("appClientId %v, want %s", got, appID)
	}

	// An operator changes a tunable and adds a setting of their own in the portal.
	e.edit(func(s *fakeaz.State) {
		s.Settings["LOG_LEVEL"] = "debug"
		s.Settings["MY_ALERT_EMAIL"] = `ops@msp.example "night" \ shift`
	})
	before := e.load()
	calls, out, err = e.run(map[string]string{"RESOURCE_GROUP": "rg1"})
	if err != nil {
		t.Fatalf("upgrade failed: %v\n%s", err, out)
	}
	sameCalls(t, "upgrade", calls, append(append(upgradeCalls("rg1"),
		"keyvault secret show --vault-name "+vaultStr+" -n state-signing-key --query id -o tsv",
		"functionapp deployment source config-zip -g rg1 -n tsync-func-abc --src "+e.pkg+" -o none"),
		outputCalls("rg1", false)...))
	after := e.load()
	if !equalJSON(after.Params, before.Params) {
		t.Errorf("an upgrade with an empty environment changed the parameters\nbefore %v\n after %v", before.Params, after.Params)
	}
	if !maps.Equal(after.Settings, before.Settings) {
		t.Errorf("an upgrade with an empty environment changed app settings\nbefore %v\n after %v", before.Settings, after.Settings)
	}
	if after.SecretSets != 1 {
		t.Errorf("the signing key was written %d times in all, want once", after.SecretSets)
	}
}

// A new vault name per first deployment: after a removal, redeploying into the same resource group
// name does not collide with the soft-deleted vault; an existing vault of an older deployment is kept.
func TestDeployVaultNameAfterRemovalAndForOlderDeployments(t *testing.T) {
	e := newDeployEnv(t, fakeaz.State{Tenant: partnerTenant, User: "user-1"})
	if _, out, err := e.run(map[string]string{"RESOURCE_GROUP": "rg1", "LOCATION": "westeurope"}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	firstVault := e.load().Params["keyVaultName"]
	e.edit(func(s *fakeaz.State) { *s = fakeaz.State{Tenant: partnerTenant, User: "user-1", Calls: s.Calls} }) // az group delete
	if _, out, err := e.run(map[string]string{"RESOURCE_GROUP": "rg1", "LOCATION": "westeurope"}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if second := e.load().Params["keyVaultName"]; second == firstVault {
		t.Errorf("redeploy after removal reused vault name %v, which is soft-deleted for 90 days", second)
	}
	// A deployment from before keyVaultName existed: its vault (found in the group) is kept.
	e2 := newDeployEnv(t, fakeaz.State{Tenant: partnerTenant, User: "user-1", GroupExists: true, Location: "westeurope", Vaults: []string{"tsync-kv-olddeterministic"}, Secret: true})
	if _, out, err := e2.run(map[string]string{"RESOURCE_GROUP": "rg2"}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := e2.load().Params["keyVaultName"]; got != "tsync-kv-olddeterministic" {
		t.Errorf("vault %v, want the existing tsync-kv-olddeterministic", got)
	}
}

// Key Vault answers 403 while the operator's role propagates: deploy.sh grants the role once, waits
// with a message, and writes the key only after Key Vault says it does not exist. A secret it can
// finally read is kept. Denied for good: it stops with the fix and writes nothing.
func TestDeployKeyVault403WaitsAndNeverWritesOnForbidden(t *testing.T) {
	for _, c := range []struct {
		name      string
		state     fakeaz.State
		env       map[string]string
		wantSets  int
		wantReads int
		wantErr   bool
	}{
		{"absent after two 403s", fakeaz.State{Forbidden: 2}, nil, 1, 3, false},
		{"present after one 403", fakeaz.State{Forbidden: 1, Secret: true}, nil, 0, 2, false},
		{"denied for good", fakeaz.State{AlwaysDeny: true, Secret: false}, map[string]string{"DEPLOY_RETRIES": "3"}, 0, 3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.state
			s.Tenant, s.User, s.GroupExists, s.Location = partnerTenant, "user-1", true, "westeurope"
			e := newDeployEnv(t, s)
			env := map[string]string{"RESOURCE_GROUP": "rg1"}
			maps.Copy(env, c.env)
			calls, out, err := e.run(env)
			if (err != nil) != c.wantErr {
				t.Fatalf("err %v, want error %v\n%s", err, c.wantErr, out)
			}
			st := e.load()
			vault := fmt.Sprint(st.Params["keyVaultName"])
			if st.SecretSets != c.wantSets {
				t.Errorf("signing key written %d times, want %d", st.SecretSets, c.wantSets)
			}
			var kv []string
			for _, call := range calls {
				if strings.HasPrefix(call, "keyvault ") || strings.HasPrefix(call, "ad ") || strings.HasPrefix(call, "role ") {
					kv = append(kv, call)
				}
			}
			want := []string{
				"keyvault list -g rg1 --query [0].name -o tsv",
				"keyvault secret show --vault-name " + vault + " -n state-signing-key --query id -o tsv",
				"ad signed-in-user show --query id -o tsv",
				"keyvault show -n " + vault + " -g rg1 --query id -o tsv",
				"role assignment create --assignee-object-id user-1 --assignee-principal-type User --role b86a8fe4-44ce-4948-aee5-eccb2c155cd7 --scope /subscriptions/sub/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/" + vault + " -o none",
			}
			for range c.wantReads - 1 {
				want = append(want, "keyvault secret show --vault-name "+vault+" -n state-signing-key --query id -o tsv")
			}
			if c.wantSets == 1 {
				want = append(want, "keyvault secret set --vault-name "+vault+" -n state-signing-key --file KEYFILE --encoding utf-8 -o none")
			}
			sameCalls(t, c.name, kv, want)
			if len(st.RoleGrants) != 1 {
				t.Errorf("role granted %d times, want once", len(st.RoleGrants))
			}
			if !strings.Contains(out, "waiting for your Key Vault role") {
				t.Errorf("no waiting message:\n%s", out)
			}
			if c.wantErr && (!strings.Contains(out, "Key Vault Secrets Officer") || !strings.Contains(out, "No signing key was written")) {
				t.Errorf("the failure does not say what to do:\n%s", out)
			}
		})
	}
}

// Federated mode with the subscription in another tenant than the partner's cannot work: refused
// before anything is deployed.
func TestDeployRefusesFederatedAcrossTenants(t *testing.T) {
	e := newDeployEnv(t, fakeaz.State{Tenant: "11111111-2222-3333-4444-555555555555", User: "user-1", GroupExists: true, Location: "westeurope"})
	calls, out, err := e.run(map[string]string{"RESOURCE_GROUP": "rg1", "PARTNER_TENANT_ID": partnerTenant})
	if err == nil || !strings.Contains(out, "APP_AUTH=certificate") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "deployment group create") {
			t.Error("deployed although the federated credential cannot work")
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// A variable set, even to empty, wins over the running app's value (that is how a setting is cleared);
// an unset one keeps it.
func TestDeployEnvironmentOverridesAndClears(t *testing.T) {
	e := newDeployEnv(t, fakeaz.State{Tenant: partnerTenant, User: "user-1"})
	if _, out, err := e.run(map[string]string{"RESOURCE_GROUP": "rg1", "LOCATION": "westeurope", "APP_CLIENT_ID": appID,
		"ADMIN_GROUP_ID": "0c7a1f5e-3b2d-4c6e-8f9a-7d1e2c3b4a50", "CONSENT_MAIL_FROM": "svc@msp.example", "AUTO_CONSENT": "FALSE"}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, out, err := e.run(map[string]string{"RESOURCE_GROUP": "rg1", "ADMIN_GROUP_ID": ""}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	p := e.load().Params
	if p["adminGroupId"] != "" || p["consentMailFrom"] != "svc@msp.example" || p["autoConsent"] != false || p["appClientId"] != appID {
		t.Errorf("parameters after clearing ADMIN_GROUP_ID: %v", p)
	}
	if _, out, err := e.run(map[string]string{"RESOURCE_GROUP": "rg1", "AUTO_CONSENT": "maybe"}); err == nil || !strings.Contains(out, "AUTO_CONSENT must be true or false") {
		t.Errorf("a bad AUTO_CONSENT was accepted: %v\n%s", err, out)
	}
}
