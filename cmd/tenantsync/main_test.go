package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/register"
	"github.com/tenantsync/tenantsync/shared/secrets"
)

// deviceLogin is the command's stderr: when Microsoft's device code message appears, it does
// what the admin does in the browser (enter the code, sign in with MFA). The command prints the
// message before it polls, so the approval is in place before the first poll.
type deviceLogin struct {
	s      *sim.Server
	mu     sync.Mutex
	buf    bytes.Buffer
	codes  int
	errors []error
}

var userCode = regexp.MustCompile(`enter the code ([A-Z0-9]+) to authenticate`)

func (d *deviceLogin) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m := userCode.FindSubmatch(p); m != nil {
		d.codes++
		if err := d.s.Entra.ApproveDeviceCode(string(m[1]), scenario.DemoAdminUPN, true); err != nil {
			d.errors = append(d.errors, err)
		}
	}
	return d.buf.Write(p)
}

func (d *deviceLogin) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.buf.String()
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writes(s *sim.Server) map[string]int64 {
	out := map[string]int64{}
	for _, r := range s.Metrics.Rows() {
		method, _, _ := strings.Cut(r.Endpoint, " ")
		if (r.Service == "graph" && (method == "POST" || method == "PATCH" || method == "DELETE")) ||
			(r.Service == "keyvault" && (method == "PUT" || method == "PATCH" || method == "DELETE")) {
			out[r.Service+" "+r.Endpoint] += r.Requests
		}
	}
	return out
}

// vaultSecret reads a secret as the admin (its own device code sign-in).
func vaultSecret(t *testing.T, s *sim.Server, ep cloud.Endpoints, name string) string {
	t.Helper()
	opts, err := ep.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
		ClientOptions: opts, TenantID: s.Endpoints().PartnerTenantID, ClientID: register.AzureCLIClientID, DisableInstanceDiscovery: true,
		UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			return s.Entra.ApproveDeviceCode(m.UserCode, scenario.DemoAdminUPN, true)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := secrets.NewKeyVault(s.Endpoints().KeyVaultURL, cred, ep)
	if err != nil {
		t.Fatal(err)
	}
	v, err := kv.Get(ctxT(t), name)
	if err != nil {
		t.Fatalf("Key Vault %s: %v", name, err)
	}
	return v
}

