package funchost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRouteTemplates(t *testing.T) {
	cases := []struct {
		tmpl, path string
		ok         bool
		params     map[string]string
	}{
		{"api/tenants", "api/tenants", true, nil},
		{"api/tenants", "API/Tenants/", true, nil},
		{"api/tenants", "api/tenants/x", false, nil},
		{"api/tenants/{id}", "api/tenants/abc", true, map[string]string{"id": "abc"}},
		{"api/tenants/{id}/{col?}", "api/tenants/abc", true, map[string]string{"id": "abc"}},
		{"api/tenants/{id}/{col?}", "api/tenants/abc/users", true, map[string]string{"id": "abc", "col": "users"}},
		{"api/files/{*rest}", "api/files/a/b/c", true, map[string]string{"rest": "a/b/c"}},
		{"api/files/{*rest}", "api/files", true, map[string]string{}},
		{"api/n/{n:int}", "api/n/12", true, map[string]string{"n": "12"}},
		{"api/n/{n:int}", "api/n/x", false, nil},
		{"api/n/{n:int:min(10)}", "api/n/9", false, nil},
		{"api/n/{n:range(1,5)}", "api/n/5", true, map[string]string{"n": "5"}},
		{"api/g/{id:guid}", "api/g/0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01", true, map[string]string{"id": "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01"}},
		{"api/g/{id:guid}", "api/g/nope", false, nil},
		{"api/a/{s:alpha:maxlength(3)}", "api/a/abcd", false, nil},
		{"api/r/{s:regex(^x[0-9]+$)}", "api/r/x12", true, map[string]string{"s": "x12"}},
	}
	for _, c := range cases {
		rt, err := parseRoute(c.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", c.tmpl, err)
		}
		params, ok := rt.match(c.path)
		if ok != c.ok {
			t.Errorf("%s ~ %s: ok=%v, want %v", c.tmpl, c.path, ok, c.ok)
			continue
		}
		for k, v := range c.params {
			if params[k] != v {
				t.Errorf("%s ~ %s: %s=%q, want %q", c.tmpl, c.path, k, params[k], v)
			}
		}
	}
	for _, bad := range []string{"api//x", "api/{", "api/{*rest}/more", "api/{id?}/more", "api/{id:nosuch}", "api/x{id}", "api/{}"} {
		if _, err := parseRoute(bad); err == nil {
			t.Errorf("parseRoute(%q) accepted", bad)
		}
	}
	lit, _ := parseRoute("api/tenants/list")
	par, _ := parseRoute("api/tenants/{id}")
	con, _ := parseRoute("api/tenants/{id:guid}")
	all, _ := parseRoute("api/{*rest}")
	if !(lit.precedence() < con.precedence() && con.precedence() < par.precedence() && par.precedence() < all.precedence()) {
		t.Errorf("precedence order wrong: %s %s %s %s", lit.precedence(), con.precedence(), par.precedence(), all.precedence())
	}
}

func TestParseTimeSpan(t *testing.T) {
	good := map[string]time.Duration{"00:10:00": 10 * time.Minute, "00:00:01.5": 1500 * time.Millisecond, "1.02:00:00": 26 * time.Hour, "23:59:59": 24*time.Hour - time.Second}
	for s, want := range good {
		if d, err := ParseTimeSpan(s); err != nil || d != want {
			t.Errorf("ParseTimeSpan(%q) = %v, %v; want %v", s, d, err, want)
		}
	}
	for _, s := range []string{"10m", "00:60:00", "24:00:00", "1:2", "", "-00:01:00"} {
		if _, err := ParseTimeSpan(s); err == nil {
			t.Errorf("ParseTimeSpan(%q) accepted", s)
		}
	}
}

