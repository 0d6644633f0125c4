// Package register is the logic of `tenantsync register`: it replaces the page of portal steps
// MSPs follow today (app registration, API permissions, certificate or secret, admin consent) with
// one idempotent run. An admin signs in with the device code flow; the run then finds or creates
// tenantsync's multi-tenant app registration in the partner tenant with exactly the permissions of
// package appperms and the deployed app's redirect URIs, gives it a credential that goes straight
// into Key Vault (a certificate by default: no silently expiring secret), instantiates it in the
// partner tenant and grants admin consent there. Whatever is already right is left alone and
// reported as unchanged; the remaining manual steps (GDAP security group and roles, the service
// account, the partner connect) are printed precisely.
package register

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/uuid"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/secrets"
)

// Defaults.
const (
	DefaultAppName = "tenantsync"
	// AzureCLIClientID is Microsoft's first-party Azure CLI public client: it exists in every
	// tenant, allows the device code flow and is pre-authorized for the Graph scopes below, so no
	// bootstrap app is needed to register tenantsync's.
	AzureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

	CredentialCertificate = "certificate"
	CredentialSecret      = "secret"
	// CredentialFederated trusts the Function App's managed identity (a federated identity
	// credential): nothing stored, nothing that expires.
	CredentialFederated = "federated"

	// ConnectCallbackPath and ConsentCallbackPath are the redirect URIs' paths under the public URL.
	ConnectCallbackPath = "/api/connect/callback"
	ConsentCallbackPath = "/api/consent/callback"
	// SignInCallbackPath is App Service Authentication's Entra callback: the console's sign-in
	// uses this app registration ("Configure your App Service or Azure Functions app to use
	// Microsoft Entra sign-in": redirect URI <app URL>/.auth/login/aad/callback).
	SignInCallbackPath = "/.auth/login/aad/callback"
	// ConnectPath is where the MSP starts the partner connect.
	ConnectPath = "/api/connect"

	// RenewBefore: a credential with less validity left than this is replaced.
	RenewBefore = 60 * 24 * time.Hour
	// CredentialLifetime of a new certificate or secret (Microsoft's recommended maximum).
	CredentialLifetime = 365 * 24 * time.Hour
)

// GraphDelegatedScopes are the delegated Graph permissions the signed-in admin's token needs:
// creating and updating app registrations and service principals, and granting app roles (admin
// consent), and granting the partner-only delegated Mail.Send in the partner tenant. Nothing else.
var GraphDelegatedScopes = []string{"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"}

// Options configure a run.
type Options struct {
	PartnerTenantID string // the MSP's tenant (GUID): where the app is registered and consented
	PublicURL       string // the deployed app's base URL, e.g. https://tenantsync-contoso.azurewebsites.net
	VaultURL        string // the Key Vault receiving the credential
	AppName         string // display name to find or create (default "tenantsync")
	AppID           string // find this app (client) id instead of searching by name
	Credential      string // certificate (default), secret, or federated
	// FederatedSubject is the managed identity's object (principal) id trusted by the federated
	// credential (Credential federated; the Bicep outputs it as managedIdentityPrincipalId).
	FederatedSubject string

	// Endpoints: AuthorityHost, GraphURL and CAFile (national clouds, the simulator).
	Endpoints cloud.Endpoints
	// DeviceCodeClientID is the public client the admin signs in through (default Azure CLI).
	DeviceCodeClientID string
	// GraphScopes overrides GraphDelegatedScopes (tests of the permission errors).
	GraphScopes []string

	// Prompt shows the device code message; default: print Microsoft's message to Out.
	Prompt func(context.Context, azidentity.DeviceCodeMessage) error
	// Out receives progress lines (default os.Stderr). Secrets never go there.
	Out io.Writer
	// Now is the clock for credential validity (default time.Now).
	Now func() time.Time
}

// Status of one item.
type Status string

// Statuses.
const (
	Created   Status = "created"
	Updated   Status = "updated"
	Unchanged Status = "unchanged"
)

// Item is one thing the run ensured.
type Item struct {
	Name   string
	Status Status
	Detail string
}

// Result is what a run did and what the operator needs next.
type Result struct {
	AdminUPN        string
	PartnerTenantID string
	AppName         string
	AppID           string // application (client) id
	ObjectID        string // application object id
	PublicURL       string
	RedirectURIs    []string
	VaultURL        string
	Credential      string    // certificate or secret
	SecretName      string    // Key Vault secret holding the credential
	Thumbprint      string    // certificate SHA-1 thumbprint (hex), certificate only
	Expires         time.Time // credential expiry
	Items           []Item
	// Warnings are things the operator should know but the run does not change (extra granted
	// permissions, older secrets still on the app).
	Warnings []string
}

