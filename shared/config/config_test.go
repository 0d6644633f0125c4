package config

import (
	"strings"
	"testing"
)

func env(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func valid() map[string]string {
	return map[string]string{
		SettingPort:               "40123",
		SettingTablesConnection:   "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
		SettingLocalQueueEndpoint: "http://127.0.0.1:7071/",
		SettingPartnerTenantID:    "5CE257AD-9315-420b-900a-9d770d9cda65",
		SettingAppClientID:        "7d1f3b52-4c1e-4a6b-9f3e-2b8c6d0a9e11",
		SettingAppClientSecret:    "s3cret",
		SettingPublicBaseURL:      "http://localhost:7071",
		SettingKeyVaultURL:        "https://127.0.0.1:7446/",
		SettingStateSigningKey:    "bG9jYWwtZGV2ZWxvcG1lbnQtc3RhdGUtc2lnbmluZy1rZXktMzI=",
	}
}

func TestLoadValid(t *testing.T) {
	c, err := Load(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	if c.PartnerTenantID != "5ce257ad-9315-420b-900a-9d770d9cda65" || c.Cloud.GraphURL != "https://graph.microsoft.com/v1.0" || c.SyncConcurrency != 4 || c.FanoutSpread != 0 {
		t.Errorf("defaults/normalisation: %+v", c)
	}
	if c.Port != 40123 || c.Queue.Name != "tenant-sync" || c.Queue.LocalEndpoint != "http://127.0.0.1:7071" || c.LogFormat != "json" {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadNamesEveryBadSetting(t *testing.T) {
	cases := []struct {
		name string
		mod  func(map[string]string)
		want []string
	}{
		{"missing port", func(m map[string]string) { delete(m, SettingPort) }, []string{"setting FUNCTIONS_CUSTOMHANDLER_PORT is missing"}},
		{"bad port", func(m map[string]string) { m[SettingPort] = "70000" }, []string{"FUNCTIONS_CUSTOMHANDLER_PORT is \"70000\""}},
		{"no tables", func(m map[string]string) { delete(m, SettingTablesConnection) }, []string{"TABLES_CONNECTION_STRING and TABLES_ENDPOINT are both missing"}},
		{"both queues", func(m map[string]string) { m[SettingServiceBusNamespace] = "ns.servicebus.windows.net" }, []string{"ServiceBusConnection__fullyQualifiedNamespace and LOCAL_QUEUE_ENDPOINT are both set"}},
		{"http tables endpoint", func(m map[string]string) {
			delete(m, SettingTablesConnection)
			m[SettingTablesEndpoint] = "http://acct.table.core.windows.net"
		}, []string{"TABLES_ENDPOINT is \"http://acct.table.core.windows.net\", want a https URL"}},
		{"key vault reference", func(m map[string]string) {
			m[SettingTablesConnection] = "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/tables/)"
		}, []string{"TABLES_CONNECTION_STRING is an unresolved Key Vault reference"}},
		{"bad guid", func(m map[string]string) { m[SettingAppClientID] = "my-app" }, []string{"APP_CLIENT_ID is \"my-app\", want a GUID"}},
		{"no secret", func(m map[string]string) { delete(m, SettingAppClientSecret) }, []string{"APP_CLIENT_SECRET is missing"}},
		{"certificate without one", func(m map[string]string) { m[SettingAppAuth] = "certificate" }, []string{"APP_CERTIFICATE is missing"}},
		{"bad auth", func(m map[string]string) { m[SettingAppAuth] = "password" }, []string{"APP_AUTH is \"password\""}},
		{"ca file", func(m map[string]string) { m[SettingCloudCAFile] = "/nonexistent/ca.pem" }, []string{"CLOUD_CA_FILE names \"/nonexistent/ca.pem\""}},
		{"spread", func(m map[string]string) { m[SettingFanoutSpread] = "soon" }, []string{"FANOUT_SPREAD is \"soon\""}},
		{"concurrency", func(m map[string]string) { m[SettingSyncConcurrency] = "100" }, []string{"SYNC_CONCURRENCY is \"100\""}},
		{"refresh too long", func(m map[string]string) { m[SettingRefreshMailboxes] = "P30D" }, []string{"REFRESH_MAILBOXES is \"P30D\", want at most P7D"}},
		{"refresh not a duration", func(m map[string]string) { m[SettingRefreshDevices] = "daily" }, []string{"REFRESH_DEVICES is \"daily\""}},
		{"short key", func(m map[string]string) { m[SettingStateSigningKey] = "c2hvcnQ=" }, []string{"STATE_SIGNING_KEY is not base64 of at least 32 bytes"}},
		{"bad bool", func(m map[string]string) { m[SettingAutoConsent] = "maybe" }, []string{"AUTO_CONSENT is \"maybe\""}},
		{"auth flag not .NET's", func(m map[string]string) { m[SettingAppServiceAuth] = "1" }, []string{"WEBSITE_AUTH_ENABLED is \"1\", want True or False"}},
		{"several at once", func(m map[string]string) { delete(m, SettingPort); m[SettingLogLevel] = "loud" }, []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "LOG_LEVEL is \"loud\""}},
	}
	for _, c := range cases {
		m := valid()
		c.mod(m)
		_, err := Load(env(m))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", c.name, err, w)
			}
		}
	}
}

func TestKnownListsEverySetting(t *testing.T) {
	got := strings.Join(Known(), ",")
	for _, name := range []string{SettingPort, SettingTablesConnection, SettingTablesEndpoint, SettingLocalQueueEndpoint, SettingServiceBusNamespace, SettingQueueName, SettingLogFormat} {
		if !strings.Contains(got, name) {
			t.Errorf("Known() = %s, missing %s", got, name)
		}
	}
}

func TestDurations(t *testing.T) {
	for v, want := range map[string]string{"PT30M": "30m0s", "30m": "30m0s", "P1DT2H": "26h0m0s", "PT0S": "0s", "PT90S": "1m30s"} {
		m := valid()
		m[SettingFanoutSpread] = v
		c, err := Load(env(m))
		if err != nil || c.FanoutSpread.String() != want {
			t.Errorf("%s: %v %v, want %s", v, c, err, want)
		}
	}
}

func TestFederatedNeedsNoSecret(t *testing.T) {
	m := valid()
	delete(m, SettingAppClientSecret)
	m[SettingAppAuth] = "federated"
	c, err := Load(env(m))
	if err != nil || c.App.Auth != AuthFederated || c.App.ClientSecret != "" {
		t.Fatalf("%+v %v", c, err)
	}
}

// WEBSITE_AUTH_ENABLED as App Service injects it (the host reads it with Convert.ToBoolean).
func TestAppServiceAuth(t *testing.T) {
	for v, want := range map[string]bool{"True": true, "true": true, "TRUE": true, "False": false, "false": false, "": false} {
		m := valid()
		m[SettingAppServiceAuth] = v
		c, err := Load(env(m))
		if err != nil || c.AppServiceAuth != want {
			t.Errorf("%q: %v %v, want %v", v, c.AppServiceAuth, err, want)
		}
	}
	if c, err := Load(env(valid())); err != nil || c.AppServiceAuth {
		t.Errorf("absent: %v %v, want off", c.AppServiceAuth, err)
	}
}
