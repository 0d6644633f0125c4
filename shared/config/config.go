// Package config reads the handler's settings from the environment in one place and validates
// them at start-up, so a missing or malformed setting stops the handler with an error naming it
// instead of failing later, inside some invocation, in a way nobody can trace back.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/cloud"
)

// Config is everything the handler needs from its environment.
type Config struct {
	// Port is where the Functions host expects the handler (FUNCTIONS_CUSTOMHANDLER_PORT).
	Port int

	LogFormat string // json or text
	LogLevel  slog.Level

	Tables Tables
	Queue  Queue

	// AzureClientID selects the user-assigned managed identity for Azure resources
	// (azidentity's own convention); empty means the system-assigned one.
	AzureClientID string

	// PartnerTenantID is the MSP's own tenant (where the app is registered).
	PartnerTenantID string
	// App is tenantsync's multi-tenant app registration.
	App App
	// Cloud are the Microsoft endpoints (public cloud by default; the simulator locally).
	Cloud cloud.Endpoints

	// FanoutSpread spreads one fan-out's messages over this window (ScheduledEnqueueTime), so a
	// thousand tenants do not hit Graph in the same second.
	FanoutSpread time.Duration
	// SyncConcurrency bounds the collections synced at once within one tenant.
	SyncConcurrency int
	// Refresh is how often collections without a delta query are read again (see Refresh).
	Refresh Refresh

	// PublicBaseURL is the Function App's public URL (redirect URIs are built from it).
	PublicBaseURL string
	// KeyVaultURL is the vault holding the partner refresh token (and, in Azure, the app's secret).
	KeyVaultURL string
	// StateSigningKey signs OAuth states (connect, consent links).
	StateSigningKey []byte
	// ConsentMailFrom is the partner-tenant mailbox consent links are sent from; empty disables
	// sending them (the API then says which setting to set).
	ConsentMailFrom string
	// ConsentLinkTTL is how long an emailed consent link stays valid.
	ConsentLinkTTL time.Duration
	// AutoConsent grants consent through Partner Center for newly discovered tenants whose GDAP
	// roles allow it.
	AutoConsent bool
	// AdminGroupID: App Service Authentication principals must be in this group (Azure).
	AdminGroupID string
	// AppServiceAuth is App Service Authentication's state, which App Service injects as
	// WEBSITE_AUTH_ENABLED (MicrosoftDocs azure-docs articles/app-service/reference-app-settings.md).
	// The X-MS-CLIENT-PRINCIPAL header is trusted only when it is on (shared/adminauth).
	AppServiceAuth bool
}

// App is the app registration's identity and how it proves it.
type App struct {
	ClientID string
	// Auth is secret, certificate or federated (the managed identity's token as client assertion:
	// nothing that expires silently).
	Auth string
	// ClientSecret is the secret's value (Auth secret; a Key Vault reference in Azure).
	ClientSecret string
	// Certificate is the PEM certificate and private key (Auth certificate; a Key Vault reference).
	Certificate string
}

// App authentication modes.
const (
	AuthSecret      = "secret"
	AuthCertificate = "certificate"
	AuthFederated   = "federated"
)

// Tables says how to reach Table Storage: a connection string (Azurite locally) or an endpoint
// reached with the managed identity (Azure, where shared keys are off).
type Tables struct {
	ConnectionString string
	Endpoint         string
}

// Queue says where sync messages go: Azure Service Bus (by namespace, managed identity) or the
// local host's embedded queue.
type Queue struct {
	Name                string
	ServiceBusNamespace string
	LocalEndpoint       string
}