// Changed reports whether anything was created or updated.
func (r *Result) Changed() bool {
	for _, it := range r.Items {
		if it.Status != Unchanged {
			return true
		}
	}
	return false
}

// Item returns the item named name.
func (r *Result) Item(name string) (Item, bool) {
	for _, it := range r.Items {
		if it.Name == name {
			return it, true
		}
	}
	return Item{}, false
}

func (r *Result) add(name string, st Status, format string, args ...any) {
	r.Items = append(r.Items, Item{Name: name, Status: st, Detail: fmt.Sprintf(format, args...)})
}

// Item names.
const (
	ItemApp         = "app registration"
	ItemAudience    = "sign-in audience"
	ItemRedirects   = "redirect URIs"
	ItemSignIn      = "console sign-in"
	ItemPermissions = "API permissions"
	ItemCredential  = "credential"
	ItemVault       = "Key Vault secret"
	ItemSP          = "service principal"
	ItemConsent     = "admin consent"
	ItemMailGrant   = "delegated grant"
)

// normalize validates o and fills defaults.
func (o *Options) normalize() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	o.PartnerTenantID = strings.ToLower(strings.TrimSpace(o.PartnerTenantID))
	if o.PartnerTenantID == "" {
		bad("the partner tenant id is required (--partner-tenant): your MSP tenant's GUID, shown in Entra admin center > Overview > Tenant ID")
	} else if _, err := uuid.Parse(o.PartnerTenantID); err != nil || len(o.PartnerTenantID) != 36 {
		bad("the partner tenant id %q is not a GUID (Entra admin center > Overview > Tenant ID)", o.PartnerTenantID)
	}
	if pub, err := publicURL(o.PublicURL); err != nil {
		bad("%v", err)
	} else {
		o.PublicURL = pub
	}
	o.VaultURL = strings.TrimSpace(o.VaultURL)
	if o.VaultURL == "" {
		bad("the Key Vault URL is required (--vault-url), e.g. https://kv-tenantsync.vault.azure.net/")
	} else if u, err := url.Parse(o.VaultURL); err != nil || u.Scheme != "https" || u.Host == "" {
		bad("the Key Vault URL %q must be an https URL such as https://kv-tenantsync.vault.azure.net/", o.VaultURL)
	} else if !strings.HasSuffix(o.VaultURL, "/") {
		o.VaultURL += "/"
	}
	o.AppName = strings.TrimSpace(o.AppName)
	if o.AppName == "" {
		o.AppName = DefaultAppName
	}
	o.AppID = strings.ToLower(strings.TrimSpace(o.AppID))
	if o.AppID != "" {
		if _, err := uuid.Parse(o.AppID); err != nil || len(o.AppID) != 36 {
			bad("the app id %q is not a GUID (the Application (client) ID of an existing registration)", o.AppID)
		}
	}
	switch strings.ToLower(strings.TrimSpace(o.Credential)) {
	case "", CredentialCertificate:
		o.Credential = CredentialCertificate
	case CredentialSecret:
		o.Credential = CredentialSecret
	case CredentialFederated:
		o.Credential = CredentialFederated
		if _, err := uuid.Parse(strings.TrimSpace(o.FederatedSubject)); err != nil {
			bad("--credential federated needs --federated-identity: the Function App managed identity's object id (the deployment's managedIdentityPrincipalId output)")
		}
	default:
		bad("--credential must be %q, %q (recommended when deployed) or %q, not %q", CredentialCertificate, CredentialFederated, CredentialSecret, o.Credential)
	}
	if o.Endpoints.AuthorityHost == "" {
		o.Endpoints.AuthorityHost = cloud.Public().AuthorityHost
	}
	if o.Endpoints.GraphURL == "" {
		o.Endpoints.GraphURL = cloud.Public().GraphURL
	}
	for name, v := range map[string]string{"authority host": o.Endpoints.AuthorityHost, "Graph URL": o.Endpoints.GraphURL} {
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("the %s %q must be an https URL", name, v)
		}
	}
	if o.DeviceCodeClientID == "" {
		o.DeviceCodeClientID = AzureCLIClientID
	}
	if len(o.GraphScopes) == 0 {
		o.GraphScopes = GraphDelegatedScopes
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Prompt == nil {
		out := o.Out
		o.Prompt = func(_ context.Context, m azidentity.DeviceCodeMessage) error {
			_, err := fmt.Fprintln(out, m.Message)
			return err
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

// publicURL validates the deployed app's URL: https (http only on localhost, for local runs),
// no query or fragment; returned without a trailing slash.
func publicURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("the public URL of the deployed app is required (--public-url), e.g. https://tenantsync-contoso.azurewebsites.net (the Bicep deployment's appUrl output)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("the public URL %q is not an absolute URL", raw)
	}
	local := u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1"
	if u.Scheme != "https" && !(u.Scheme == "http" && local) {
		return "", fmt.Errorf("the public URL %q must use https (Entra accepts http redirect URIs only for localhost)", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("the public URL %q must not carry a query, fragment or user info", raw)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// RedirectURIs are the deployed app's OAuth callbacks.
func RedirectURIs(public string) []string {
	return []string{public + ConnectCallbackPath, public + ConsentCallbackPath, public + SignInCallbackPath}
}

// run holds one run's clients.
type run struct {
	o     Options
	cred  azcore.TokenCredential
	graph *msgraphsdk.GraphServiceClient
	vault secrets.Store
	res   *Result
}

// Run registers (or checks) the app. It returns the result even with an error when part of the
// work was done, so the caller can show what was.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	res := &Result{PartnerTenantID: o.PartnerTenantID, PublicURL: o.PublicURL, RedirectURIs: RedirectURIs(o.PublicURL),
		VaultURL: o.VaultURL, Credential: o.Credential, AppName: o.AppName}
	r := &run{o: o, res: res}

	if err := r.signIn(ctx); err != nil {
		return nil, err
	}
	var err error
	if r.graph, _, err = graphclient.New(r.cred, o.Endpoints); err != nil {
		return nil, fmt.Errorf("graph client: %w", err)
	}
	if r.vault, err = secrets.NewKeyVault(o.VaultURL, r.cred, o.Endpoints); err != nil {
		return nil, err
	}

	// Reads first: the app, and the credential's Key Vault copy, so that a missing permission on
	// either stops the run before anything is written.
	app, err := r.findApp(ctx)
	if err != nil {
		return nil, err
	}
	stored, err := r.readStoredCredential(ctx)
	if err != nil {
		return nil, err
	}
	if app, err = r.ensureApp(ctx, app); err != nil {
		return res, err
	}
	if err := r.ensureCredential(ctx, app, stored); err != nil {
		return res, err
	}
	if err := r.ensureConsent(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// signIn runs the device code flow for the Graph scopes the run needs and checks the tenant.
func (r *run) signIn(ctx context.Context) error {
	cred, err := newDeviceCodeCredential(r.o)
	if err != nil {
		return err
	}
	r.cred = adminCredential{cred: cred, scopes: r.graphScopes(), graph: r.o.Endpoints.GraphScope()}
	tok, err := r.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: r.graphScopes(), TenantID: r.o.PartnerTenantID})
	if err != nil {
		return signInError(err, r.o)
	}
	c := peekClaims(tok.Token)
	if c.TenantID != "" && !strings.EqualFold(c.TenantID, r.o.PartnerTenantID) {
		return fmt.Errorf("the admin signed in to tenant %s, not the partner tenant %s: sign in with an account of the partner tenant", c.TenantID, r.o.PartnerTenantID)
	}
	r.res.AdminUPN = c.user()
	fmt.Fprintf(r.o.Out, "Signed in as %s in tenant %s.\n", orUnknown(r.res.AdminUPN), r.o.PartnerTenantID)
	return nil
}

// graphScopes are the delegated scopes as full scope strings of the configured Graph resource.
func (r *run) graphScopes() []string {
	base := strings.TrimSuffix(r.o.Endpoints.GraphScope(), ".default")
	out := make([]string, len(r.o.GraphScopes))
	for i, s := range r.o.GraphScopes {
		out[i] = base + s
	}
	return out
}

// adminCredential is the signed-in admin for every client of the run. It asks for the run's
// explicit delegated scopes where the Graph client asks for `.default`: the admin's token carries
// what registration needs and nothing more.
type adminCredential struct {
	cred   azcore.TokenCredential
	scopes []string
	graph  string // the configured Graph's .default scope
}

func (a adminCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(o.Scopes) == 1 && o.Scopes[0] == a.graph {
		o.Scopes = a.scopes
	}
	return a.cred.GetToken(ctx, o)
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown account)"
	}
	return s
}
