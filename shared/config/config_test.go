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
	}
}

func TestLoadValid(t *testing.T) {
	c, err := Load(env(valid()))
	if err != nil {
		t.Fatal(err)
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
