// Command handler is tenantsync's Azure Functions custom handler: the Functions host starts it,
// forwards HTTP requests to it and posts non-HTTP invocations to /{FunctionName}.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tenantsync/tenantsync/handlers"
	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/groupcheck"
	"github.com/tenantsync/tenantsync/shared/hostjson"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/logging"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/operation"
	"github.com/tenantsync/tenantsync/shared/partner"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/queue/localqueue"
	"github.com/tenantsync/tenantsync/shared/queue/servicebus"
	"github.com/tenantsync/tenantsync/shared/secrets"
	"github.com/tenantsync/tenantsync/shared/store"
	"github.com/tenantsync/tenantsync/shared/syncer"
)

func main() {
	if err := run(); err != nil {
		// stderr becomes an Error log line in the host; exit non-zero so the host restarts us
		// and the cause is the last thing logged.
		fmt.Fprintln(os.Stderr, "handler: "+err.Error())
		os.Exit(1)
	}
}

// appToken is an app-only token source for Partner Center in the partner tenant (customer listing
// allows app-only; consent needs the delegated partner token from the connect flow).
func appToken(creds identity.Credentials, tenantID, scope string) pcclient.TokenSource {
	return func(ctx context.Context) (string, error) {
		cred, err := creds.For(tenantID)
		if err != nil {
			return "", err
		}
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		return tok.Token, err
	}
}