// Setting names. Exported so tests, the local host and the Bicep contract checks share them.
const (
	SettingPort                = "FUNCTIONS_CUSTOMHANDLER_PORT"
	SettingLogFormat           = "LOG_FORMAT"
	SettingLogLevel            = "LOG_LEVEL"
	SettingTablesConnection    = "TABLES_CONNECTION_STRING"
	SettingTablesEndpoint      = "TABLES_ENDPOINT"
	SettingQueueName           = "SYNC_QUEUE_NAME"
	SettingServiceBusNamespace = "ServiceBusConnection__fullyQualifiedNamespace"
	SettingLocalQueueEndpoint  = "LOCAL_QUEUE_ENDPOINT"
	SettingAzureClientID       = "AZURE_CLIENT_ID"
	SettingPartnerTenantID     = "PARTNER_TENANT_ID"
	SettingAppClientID         = "APP_CLIENT_ID"
	SettingAppClientSecret     = "APP_CLIENT_SECRET"
	SettingAppAuth             = "APP_AUTH"
	SettingAppCertificate      = "APP_CERTIFICATE"
	SettingAuthorityHost       = "AZURE_AUTHORITY_HOST"
	SettingGraphBaseURL        = "GRAPH_BASE_URL"
	SettingPartnerCenterURL    = "PARTNER_CENTER_BASE_URL"
	SettingCloudCAFile         = "CLOUD_CA_FILE"
	SettingFanoutSpread        = "FANOUT_SPREAD"
	SettingSyncConcurrency     = "SYNC_CONCURRENCY"
	SettingRefreshDevices      = "REFRESH_DEVICES"
	SettingRefreshMailboxes    = "REFRESH_MAILBOXES"
	SettingRefreshUserSecurity = "REFRESH_USER_SECURITY"
	SettingPublicBaseURL       = "PUBLIC_BASE_URL"
	SettingKeyVaultURL         = "KEY_VAULT_URL"
	SettingStateSigningKey     = "STATE_SIGNING_KEY"
	SettingConsentMailFrom     = "CONSENT_MAIL_FROM"
	SettingConsentLinkTTL      = "CONSENT_LINK_TTL"
	SettingAutoConsent         = "AUTO_CONSENT"
	SettingAdminGroupID        = "ADMIN_GROUP_ID"
	SettingAppServiceAuth      = "WEBSITE_AUTH_ENABLED"
)

// Lookup is os.LookupEnv's shape, so tests can pass a map.
type Lookup func(string) (string, bool)

// Load reads and validates every setting. All problems are reported together.
func Load(env Lookup) (*Config, error) {
	return load(&reader{env: env})
}

func load(r *reader) (*Config, error) {
	c := &Config{
		Port:            r.port(SettingPort),
		LogFormat:       r.oneOf(SettingLogFormat, "json", "json", "text"),
		LogLevel:        r.level(SettingLogLevel),
		AzureClientID:   r.optional(SettingAzureClientID, ""),
		PartnerTenantID: r.guid(SettingPartnerTenantID),
		App:             r.app(),
		Cloud: cloud.Endpoints{
			AuthorityHost:    r.httpsURLOr(SettingAuthorityHost, cloud.Public().AuthorityHost),
			GraphURL:         r.httpsURLOr(SettingGraphBaseURL, cloud.Public().GraphURL),
			PartnerCenterURL: r.httpsURLOr(SettingPartnerCenterURL, cloud.Public().PartnerCenterURL),
			CAFile:           r.file(SettingCloudCAFile),
		},
		FanoutSpread:    r.duration(SettingFanoutSpread, 0),
		SyncConcurrency: r.intRange(SettingSyncConcurrency, 4, 1, 16),
		Refresh: Refresh{
			Devices:      r.refresh(SettingRefreshDevices, DefaultRefresh.Devices),
			Mailboxes:    r.refresh(SettingRefreshMailboxes, DefaultRefresh.Mailboxes),
			UserSecurity: r.refresh(SettingRefreshUserSecurity, DefaultRefresh.UserSecurity),
		},
		PublicBaseURL:   r.requiredURL(SettingPublicBaseURL),
		KeyVaultURL:     r.requiredHTTPS(SettingKeyVaultURL),
		StateSigningKey: r.key(SettingStateSigningKey),
		ConsentMailFrom: r.optional(SettingConsentMailFrom, ""),
		ConsentLinkTTL:  r.duration(SettingConsentLinkTTL, 7*24*time.Hour),
		AutoConsent:     r.boolean(SettingAutoConsent, true),
		AdminGroupID:    r.optionalGUID(SettingAdminGroupID),
		AppServiceAuth:  r.dotnetBool(SettingAppServiceAuth),
		Tables: Tables{
			ConnectionString: r.optional(SettingTablesConnection, ""),
			Endpoint:         r.httpsURL(SettingTablesEndpoint),
		},
		Queue: Queue{
			Name:                r.optional(SettingQueueName, "tenant-sync"),
			ServiceBusNamespace: r.optional(SettingServiceBusNamespace, ""),
			LocalEndpoint:       r.httpURL(SettingLocalQueueEndpoint),
		},
	}
	r.exactlyOne(SettingTablesConnection, c.Tables.ConnectionString, SettingTablesEndpoint, c.Tables.Endpoint,
		"Table Storage: set TABLES_ENDPOINT in Azure (managed identity) or TABLES_CONNECTION_STRING locally (Azurite)")
	r.exactlyOne(SettingServiceBusNamespace, c.Queue.ServiceBusNamespace, SettingLocalQueueEndpoint, c.Queue.LocalEndpoint,
		"the sync queue: set ServiceBusConnection__fullyQualifiedNamespace in Azure or LOCAL_QUEUE_ENDPOINT for the local host")
	if err := errors.Join(r.errs...); err != nil {
		return nil, fmt.Errorf("configuration is invalid:\n%w", err)
	}
	return c, nil
}

