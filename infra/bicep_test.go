// Package infra holds the deployment (main.bicep, deploy.sh) and its contract tests: no Bicep compiler
// or az CLI can run here, so these tests pin what can be checked offline.
package infra

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/operation"
)

func bicep(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("main.bicep")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// builtInRoles are Azure built-in role names and ids as Microsoft publishes them ("Azure built-in
// roles", learn.microsoft.com/azure/role-based-access-control/built-in-roles: Storage, Integration,
// Security), for every role main.bicep might assign. The template's ROLE table must agree.
var builtInRoles = map[string]string{
	"Storage Blob Data Owner":         "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
	"Storage Table Data Contributor":  "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
	"Azure Service Bus Data Owner":    "090c5cfd-751d-490a-894a-3ce6f1109419",
	"Azure Service Bus Data Receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
	"Azure Service Bus Data Sender":   "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
	"Key Vault Secrets Officer":       "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
	"Key Vault Secrets User":          "4633458b-17de-408a-b874-0445c86b69e6",
}

var (
	roleRow    = regexp.MustCompile(`(?m)^//\s+ROLE ([0-9a-f-]{36})\s+(.+?)\s{2,}`)
	guidString = regexp.MustCompile(`'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'`)
	rolesVar   = regexp.MustCompile(`(?s)\nvar roles = \{\n(.*?)\n\}`)
)

// checkRoles returns every disagreement between the template's ROLE table, Microsoft's role ids, the
// roles variable and the role assignments.
func checkRoles(src string) []string {
	var problems []string
	table := map[string]string{} // id -> name
	for _, m := range roleRow.FindAllStringSubmatch(src, -1) {
		id, name := m[1], m[2]
		want, known := builtInRoles[name]
		switch {
		case !known:
			problems = append(problems, fmt.Sprintf("ROLE table names %q, which is not a built-in role this test knows", name))
		case want != id:
			problems = append(problems, fmt.Sprintf("ROLE table: %s is %s in Azure built-in roles, not %s", name, want, id))
		}
		table[id] = name
	}
	if len(table) == 0 {
		return append(problems, "main.bicep has no ROLE table")
	}
	v := rolesVar.FindStringSubmatch(src)
	if v == nil {
		return append(problems, "main.bicep has no roles variable")
	}
	used := map[string]bool{}
	for _, m := range guidString.FindAllStringSubmatch(v[1], -1) {
		used[m[1]] = true
		if _, ok := table[m[1]]; !ok {
			problems = append(problems, fmt.Sprintf("roles variable holds %s, which is not in the ROLE table", m[1]))
		}
	}
	for id, name := range table {
		if !used[id] {
			problems = append(problems, fmt.Sprintf("ROLE table lists %s (%s) but the roles variable does not", name, id))
		}
	}
	// Every assignment names its role through the roles variable, never a literal id.
	for _, m := range regexp.MustCompile(`roleDefinitionId: ([^\n]+)`).FindAllStringSubmatch(src, -1) {
		if !regexp.MustCompile(`^subscriptionResourceId\('Microsoft\.Authorization/roleDefinitions', roles\.[A-Za-z]+\)$`).MatchString(strings.TrimSpace(m[1])) {
			problems = append(problems, "role assignment does not use the roles variable: "+m[1])
		}
	}
	sort.Strings(problems)
	return problems
}

// The template's roles are exactly the ROLE table, each id is Microsoft's id for the role's name.
func TestBicepRolesMatchMicrosoftsIDs(t *testing.T) {
	if p := checkRoles(bicep(t)); len(p) > 0 {
		t.Errorf("main.bicep roles:\n%s", strings.Join(p, "\n"))
	}
}

// The check fails for the wrong Data Sender id the template once had (issue 12), and for a roles
// variable that drifts from the table.
func TestBicepRoleCheckCatchesAWrongID(t *testing.T) {
	src := bicep(t)
	wrong := strings.Replace(src, "090c5cfd-751d-490a-894a-3ce6f1109419  Azure Service Bus Data Owner",
		"69a216fc-b8fb-44d8-bc22-1f3c2552a1d6  Azure Service Bus Data Sender", 1)
	if wrong == src {
		t.Fatal("the ROLE table row for Azure Service Bus Data Owner is not where this test expects it")
	}
	p := checkRoles(wrong)
	if len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), "Azure Service Bus Data Sender is 69a216fc-b8fb-44d8-bc22-1f3c2cd27a39") {
		t.Errorf("a wrong Data Sender id was not caught: %v", p)
	}
	drift := strings.Replace(src, "  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'", "  keyVaultSecretsOfficer: '4633458b-17de-408a-b874-0445c86b69e6'", 1)
	if drift == src || len(checkRoles(drift)) == 0 {
		t.Error("a roles variable that differs from the table was not caught")
	}
}