func run() error {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	log := logging.New(os.Stdout, cfg.LogFormat, cfg.LogLevel)
	slog.SetDefault(log)
	// Listen before anything slow: the host waits for the port before it forwards anything, and
	// connections made meanwhile wait in the backlog until Serve below.
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on %s=%d: %w", config.SettingPort, cfg.Port, err)
	}
	defer ln.Close()

	// Own resources (tables, Service Bus, Key Vault): the managed identity in Azure, the developer's
	// credentials elsewhere (identity.Resources). The federated client assertion is always the managed
	// identity itself.
	cred, err := identity.Resources(cfg.AzureClientID, cfg.Cloud)
	if err != nil {
		return fmt.Errorf("azure credential: %w", err)
	}
	var managed azcore.TokenCredential
	if cfg.App.Auth == config.AuthFederated {
		if managed, err = identity.Managed(cfg.AzureClientID); err != nil {
			return fmt.Errorf("managed identity: %w", err)
		}
	}
	st, err := store.Open(cfg.Tables, cred)
	if err != nil {
		return err
	}
	// A run still marked running past functionTimeout has no worker left: shown abandoned.
	appRoot := os.Getenv("FUNCTIONS_APP_ROOT_PATH")
	if appRoot == "" {
		appRoot = "."
	}
	if st.RunTimeout, err = hostjson.FunctionTimeout(appRoot, os.LookupEnv); err != nil {
		log.Warn("functionTimeout unknown: runs stopped by the host are not shown abandoned", "error", err.Error())
	}
	sender, err := newSender(cfg, cfg.Queue.Name, cred)
	if err != nil {
		return err
	}
	opSender, err := newSender(cfg, operation.QueueName, cred)
	if err != nil {
		return err
	}

	creds := &identity.AppCredentials{Mode: cfg.App.Auth, ClientID: cfg.App.ClientID, Secret: cfg.App.ClientSecret,
		Certificate: []byte(cfg.App.Certificate), Assertion: managed, Endpoints: cfg.Cloud}
	pcHTTP, err := cfg.Cloud.HTTPClient()
	if err != nil {
		return err
	}
	partnerCenter := &pcclient.Client{BaseURL: cfg.Cloud.PartnerCenterURL, HTTP: pcHTTP, Token: appToken(creds, cfg.PartnerTenantID, cfg.Cloud.PartnerCenterAppScope())}
	signer, err := oauthstate.NewSigner(cfg.StateSigningKey, nil)
	if err != nil {
		return err
	}
	vault, err := secrets.NewKeyVault(cfg.KeyVaultURL, cred, cfg.Cloud)
	if err != nil {
		return err
	}
	var assertion identity.AssertionFunc
	switch cfg.App.Auth {
	case config.AuthFederated:
		assertion = identity.FederatedAssertion(managed)
	case config.AuthCertificate:
		if assertion, err = identity.CertificateAssertion([]byte(cfg.App.Certificate), cfg.App.ClientID, nil); err != nil {
			return fmt.Errorf("%s: %w", config.SettingAppCertificate, err)
		}
	}
	partnerSvc := partner.New(partner.Options{Store: st, Vault: vault, Signer: signer, Consumer: st, Endpoints: cfg.Cloud,
		PartnerTenantID: cfg.PartnerTenantID, ClientID: cfg.App.ClientID, ClientSecret: cfg.App.ClientSecret, ClientAssertion: assertion,
		PublicBaseURL: cfg.PublicBaseURL, Log: log})
	delegatedPC := &pcclient.Client{BaseURL: cfg.Cloud.PartnerCenterURL, HTTP: pcHTTP,
		Token: func(ctx context.Context) (string, error) {
			return partnerSvc.Token(ctx, cfg.Cloud.PartnerCenterScope())
		}}
	consentSvc := consent.New(consent.Options{Store: st, Queue: sender, Credentials: creds, PartnerCenter: delegatedPC, Signer: signer, Consumer: st,
		Endpoints: cfg.Cloud, ClientID: cfg.App.ClientID, PartnerTenantID: cfg.PartnerTenantID, PublicBaseURL: cfg.PublicBaseURL,
		MailFrom: cfg.ConsentMailFrom, LinkTTL: cfg.ConsentLinkTTL, Log: log,
		// app roles are assigned with the service account's delegated token for each customer (GDAP)
		PartnerGraphToken: func(ctx context.Context, tenantID string) (string, error) {
			return partnerSvc.TokenIn(ctx, tenantID, cfg.Cloud.GraphScope())
		}})
	// A signed-in admin whose token carried the groups overage claim: membership of
	// ADMIN_GROUP_ID asked of Graph in the partner tenant with the app's own token.
	groups := &groupcheck.Checker{Endpoints: cfg.Cloud,
		Credential: func() (azcore.TokenCredential, error) { return creds.For(cfg.PartnerTenantID) }}
	deps := handlers.Deps{
		Groups:  groups,
		Partner: partnerSvc, Consent: consentSvc, AutoConsent: cfg.AutoConsent, AdminGroupID: cfg.AdminGroupID,
		AppServiceAuth: cfg.AppServiceAuth, PublicBaseURL: cfg.PublicBaseURL,
		AppAuth: cfg.App.Auth, Vault: vault,
		ConsoleSettings: handlers.ConsoleSettings{
			// WEBSITE_AUTH_ENABLED is set by the platform when App Service Authentication is on
			// (locally by the local host when it plays that part).
			Auth:    console.AuthSettings{Enabled: cfg.AppServiceAuth, AdminGroupID: cfg.AdminGroupID, Groups: groups},
			CSRFKey: console.DeriveKey(cfg.StateSigningKey),
		},
		Operations: &operation.Service{Store: st, Queue: opSender, Log: log},
		Store:      st, Queue: sender, Log: log, Now: time.Now, FanoutSpread: cfg.FanoutSpread,
		Engine: &syncer.Engine{Store: st, Credentials: creds, Endpoints: cfg.Cloud, Concurrency: cfg.SyncConcurrency, Refresh: cfg.Refresh, Log: log,
			Roles: &approles.Assigner{ClientID: cfg.App.ClientID, Endpoints: cfg.Cloud, Log: log, Token: func(ctx context.Context, tenantID string) (string, error) {
				return partnerSvc.TokenIn(ctx, tenantID, cfg.Cloud.GraphScope())
			}},
			// gdap tenants sync with the service account's delegated token for each customer
			Delegated: func(ctx context.Context, tenantID string) (string, error) {
				return partnerSvc.TokenIn(ctx, tenantID, cfg.Cloud.GraphScope())
			}},
		Discovery: &discovery.Discoverer{Store: st, Credentials: creds, Endpoints: cfg.Cloud, PartnerTenantID: cfg.PartnerTenantID,
			PartnerCenter: partnerCenter, Log: log,
			// GDAP read with the service account's delegated token, and its roles per customer
			PartnerGraph: func(ctx context.Context, tenantID string) (string, error) {
				return partnerSvc.TokenIn(ctx, tenantID, cfg.Cloud.GraphScope())
			}},
	}
	srv := &http.Server{
		Handler:           handlers.New(deps),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// The trusted roots (tens of milliseconds) load now, in the background, not before listening.
	if t, err := cfg.Cloud.Transport(); err == nil {
		go t.Warm()
	}
	log.Info("handler listening", "port", cfg.Port)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		err = errors.Join(sender.Close(shutdown), opSender.Close(shutdown))
	}
	return err
}

// newSender sends to queue name: Service Bus in Azure, the local host's embedded queue locally.
func newSender(cfg *config.Config, name string, cred azcore.TokenCredential) (queue.Sender, error) {
	if cfg.Queue.ServiceBusNamespace != "" {
		return servicebus.New(cfg.Queue.ServiceBusNamespace, name, cred)
	}
	return localqueue.New(cfg.Queue.LocalEndpoint, name), nil
}
