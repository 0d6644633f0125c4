// Package fakeaz is a recording stand-in for the az CLI, for the tests of infra/deploy.sh (no real az
// can run where tenantsync is tested). It keeps a small model of the resource group in a JSON file
// named by $FAKE_AZ_STATE (the last deployment's parameters and outputs, the app's settings, the
// vault's secret and who may read it), records every call, and answers the commands deploy.sh uses
// the way az does (values on stdout, errors with Azure's error codes on stderr and a non-zero exit).
// cmd/az is the executable; the tests build it once.
package fakeaz

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// azState is the fake's model of Azure.
type State struct {
	Tenant      string            `json:"tenant"`
	User        string            `json:"user"` // signed-in user's object id; "" = a service principal
	GroupExists bool              `json:"groupExists"`
	Location    string            `json:"location"`
	Deployed    bool              `json:"deployed"`
	Params      map[string]any    `json:"params"`  // the last deployment's parameters (secure ones dropped)
	Outputs     map[string]string `json:"outputs"` // the last deployment's outputs
	Settings    map[string]string `json:"settings"`
	Vaults      []string          `json:"vaults"`
	Secret      bool              `json:"secret"`         // state-signing-key exists
	Forbidden   int               `json:"forbidden"`      // this many secret reads answer 403 first
	AlwaysDeny  bool              `json:"alwaysDeny"`     // every secret read answers 403
	LastParams  map[string]any    `json:"lastParams"`     // every parameter of the last create, secure ones too
	SecretSets  int               `json:"secretSets"`     // writes of state-signing-key
	RoleGrants  []string          `json:"roleGrants"`     // role assignment create calls
	Calls       []string          `json:"calls,omitzero"` // normalised argv of each call
}

func Load(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s State
	return &s, json.Unmarshal(b, &s)
}

func (s *State) Save(path string) error {
	b, _ := json.MarshalIndent(s, "", " ")
	return os.WriteFile(path, b, 0o644)
}

// arg returns the value after flag in args.
func arg(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// Run is one az invocation with args; it returns the exit code.
func Run(args []string) int {
	path := os.Getenv("FAKE_AZ_STATE")
	s, err := Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake az:", err)
		return 99
	}
	// Record the call with the temporary parameters file's path normalised.
	norm := make([]string, len(args))
	for i, a := range args {
		if strings.HasPrefix(a, "@") {
			a = "@PARAMS"
		}
		if i > 0 && args[i-1] == "--file" {
			a = "KEYFILE"
		}
		norm[i] = a
	}
	s.Calls = append(s.Calls, strings.Join(norm, " "))
	code := s.answer(args)
	if err := s.Save(path); err != nil {
		fmt.Fprintln(os.Stderr, "fake az:", err)
		return 99
	}
	return code
}