func TestLoadAppErrorsNameTheProblem(t *testing.T) {
	host := `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"},"enableForwardingHttpRequest":true}}`
	cases := []struct {
		host, fn, want string
	}{
		{`{"version":"1.0"}`, `{"bindings":[]}`, `version is "1.0"`},
		{`{"version":"2.0"}`, `{"bindings":[]}`, "defaultExecutablePath is missing"},
		{host, `{"bindings":[]}`, "has 0 triggers"},
		{host, `{"bindings":[{"name":"t","type":"timerTrigger","direction":"in","schedule":"%NOPE%"}]}`, "app setting NOPE, which is not set"},
		{host, `{"bindings":[{"name":"t","type":"timerTrigger","direction":"in","schedule":"0 * * * *"}]}`, "schedule"},
		{host, `{"bindings":[{"name":"m","type":"serviceBusTrigger","direction":"in","connection":"c"}]}`, "needs queueName"},
		{host, `{"bindings":[{"name":"q","type":"queueTrigger","direction":"in"}]}`, `"queueTrigger" is not supported`},
		{host, `{"bindings":[{"name":"r","type":"httpTrigger","direction":"in","authLevel":"system"}]}`, `authLevel "system"`},
		{host, `{"bindings":[{"name":"r","type":"httpTrigger","direction":"in","route":"a/{*x}/b"}]}`, "must be the last segment"},
		{host, `{"bindings":[{"name":"t","type":"timerTrigger","direction":"in","schedule":"0 0 * * * *"}],"retry":{"strategy":"sometimes"}}`, "retry"},
	}
	for _, c := range cases {
		root := t.TempDir()
		_ = os.WriteFile(filepath.Join(root, "host.json"), []byte(c.host), 0o644)
		_ = os.MkdirAll(filepath.Join(root, "functions", "Fn"), 0o755)
		_ = os.WriteFile(filepath.Join(root, "functions", "Fn", "function.json"), []byte(c.fn), 0o644)
		_, err := LoadApp(root, map[string]string{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s / %s: error %v, want it to contain %q", c.host, c.fn, err, c.want)
		}
	}
}

func TestLoadProjectApp(t *testing.T) {
	// The repository's own function app must load: every function.json valid for the host.
	// With the sample settings, as `make run` uses them: every %Setting% a schedule names is there.
	ls, err := LoadLocalSettings(filepath.Join("..", "..", "..", "local.settings.sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	app, err := LoadApp(filepath.Join("..", "..", ".."), ls.Values)
	if err != nil {
		t.Fatal(err)
	}
	if app.Host.FunctionTimeout != 10*time.Minute || !app.Host.Forwarding || app.Host.ServiceBus.MaxConcurrentCalls != 16 {
		t.Errorf("host config %+v", app.Host)
	}
	for _, f := range app.Functions {
		if f.Trigger.Type == TriggerServiceBus && f.Trigger.DataType != "binary" {
			t.Errorf("%s: Service Bus triggers must use dataType binary (lossless body)", f.Name)
		}
		if f.Trigger.Type == TriggerHTTP && !f.Forwarded {
			t.Errorf("%s: HTTP functions must be forwardable (one httpTrigger in, one http out)", f.Name)
		}
	}
}

// Settings added to the sample after local.settings.json was made are filled in, but never a
// secret: a deleted STATE_SIGNING_KEY or APP_CLIENT_SECRET must reach the handler as missing (it
// then names the setting) instead of silently becoming the publicly known sample value.
func TestFillMissingNeverFillsSecrets(t *testing.T) {
	dir := t.TempDir()
	sample := filepath.Join(dir, "sample.json")
	if err := os.WriteFile(sample, []byte(`{"IsEncrypted":false,"Values":{"LOG_LEVEL":"info","NEW_SETTING":"x",
		"STATE_SIGNING_KEY":"c2FtcGxlLXNhbXBsZS1zYW1wbGUtc2FtcGxlLXNhbXBsZQ==","APP_CLIENT_SECRET":"sample~secret",
		"APP_CERTIFICATE":"sample-cert","IDENTITY_HEADER":"sample-header"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ls := &LocalSettings{Values: map[string]string{"LOG_LEVEL": "debug"}}
	added, err := FillMissing(ls, sample)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(added, ",") != "NEW_SETTING" || ls.Values["NEW_SETTING"] != "x" || ls.Values["LOG_LEVEL"] != "debug" {
		t.Errorf("added %v, values %v: want only NEW_SETTING filled, LOG_LEVEL kept", added, ls.Values)
	}
	for _, k := range []string{"STATE_SIGNING_KEY", "APP_CLIENT_SECRET", "APP_CERTIFICATE", "IDENTITY_HEADER"} {
		if v, ok := ls.Values[k]; ok {
			t.Errorf("secret %s filled from the sample (%q)", k, v)
		}
	}
}
