// Command tenantsync is the operator's CLI. `tenantsync register` registers tenantsync's
// multi-tenant app in the MSP's partner tenant in one run (see package register).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/register"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `tenantsync: operator commands for tenantsync.

Usage:
  tenantsync register [flags]   create or update the app registration, its credential in Key Vault,
                                and admin consent in the partner tenant
  tenantsync help [command]     show help

Run "tenantsync register -h" for the register flags.
`

// run is main without the process: arguments, environment and output are passed in.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "register":
		return runRegister(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[1] == "register" {
			return runRegister(ctx, []string{"-h"}, getenv, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tenantsync: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// envOr is the value of the environment variable, or def.
func envOr(getenv func(string) string, name, def string) string {
	if v := strings.TrimSpace(getenv(name)); v != "" {
		return v
	}
	return def
}

func runRegister(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tenantsync register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o register.Options
	str := func(p *string, name, env, def, help string) {
		if env != "" {
			help += " (env " + env + ")"
		}
		fs.StringVar(p, name, envOr(getenv, env, def), help)
	}
	str(&o.PartnerTenantID, "partner-tenant", "PARTNER_TENANT_ID", "",
		"the MSP's partner tenant id (GUID) where the app is registered and consented")
	str(&o.PublicURL, "public-url", "PUBLIC_BASE_URL", "",
		"the deployed app's URL, e.g. https://tenantsync-contoso.azurewebsites.net; redirect URIs are\n{url}"+
			register.ConnectCallbackPath+", {url}"+register.ConsentCallbackPath+" and {url}"+register.SignInCallbackPath+" (console sign-in)")
	str(&o.VaultURL, "vault-url", "KEY_VAULT_URL", "",
		"the Key Vault that receives the credential, e.g. https://kv-tenantsync.vault.azure.net/")
	str(&o.AppName, "app-name", "TENANTSYNC_APP_NAME", register.DefaultAppName,
		"display name of the app registration to find or create")
	str(&o.AppID, "app-id", "APP_CLIENT_ID", "",
		"use the existing app registration with this application (client) id instead of finding it by name")
	str(&o.Credential, "credential", "TENANTSYNC_CREDENTIAL", register.CredentialCertificate,
		"certificate (self-signed, 1 year, stored in Key Vault as "+identity.CertificateSecretName+"), federated\n"+
			"(trusts the deployed Function App's managed identity: nothing stored or expiring) or secret\n"+
			"(client secret, 1 year, stored as "+identity.ClientSecretName+"; expires silently: prefer certificate)")
	str(&o.FederatedSubject, "federated-identity", "TENANTSYNC_FEDERATED_IDENTITY", "",
		"with --credential federated: the Function App managed identity's object id (deployment output managedIdentityPrincipalId)")
	str(&o.Endpoints.AuthorityHost, "authority-host", "AZURE_AUTHORITY_HOST", cloud.Public().AuthorityHost,
		"Entra ID authority host (national clouds: https://login.microsoftonline.us/, https://login.chinacloudapi.cn/)")
	str(&o.Endpoints.GraphURL, "graph-url", "GRAPH_BASE_URL", cloud.Public().GraphURL,
		"Microsoft Graph base URL (national clouds: https://graph.microsoft.us/v1.0, ...)")
	str(&o.Endpoints.CAFile, "ca-file", "CLOUD_CA_FILE", "",
		"extra CA certificates (PEM) to trust, e.g. the simulator's .sim/ca.pem; added to the system roots")
	str(&o.DeviceCodeClientID, "device-code-client-id", "TENANTSYNC_DEVICE_CODE_CLIENT_ID", register.AzureCLIClientID,
		"public client the admin signs in through (default: Microsoft Azure CLI, present in every tenant)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: tenantsync register [flags]

Registers tenantsync in the MSP's partner tenant, or checks and repairs an existing registration:
  1. signs an admin in with the device code flow (needs Application Administrator or Cloud Application
     Administrator to create the app, and Privileged Role Administrator or Global Administrator to grant
     Microsoft Graph application permissions; Key Vault Secrets Officer on the vault);
  2. finds or creates the multi-tenant app registration with exactly tenantsync's Graph application
     permissions, Partner Center user_impersonation and the deployed app's redirect URIs;
  3. gives it a credential (a certificate by default) and stores it straight in Key Vault;
  4. creates its service principal in the partner tenant and grants admin consent there;
  5. prints what it did and the remaining manual steps (GDAP security group and roles).
Re-running changes nothing that is already right. Every flag can also be set through the environment
variable named in its help; flags win.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tenantsync register: unexpected arguments %q\n", fs.Args())
		return 2
	}
	o.Out = stderr
	res, err := register.Run(ctx, o)
	if res != nil && len(res.Items) > 0 && err != nil {
		// Show what was done before the failure.
		register.PrintItems(stdout, res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "\ntenantsync register: %v\n", err)
		return 1
	}
	register.Print(stdout, res)
	return 0
}