func (s *State) answer(args []string) int {
	cmd := strings.Join(args[:min(3, len(args))], " ")
	query := arg(args, "--query")
	out := func(v string) int { fmt.Println(v); return 0 }
	fail := func(code int, msg string) int { fmt.Fprintln(os.Stderr, msg); return code }
	switch {
	case cmd == "account show --query":
		return out(s.Tenant)
	case cmd == "group show -n":
		if !s.GroupExists {
			return fail(3, "(ResourceGroupNotFound) Resource group '"+arg(args, "-n")+"' could not be found.")
		}
		return out(s.Location)
	case cmd == "group create -n":
		s.GroupExists, s.Location = true, arg(args, "-l")
		return 0
	case cmd == "deployment group show":
		if !s.Deployed {
			return fail(3, "(DeploymentNotFound) Deployment 'tenantsync' could not be found.")
		}
		switch {
		case query == "name":
			return out("tenantsync")
		case strings.HasPrefix(query, "properties.parameters."):
			v, ok := s.Params[strings.TrimSuffix(strings.TrimPrefix(query, "properties.parameters."), ".value")]
			if !ok {
				return out("")
			}
			return out(fmt.Sprint(v))
		case strings.HasPrefix(query, "properties.outputs."):
			return out(s.Outputs[strings.TrimSuffix(strings.TrimPrefix(query, "properties.outputs."), ".value")])
		}
	case cmd == "functionapp config appsettings":
		names := sort.StringSlice(nil)
		for k := range s.Settings {
			names = append(names, k)
		}
		names.Sort()
		for _, k := range names {
			fmt.Printf("%s\t%s\n", k, s.Settings[k])
		}
		return 0
	case cmd == "keyvault list -g":
		if len(s.Vaults) == 0 {
			return out("")
		}
		return out(s.Vaults[0])
	case cmd == "deployment group create":
		return s.deploy(arg(args, "-p"))
	case cmd == "keyvault secret show":
		if s.AlwaysDeny || s.Forbidden > 0 {
			if s.Forbidden > 0 {
				s.Forbidden--
			}
			return fail(1, "(Forbidden) Caller is not authorized to perform action on resource.\nInner error: {\"code\": \"ForbiddenByRbac\"}")
		}
		if !s.Secret {
			return fail(3, "(SecretNotFound) A secret with (name/id) state-signing-key was not found in this key vault.")
		}
		return out("https://vault/secrets/state-signing-key/1")
	case cmd == "keyvault secret set":
		if s.AlwaysDeny || s.Forbidden > 0 {
			return fail(1, "(Forbidden) Caller is not authorized")
		}
		key, err := os.ReadFile(arg(args, "--file"))
		if err != nil || len(key) < 40 {
			return fail(1, fmt.Sprintf("fake az: signing key file unreadable or short (%d bytes)", len(key)))
		}
		s.Secret = true
		s.SecretSets++
		return 0
	case cmd == "ad signed-in-user show":
		if s.User == "" {
			return fail(1, "Resource 'me' does not exist")
		}
		return out(s.User)
	case cmd == "keyvault show -n":
		return out("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/" + arg(args, "-n"))
	case cmd == "role assignment create":
		s.RoleGrants = append(s.RoleGrants, arg(args, "--role")+" "+arg(args, "--assignee-object-id")+" "+arg(args, "--scope"))
		return 0
	case cmd == "functionapp deployment source":
		if _, err := os.Stat(arg(args, "--src")); err != nil {
			return fail(1, "fake az: no package: "+err.Error())
		}
		return 0
	}
	return fail(99, "fake az: unexpected command: az "+strings.Join(args, " "))
}

// deploy models main.bicep: parameters recorded (secure ones not kept in the history), outputs, and
// the app settings as union(tunables, currentAppSettings, parameterSettings, platformSettings).
func (s *State) deploy(paramsArg string) int {
	b, err := os.ReadFile(strings.TrimPrefix(paramsArg, "@"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake az:", err)
		return 1
	}
	var file struct {
		Parameters map[string]struct {
			Value any `json:"value"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		fmt.Fprintln(os.Stderr, "fake az: parameters file is not JSON:", err, string(b))
		return 1
	}
	s.LastParams, s.Params = map[string]any{}, map[string]any{}
	for k, v := range file.Parameters {
		s.LastParams[k] = v.Value
		if k != "currentAppSettings" {
			s.Params[k] = v.Value
		}
	}
	s.Deployed = true
	vault := fmt.Sprint(s.Params["keyVaultName"])
	s.Outputs = map[string]string{"functionAppName": "tsync-func-abc", "keyVaultName": vault, "keyVaultUrl": "https://" + vault + ".vault.azure.net/",
		"appUrl": "https://tsync-func-abc.azurewebsites.net", "managedIdentityPrincipalId": "mi-principal", "managedIdentityTenantId": s.Tenant}
	if !contains(s.Vaults, vault) {
		s.Vaults = append(s.Vaults, vault)
	}
	settings := map[string]string{"LOG_LEVEL": "info", "SYNC_CONCURRENCY": "4"}
	if cur, ok := s.LastParams["currentAppSettings"].(map[string]any); ok {
		for k, v := range cur {
			settings[k] = fmt.Sprint(v)
		}
	}
	for setting, param := range map[string]string{"APP_CLIENT_ID": "appClientId", "APP_AUTH": "appAuth", "PARTNER_TENANT_ID": "partnerTenantId",
		"ADMIN_GROUP_ID": "adminGroupId", "CONSENT_MAIL_FROM": "consentMailFrom", "FANOUT_SCHEDULE": "fanoutSchedule",
		"DISCOVERY_SCHEDULE": "discoverySchedule", "FANOUT_SPREAD": "fanoutSpread", "AUTO_CONSENT": "autoConsent"} {
		settings[setting] = fmt.Sprint(s.Params[param])
	}
	settings["KEY_VAULT_URL"] = s.Outputs["keyVaultUrl"]
	s.Settings = settings
	return 0
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