// TestRegisterCommand runs `tenantsync register` as an operator would: flags first, then the
// same settings from the environment only, with a client secret, whose value must never reach
// the terminal.
func TestRegisterCommand(t *testing.T) {
	t.Parallel()
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := s.Endpoints()
	ep := cloud.Endpoints{AuthorityHost: e.AuthorityHost, GraphURL: e.GraphURL, CAFile: e.CAFile}
	const public = "https://tenantsync-contoso.azurewebsites.net"

	var stdout bytes.Buffer
	stderr := &deviceLogin{s: s}
	code := run(ctxT(t), []string{"register",
		"--partner-tenant", e.PartnerTenantID, "--public-url", public, "--vault-url", e.KeyVaultURL,
		"--app-name", "tenantsync-cli", "--credential", "secret",
		"--authority-host", e.AuthorityHost, "--graph-url", e.GraphURL, "--ca-file", e.CAFile,
	}, envOf(nil), &stdout, stderr)
	if code != 0 || stderr.codes != 1 || len(stderr.errors) != 0 {
		t.Fatalf("exit %d, %d device codes (%v)\nstdout:\n%s\nstderr:\n%s", code, stderr.codes, stderr.errors, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, w := range []string{"app registration   created", "admin consent", "app-client-secret", "Remaining manual steps",
		"Cloud Application Administrator", public + "/api/connect\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(stderr.String(), "To sign in, use a web browser to open the page") {
		t.Errorf("stderr lacks Microsoft's device code message:\n%s", stderr.String())
	}
	secret := vaultSecret(t, s, ep, identity.ClientSecretName)
	if len(secret) < 30 {
		t.Fatalf("stored secret has %d characters", len(secret))
	}
	if strings.Contains(out+stderr.String(), secret) || strings.Contains(out+stderr.String(), secret[4:24]) {
		t.Fatalf("the client secret's value reached the terminal")
	}

	// Again, configured through the environment only: nothing to do, nothing written.
	s.Metrics.Reset()
	stdout.Reset()
	stderr2 := &deviceLogin{s: s}
	env := map[string]string{
		"PARTNER_TENANT_ID": e.PartnerTenantID, "PUBLIC_BASE_URL": public, "KEY_VAULT_URL": e.KeyVaultURL,
		"TENANTSYNC_APP_NAME": "tenantsync-cli", "TENANTSYNC_CREDENTIAL": "secret",
		"AZURE_AUTHORITY_HOST": e.AuthorityHost, "GRAPH_BASE_URL": e.GraphURL, "CLOUD_CA_FILE": e.CAFile,
	}
	if code := run(ctxT(t), []string{"register"}, envOf(env), &stdout, stderr2); code != 0 {
		t.Fatalf("second run exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr2.String())
	}
	if !strings.Contains(stdout.String(), "Everything was already in place: nothing was changed.") || strings.Contains(stdout.String(), "created") {
		t.Errorf("second run output:\n%s", stdout.String())
	}
	if w := writes(s); len(w) != 0 {
		t.Errorf("second run wrote %v", w)
	}
	if strings.Contains(stdout.String()+stderr2.String(), secret) {
		t.Error("the client secret's value reached the terminal on the second run")
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args   []string
		env    map[string]string
		code   int
		stdout []string
		stderr []string
	}{
		{args: nil, code: 2, stderr: []string{"tenantsync register [flags]"}},
		{args: []string{"help"}, code: 0, stdout: []string{"tenantsync register [flags]"}},
		{args: []string{"frobnicate"}, code: 2, stderr: []string{`unknown command "frobnicate"`}},
		{args: []string{"register", "-h"}, code: 0, stderr: []string{
			"-partner-tenant", "PARTNER_TENANT_ID", "-public-url", "PUBLIC_BASE_URL", "/api/connect/callback", "/api/consent/callback",
			"-vault-url", "KEY_VAULT_URL", "-app-name", `(default "tenantsync")`, "-app-id", "-credential", `(default "certificate")`,
			"-authority-host", "AZURE_AUTHORITY_HOST", "-graph-url", "GRAPH_BASE_URL", "-ca-file", "CLOUD_CA_FILE",
			"-device-code-client-id", register.AzureCLIClientID, "Privileged Role Administrator", "Key Vault Secrets Officer"}},
		{args: []string{"help", "register"}, code: 0, stderr: []string{"-partner-tenant"}},
		{args: []string{"register", "--bogus"}, code: 2, stderr: []string{"flag provided but not defined: -bogus"}},
		{args: []string{"register", "extra"}, code: 2, stderr: []string{"unexpected arguments"}},
		// Validation runs before any sign-in; every problem is listed at once.
		{args: []string{"register"}, code: 1, stderr: []string{"partner tenant id is required (--partner-tenant)", "--public-url", "--vault-url"}},
		// A flag wins over its environment variable.
		{args: []string{"register", "--partner-tenant", "from-flag"}, env: map[string]string{"PARTNER_TENANT_ID": "from-env"},
			code: 1, stderr: []string{`"from-flag" is not a GUID`}},
		{args: []string{"register", "--credential", "password"}, env: map[string]string{"PARTNER_TENANT_ID": scenario.DemoPartnerTenantID,
			"PUBLIC_BASE_URL": "https://x.example", "KEY_VAULT_URL": "https://kv.vault.azure.net/"},
			code: 1, stderr: []string{`--credential must be "certificate", "federated" (recommended when deployed) or "secret"`}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, envOf(c.env), &stdout, &stderr)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, stdout.String(), stderr.String())
		}
		for _, w := range c.stdout {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("%v: stdout lacks %q:\n%s", c.args, w, stdout.String())
			}
		}
		for _, w := range c.stderr {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, stderr.String())
			}
		}
		if c.code == 1 && strings.Contains(stderr.String(), "from-env") {
			t.Errorf("%v: the environment won over the flag", c.args)
		}
	}
}
