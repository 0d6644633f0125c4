// Package cloud holds the Microsoft endpoints tenantsync talks to and the HTTP transport that
// reaches them. Endpoints are configurable because national clouds need it anyway; locally they
// point at the simulator, whose CA is trusted explicitly through CAFile (added to the system
// roots, never replacing verification).
package cloud

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
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

// GraphScope is the .default scope for the configured Graph (its host, e.g. graph.microsoft.us in
// GCC High). Tokens are always for the graph resource the customer's cloud knows, which in the
// simulator is https://graph.microsoft.com as well.
const GraphScope = "https://graph.microsoft.com/.default"

// PartnerCenterAppScope is the app-only scope for Partner Center.
const PartnerCenterAppScope = "https://api.partnercenter.microsoft.com/.default"

// PartnerCenterScope is the delegated scope for Partner Center.
const PartnerCenterScope = "https://api.partnercenter.microsoft.com/user_impersonation"

// TLSConfig trusts the system roots plus CAFile.
func (e Endpoints) TLSConfig() (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", e.CAFile)
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

// HTTPClient is the client every Microsoft SDK in tenantsync uses.
func (e Endpoints) HTTPClient() (*http.Client, error) {
	tc, err := e.TLSConfig()
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t, Timeout: 2 * time.Minute}, nil
}

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