// Known lists every setting Load reads. The contract test compares it with
// local.settings.sample.json so a new setting cannot be forgotten there.
func Known() []string {
	r := &reader{env: func(string) (string, bool) { return "", false }, seen: map[string]bool{}}
	_, _ = load(r)
	out := make([]string, 0, len(r.seen))
	for name := range r.seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

type reader struct {
	env  Lookup
	errs []error
	seen map[string]bool // nil unless Known is collecting names
}

// get returns the trimmed value, flagging unresolved Key Vault references: the platform leaves the
// literal "@Microsoft.KeyVault(...)" in place when it cannot resolve one, and using that as a value
// would fail much later with a baffling error.
func (r *reader) get(name string) (string, bool) {
	if r.seen != nil {
		r.seen[name] = true
	}
	v, ok := r.env(name)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return "", false
	}
	if strings.HasPrefix(v, "@Microsoft.KeyVault(") {
		r.fail(name, "is an unresolved Key Vault reference (%s): check the reference's SecretUri and that the app's identity may read secrets in that vault", v)
		return "", false
	}
	return v, true
}

func (r *reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("setting %s %s", name, fmt.Sprintf(format, args...)))
}

func (r *reader) optional(name, def string) string {
	if v, ok := r.get(name); ok {
		return v
	}
	return def
}

func (r *reader) app() App {
	a := App{ClientID: r.guid(SettingAppClientID), Auth: r.oneOf(SettingAppAuth, AuthSecret, AuthSecret, AuthCertificate, AuthFederated)}
	switch a.Auth {
	case AuthSecret:
		a.ClientSecret = r.required(SettingAppClientSecret, "the app's client secret value (in Azure a Key Vault reference), or set APP_AUTH=federated")
		r.optional(SettingAppCertificate, "")
	case AuthCertificate:
		a.Certificate = r.required(SettingAppCertificate, "the app's certificate and key (PEM; in Azure a Key Vault reference to app-certificate)")
		r.optional(SettingAppClientSecret, "")
	case AuthFederated:
		// The managed identity's token is the assertion: no secret to keep (issue: none expires).
		r.optional(SettingAppClientSecret, "")
		r.optional(SettingAppCertificate, "")
	}
	return a
}

func (r *reader) required(name, what string) string {
	v, ok := r.get(name)
	if !ok {
		r.fail(name, "is missing: %s", what)
	}
	return v
}

var guidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (r *reader) guid(name string) string {
	v, ok := r.get(name)
	if !ok {
		r.fail(name, "is missing: want a GUID")
		return ""
	}
	if !guidRe.MatchString(v) {
		r.fail(name, "is %q, want a GUID", v)
		return ""
	}
	return strings.ToLower(v)
}

func (r *reader) requiredURL(name string) string {
	v := r.httpURL(name)
	if v == "" {
		if _, ok := r.get(name); !ok {
			r.fail(name, "is missing: the app's public URL, e.g. https://<app>.azurewebsites.net (http://localhost:7071 locally)")
		}
	}
	return v
}

func (r *reader) requiredHTTPS(name string) string {
	v := r.httpsURL(name)
	if v == "" {
		if _, ok := r.get(name); !ok {
			r.fail(name, "is missing: want an https URL")
		}
	}
	return v
}

func (r *reader) optionalGUID(name string) string {
	if _, ok := r.get(name); !ok {
		return ""
	}
	return r.guid(name)
}

func (r *reader) boolean(name string, def bool) bool {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(name, "is %q, want true or false", v)
		return def
	}
	return b
}

