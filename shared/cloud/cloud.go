// Package cloud holds the Microsoft endpoints tenantsync talks to and the HTTP transport that
// reaches them. Endpoints are configurable because national clouds need it anyway; locally they
// point at the simulator, whose CA is trusted explicitly through CAFile (added to the system
// roots, never replacing verification).
package cloud

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/tenantsync/tenantsync/shared/transport"
)

// Endpoints are the service roots.
type Endpoints struct {
	AuthorityHost    string `json:"authorityHost"`    // https://login.microsoftonline.com/
	GraphURL         string `json:"graphUrl"`         // https://graph.microsoft.com/v1.0
	PartnerCenterURL string `json:"partnerCenterUrl"` // https://api.partnercenter.microsoft.com
	KeyVaultURL      string `json:"keyVaultUrl"`      // https://<vault>.vault.azure.net/
	// CAFile is a PEM file of extra CAs to trust (the simulator's); empty: system roots only.
	CAFile string `json:"caFile,omitempty"`
}

// Public is Microsoft's global cloud (no Key Vault: that is per deployment).
func Public() Endpoints {
	return Endpoints{
		AuthorityHost:    "https://login.microsoftonline.com/",
		GraphURL:         "https://graph.microsoft.com/v1.0",
		PartnerCenterURL: "https://api.partnercenter.microsoft.com",
	}
}

// The global cloud's scopes, for tests against the simulator (which stands in for the global cloud).
// Product code asks the configured Endpoints instead (GraphScope, PartnerCenterAppScope,
// PartnerCenterScope), so national clouds get their own (cloud_test.go checks no product file uses
// these constants).
const (
	GraphScope            = "https://graph.microsoft.com/.default"
	PartnerCenterAppScope = "https://api.partnercenter.microsoft.com/.default"
	PartnerCenterScope    = "https://api.partnercenter.microsoft.com/user_impersonation"
)

// graphResources maps each Microsoft Graph national cloud deployment's host to the resource its
// tokens are issued for ("Microsoft Graph national cloud deployments", learn.microsoft.com/graph/
// deployments: global https://graph.microsoft.com with login.microsoftonline.com; US Government L4
// https://graph.microsoft.us and L5 (DOD) https://dod-graph.microsoft.us with login.microsoftonline.us;
// 21Vianet https://microsoftgraph.chinacloudapi.cn with login.chinacloudapi.cn). "Access tokens
// acquired for a national cloud deployment are not interchangeable with those acquired for the global
// service or any other national cloud."
var graphResources = map[string]string{
	"graph.microsoft.com":             "https://graph.microsoft.com",
	"graph.microsoft.us":              "https://graph.microsoft.us",
	"dod-graph.microsoft.us":          "https://dod-graph.microsoft.us",
	"microsoftgraph.chinacloudapi.cn": "https://microsoftgraph.chinacloudapi.cn",
}

// partnerCenterResources maps Partner Center REST hosts to their token resource ("Different Partner
// Center REST URL end points", learn.microsoft.com/partner-center/developer/partner-center-rest-urls:
// https://api.partnercenter.microsoft.com for Partner Center and Partner Center for Microsoft Cloud for
// US Government; https://partner.partnercenterapi.microsoftonline.cn for Partner Center operated by
// 21Vianet). That 21Vianet's token resource is its host, as for the global one, is not verified.
var partnerCenterResources = map[string]string{
	"api.partnercenter.microsoft.com":             "https://api.partnercenter.microsoft.com",
	"partner.partnercenterapi.microsoftonline.cn": "https://partner.partnercenterapi.microsoftonline.cn",
}

// resource returns the token resource for service root u: the table's entry for its host; for a
// loopback host (the simulator, which impersonates the global cloud) the global resource; otherwise
// the root's own scheme and host.
func resource(u string, table map[string]string, global string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return global
	}
	host := strings.ToLower(p.Hostname())
	if r, ok := table[host]; ok {
		return r
	}
	if host == "localhost" || net.ParseIP(host).IsLoopback() {
		return global
	}
	return p.Scheme + "://" + host
}

// GraphScope is the app-only (.default) scope of the configured Graph.
func (e Endpoints) GraphScope() string {
	return resource(e.GraphURL, graphResources, "https://graph.microsoft.com") + "/.default"
}

// PartnerCenterAppScope is the app-only scope of the configured Partner Center.
func (e Endpoints) PartnerCenterAppScope() string {
	return resource(e.PartnerCenterURL, partnerCenterResources, "https://api.partnercenter.microsoft.com") + "/.default"
}

// PartnerCenterScope is the delegated (App+User) scope of the configured Partner Center.
func (e Endpoints) PartnerCenterScope() string {
	return resource(e.PartnerCenterURL, partnerCenterResources, "https://api.partnercenter.microsoft.com") + "/user_impersonation"
}

// TLSConfig trusts the system roots plus CAFile (the shared transport's configuration).
func (e Endpoints) TLSConfig() (*tls.Config, error) {
	t, err := transport.For(e.CAFile)
	if err != nil {
		return nil, err
	}
	return t.TLSConfig(), nil
}

// HTTPClient is the client every Microsoft SDK in tenantsync uses: the process's one transport
// (shared/transport), so every client and credential shares one bounded connection pool.
func (e Endpoints) HTTPClient() (*http.Client, error) {
	t, err := transport.For(e.CAFile)
	if err != nil {
		return nil, err
	}
	return t.Client(2 * time.Minute), nil
}

// Transport is the process's one transport for these endpoints (system roots plus CAFile).
func (e Endpoints) Transport() (*transport.Transport, error) { return transport.For(e.CAFile) }

// ClientOptions are azcore options for azidentity and the Azure SDK clients: the authority host
// and the transport. Retry is left at azcore's policy, which azidentity's token requests to Entra
// go through (azidentity confidential_client.go builds its client with azcore.NewClient): 3
// retries of 408/429/500/502/503/504, honouring Retry-After in whole seconds or as an HTTP date,
// else exponential backoff from 800 ms (azcore runtime/policy_retry.go, internal/shared.RetryAfter;
// a fractional Retry-After falls back to the backoff). Whether Entra throttles token requests
// with fractional values was not verified; the simulator does not throttle them.
func (e Endpoints) ClientOptions() (azcore.ClientOptions, error) {
	c, err := e.HTTPClient()
	if err != nil {
		return azcore.ClientOptions{}, err
	}
	cfg := azcloud.AzurePublic
	if e.AuthorityHost != "" {
		cfg.ActiveDirectoryAuthorityHost = e.AuthorityHost
	}
	return azcore.ClientOptions{Cloud: cfg, Transport: c}, nil
}

// GraphHost is the Graph host name without port: kiota compares URL.Hostname() against its list
// of hosts that receive tokens, and sends none (silently) to any other.
func (e Endpoints) GraphHost() string {
	u, err := url.Parse(e.GraphURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// MicrosoftAuthority reports whether authorityHost is one of Microsoft's login hosts (public cloud, US
// Government, 21Vianet), for which MSAL's instance discovery works; elsewhere (the simulator) it must
// be turned off. Empty means the public cloud.
func MicrosoftAuthority(authorityHost string) bool {
	if authorityHost == "" {
		return true
	}
	u, err := url.Parse(authorityHost)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn":
		return true
	}
	return false
}