// settingKeys are the app setting names main.bicep sets: the keys of its settings objects.
func settingKeys(t *testing.T, src string) map[string]bool {
	t.Helper()
	set := map[string]bool{}
	for _, obj := range []string{"tunables", "parameterSettings", "platformSettings"} {
		m := regexp.MustCompile(`(?s)\nvar ` + obj + ` = \{\n(.*?)\n\}`).FindStringSubmatch(src)
		if m == nil {
			t.Fatalf("main.bicep has no %s object", obj)
		}
		for _, k := range regexp.MustCompile(`(?m)^  ([A-Za-z0-9_]+): `).FindAllStringSubmatch(m[1], -1) {
			set[k[1]] = true
		}
	}
	return set
}

// localOnly settings are never set in Azure: the host sets the port; Azurite, the local queue and
// the simulator's CA exist only on a developer machine.
var localOnly = map[string]bool{
	config.SettingPort: true, config.SettingTablesConnection: true, config.SettingLocalQueueEndpoint: true, config.SettingCloudCAFile: true,
}

// platformSet settings are injected by App Service itself, never by the template: setting
// WEBSITE_AUTH_ENABLED by hand would make the handler trust a header nobody strips.
var platformSet = map[string]bool{config.SettingAppServiceAuth: true}

// Every setting the handler reads is set by the Bicep (or is local-only or platform-set), and every
// %Setting% a function.json names is set too; the settings list keeps what the running app has.
func TestBicepSetsEverySetting(t *testing.T) {
	src := bicep(t)
	set := settingKeys(t, src)
	if len(set) < 20 {
		t.Fatalf("found only %d app settings in main.bicep: has its shape changed?", len(set))
	}
	var missing []string
	for _, name := range config.Known() {
		if !set[name] && !localOnly[name] && !platformSet[name] {
			missing = append(missing, name)
		}
	}
	fns, _ := filepath.Glob(filepath.Join("..", "functions", "*", "function.json"))
	for _, f := range fns {
		b, _ := os.ReadFile(f)
		for _, m := range regexp.MustCompile(`"%([A-Za-z0-9_]+)%"`).FindAllStringSubmatch(string(b), -1) {
			if !set[m[1]] {
				missing = append(missing, m[1]+" ("+filepath.Base(filepath.Dir(f))+")")
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("settings the code reads but main.bicep does not set: %v", missing)
	}
	for name := range platformSet {
		if set[name] {
			t.Errorf("main.bicep sets %s, which App Service injects itself", name)
		}
	}
	// Secrets arrive as Key Vault references, never as literal values in the template.
	for _, secret := range []string{config.SettingAppClientSecret, config.SettingAppCertificate, config.SettingStateSigningKey} {
		if !regexp.MustCompile(`(?m)^  ` + secret + `: [^\n]*@Microsoft\.KeyVault\(SecretUri=`).MatchString(src) {
			t.Errorf("%s must be a Key Vault reference in main.bicep", secret)
		}
	}
	// Flex Consumption takes the runtime from functionAppConfig and rejects FUNCTIONS_WORKER_RUNTIME.
	if set["FUNCTIONS_WORKER_RUNTIME"] || !strings.Contains(src, "runtime: { name: 'custom'") {
		t.Error("main.bicep must set the custom runtime in functionAppConfig and not FUNCTIONS_WORKER_RUNTIME")
	}
	// siteConfig.appSettings replaces the whole list: it must be the merge that keeps the running
	// app's settings (an upgrade with an empty environment must not blank APP_CLIENT_ID).
	if !strings.Contains(src, "items(union(tunables, currentAppSettings, parameterSettings, platformSettings))") ||
		!strings.Contains(src, "appSettings: appSettings") {
		t.Error("main.bicep must build siteConfig.appSettings from union(tunables, currentAppSettings, parameterSettings, platformSettings)")
	}
	if !regexp.MustCompile(`@secure\(\)\nparam currentAppSettings object`).MatchString(src) {
		t.Error("currentAppSettings must be @secure(): an operator's settings must not land in the deployment history")
	}
}

// The operations queue the handler sends to and the OperationRun function listens on exists, with
// the same name, and both queues have their role assignment.
func TestBicepQueuesMatchTheFunctions(t *testing.T) {
	src := bicep(t)
	for _, q := range []string{"tenant-sync", operation.QueueName} {
		if !strings.Contains(src, "'"+q+"'") {
			t.Errorf("main.bicep does not create queue %s", q)
		}
		found := false
		fns, _ := filepath.Glob(filepath.Join("..", "functions", "*", "function.json"))
		for _, f := range fns {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), `"queueName": "`+q+`"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no function listens on queue %s", q)
		}
	}
	if n := strings.Count(src, "scope: queue\n") + strings.Count(src, "scope: operationsQueue\n"); n != 2 {
		t.Errorf("%d Service Bus role assignments, want one per queue", n)
	}
	for _, must := range []string{"allowSharedKeyAccess: false", "enableRbacAuthorization: true", "enablePurgeProtection: true",
		"requiresDuplicateDetection: true", "maxDeliveryCount: 10", "disableLocalAuth: true", "tier: 'FlexConsumption'",
		"keyVault: keyVaultName"} {
		if !strings.Contains(src, must) {
			t.Errorf("main.bicep lacks %q", must)
		}
	}
}

// nodeCheck runs the tree-sitter-bicep syntax check on file.
func nodeCheck(t *testing.T, file string) (string, error) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the Bicep syntax check (make test installs the grammar with npm ci)")
	}
	if _, err := os.Stat(filepath.Join("..", "node_modules", "tree-sitter-bicep")); err != nil {
		t.Fatal("node_modules/tree-sitter-bicep is missing: run make test (npm ci installs package-lock.json)")
	}
	out, err := exec.Command(node, "check-bicep.js", file).CombinedOutput()
	return string(out), err
}

// main.bicep parses with the Bicep grammar, and the check fails on a syntax error.
func TestBicepSyntax(t *testing.T) {
	if out, err := nodeCheck(t, "main.bicep"); err != nil {
		t.Fatalf("main.bicep has syntax errors:\n%s", out)
	}
	src := bicep(t)
	for name, broken := range map[string]string{
		"unclosed object":    strings.Replace(src, "var tunables = {", "var tunables = {{", 1),
		"unclosed string":    strings.Replace(src, "LOG_LEVEL: 'info'", "LOG_LEVEL: 'info", 1),
		"missing resource =": strings.Replace(src, "resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {", "resource plan 'Microsoft.Web/serverfarms@2024-04-01' {", 1),
	} {
		if broken == src {
			t.Fatalf("%s: the mutation did not apply", name)
		}
		f := filepath.Join(t.TempDir(), "broken.bicep")
		if err := os.WriteFile(f, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := nodeCheck(t, f); err == nil {
			t.Errorf("%s: the syntax check passed a broken file:\n%s", name, out)
		}
	}
}
