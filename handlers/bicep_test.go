package handlers

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/config"
)

func bicep(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "infra", "main.bicep"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// localOnly settings are never set in Azure: the host sets the port; Azurite, the local queue and
// the simulator's CA exist only on a developer machine.
var localOnly = map[string]bool{
	config.SettingPort: true, config.SettingTablesConnection: true, config.SettingLocalQueueEndpoint: true, config.SettingCloudCAFile: true,
}

// platformSet settings are injected by App Service itself, never by the template: setting
// WEBSITE_AUTH_ENABLED by hand would make the handler trust a header nobody strips.
var platformSet = map[string]bool{config.SettingAppServiceAuth: true}

// Every setting the handler reads is set by the Bicep (or is local-only or platform-set), and every %Setting% a
// function.json schedule names is set too.
func TestBicepSetsEverySetting(t *testing.T) {
	src := bicep(t)
	set := map[string]bool{}
	for _, m := range regexp.MustCompile(`\{ name: '([^']+)', value:`).FindAllStringSubmatch(src, -1) {
		set[m[1]] = true
	}
	if len(set) < 10 {
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
		re := regexp.MustCompile(`\{ name: '` + secret + `', value: [^\n]*@Microsoft\.KeyVault\(SecretUri=`)
		if !re.MatchString(src) {
			t.Errorf("%s must be a Key Vault reference in main.bicep", secret)
		}
	}
	// Flex Consumption takes the runtime from functionAppConfig and rejects FUNCTIONS_WORKER_RUNTIME.
	if set["FUNCTIONS_WORKER_RUNTIME"] || !strings.Contains(src, "runtime: { name: 'custom'") {
		t.Error("main.bicep must set the custom runtime in functionAppConfig and not FUNCTIONS_WORKER_RUNTIME")
	}
}

// The managed identity holds exactly the roles the product needs, nothing broader.
func TestBicepRoleAssignmentsAreExactlyTheListedOnes(t *testing.T) {
	src := bicep(t)
	want := map[string]string{
		"b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
		"0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
		"69a216fc-b8fb-44d8-bc22-1f3c2552a1d6": "Azure Service Bus Data Sender",
		"4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": "Azure Service Bus Data Receiver",
		"b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
	}
	got := map[string]bool{}
	for _, m := range regexp.MustCompile(`'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})' // `).FindAllStringSubmatch(src, -1) {
		got[m[1]] = true
	}
	for id, name := range want {
		if !got[id] {
			t.Errorf("role %s (%s) is not assigned", name, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("main.bicep assigns role %s, which is not on the list", id)
		}
	}
	if n := strings.Count(src, "'Microsoft.Authorization/roleAssignments@"); n != len(want) {
		t.Errorf("%d role assignment resources, want %d", n, len(want))
	}
	for _, must := range []string{"allowSharedKeyAccess: false", "enableRbacAuthorization: true", "enablePurgeProtection: true",
		"requiresDuplicateDetection: true", "maxDeliveryCount: 10", "disableLocalAuth: true", "tier: 'FlexConsumption'"} {
		if !strings.Contains(src, must) {
			t.Errorf("main.bicep lacks %q", must)
		}
	}
}