// dotnetBool reads a flag the platform sets for .NET readers: the Functions host parses
// WEBSITE_AUTH_ENABLED with Convert.ToBoolean (Azure/azure-functions-host
// HostEasyAuthOptionsSetup.cs), which takes "True"/"False" in any case and nothing else. Absent
// is false.
func (r *reader) dotnetBool(name string) bool {
	v, ok := r.get(name)
	switch {
	case !ok:
		return false
	case strings.EqualFold(v, "true"):
		return true
	case strings.EqualFold(v, "false"):
		return false
	}
	r.fail(name, "is %q, want True or False", v)
	return false
}

// key reads a base64 secret of at least 32 bytes (generate one with: openssl rand -base64 32).
func (r *reader) key(name string) []byte {
	v, ok := r.get(name)
	if !ok {
		r.fail(name, "is missing: 32+ random bytes, base64 (openssl rand -base64 32; a Key Vault reference in Azure)")
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(v)
	}
	if err != nil || len(b) < 32 {
		r.fail(name, "is not base64 of at least 32 bytes (openssl rand -base64 32)")
		return nil
	}
	return b
}

func (r *reader) httpsURLOr(name, def string) string {
	if v := r.httpsURL(name); v != "" {
		return v
	}
	return def
}

func (r *reader) file(name string) string {
	v, ok := r.get(name)
	if !ok {
		return ""
	}
	if _, err := os.Stat(v); err != nil {
		r.fail(name, "names %q, which cannot be read: %v", v, err)
		return ""
	}
	return v
}

// duration accepts ISO 8601 (PT30M, as Azure settings write durations) or Go syntax (30m).
func (r *reader) duration(name string, def time.Duration) time.Duration {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d
	}
	if d, ok := isoDuration(v); ok {
		return d
	}
	r.fail(name, "is %q, want a duration such as PT30M or 30m", v)
	return def
}

// MaxRefresh bounds the refresh settings: data older than a week is not an inventory any more.
const MaxRefresh = 7 * 24 * time.Hour

// refresh is a duration setting between 0 (every run) and MaxRefresh.
func (r *reader) refresh(name string, def time.Duration) time.Duration {
	d := r.duration(name, def)
	if d > MaxRefresh {
		v, _ := r.get(name)
		r.fail(name, "is %q, want at most P7D (0 reads the collection on every run)", v)
		return def
	}
	return d
}

var isoRe = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

func isoDuration(v string) (time.Duration, bool) {
	m := isoRe.FindStringSubmatch(strings.ToUpper(v))
	if m == nil || v == "P" || strings.HasSuffix(strings.ToUpper(v), "T") {
		return 0, false
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] != "" {
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * unit
		}
	}
	return d, true
}

func (r *reader) intRange(name string, def, lo, hi int) int {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, "is %q, want a whole number from %d to %d", v, lo, hi)
		return def
	}
	return n
}

func (r *reader) port(name string) int {
	v, ok := r.get(name)
	if !ok {
		r.fail(name, "is missing: the Functions host sets it when it starts the handler")
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		r.fail(name, "is %q, want a TCP port number (1-65535)", v)
		return 0
	}
	return n
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v, ok := r.get(name)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	r.fail(name, "is %q, want one of %s", v, strings.Join(allowed, ", "))
	return def
}

func (r *reader) level(name string) slog.Level {
	v, ok := r.get(name)
	if !ok {
		return slog.LevelInfo
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail(name, "is %q, want debug, info, warn or error", v)
	}
	return l
}

func (r *reader) httpsURL(name string) string { return r.url(name, "https") }
func (r *reader) httpURL(name string) string  { return r.url(name, "http", "https") }

func (r *reader) url(name string, schemes ...string) string {
	v, ok := r.get(name)
	if !ok {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		r.fail(name, "is %q, want an absolute URL", v)
		return ""
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return strings.TrimRight(v, "/")
		}
	}
	r.fail(name, "is %q, want a %s URL", v, strings.Join(schemes, " or "))
	return ""
}

func (r *reader) exactlyOne(a, av, b, bv, what string) {
	switch {
	case av == "" && bv == "":
		r.errs = append(r.errs, fmt.Errorf("settings %s and %s are both missing: %s", a, b, what))
	case av != "" && bv != "":
		r.errs = append(r.errs, fmt.Errorf("settings %s and %s are both set: %s, not both", a, b, what))
	}
}

// Secrets are the settings that hold secrets. Local tooling must never fill them from the
// committed sample file: a deleted secret has to surface as the handler's "setting X is missing"
// error, not be silently replaced by a value everyone can read.
var Secrets = []string{SettingAppClientSecret, SettingStateSigningKey, SettingAppCertificate, "IDENTITY_HEADER"}
