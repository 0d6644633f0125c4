// Package graphclient builds msgraph-sdk-go clients for the configured cloud: base URL, the
// trusted CA and the Graph host registered as a host that receives tokens (kiota sends no token
// to hosts outside its list, which would otherwise silently turn every call into a 401).
package graphclient

import (
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"

	"github.com/tenantsync/tenantsync/shared/cloud"
)

func init() {
	// msgraph-sdk-go-core creates its error-mapping registry on first use with unsynchronised
	// double-checked locking (error_mappings_registry.go, getInstance, v1.4.0): two tenants'
	// first $batch at once race on it (found with -race). Create it before any goroutine can.
	msgraphgocore.GetErrorFactoryFromRegistry("")
}

// New returns a Graph client and its request adapter (the adapter is what batch requests and
// page iterators need) authenticating with cred.
func New(cred azcore.TokenCredential, ep cloud.Endpoints) (*msgraphsdk.GraphServiceClient, *msgraphsdk.GraphRequestAdapter, error) {
	return NewWithRetry(cred, ep, &RetryHandler{})
}

// NewWithRetry is New with a configured retry policy.
func NewWithRetry(cred azcore.TokenCredential, ep cloud.Endpoints, retry *RetryHandler) (*msgraphsdk.GraphServiceClient, *msgraphsdk.GraphRequestAdapter, error) {
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{ep.GraphScope()}, []string{ep.GraphHost()})
	if err != nil {
		return nil, nil, err
	}
	// The process's one transport: a client per sync costs no connections of its own.
	base, err := ep.Transport()
	if err != nil {
		return nil, nil, err
	}
	// The SDK's own middleware (retry with Retry-After, redirect, compression, telemetry) on top of
	// our transport.
	mws := msgraphgocore.GetDefaultMiddlewaresWithOptions(&msgraphgocore.GraphClientOptions{GraphServiceVersion: "v1.0"})
	for i, m := range mws {
		if _, ok := m.(*khttp.RetryHandler); ok {
			mws[i] = retry // see RetryHandler for why the SDK's is replaced
		}
	}
	hc := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(base, mws...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		return nil, nil, err
	}
	if ep.GraphURL != "" {
		adapter.SetBaseUrl(ep.GraphURL)
	}
	// Not msgraphsdk.NewGraphServiceClient: it passes the global store.BackingStoreFactoryInstance
	// to NewGraphBaseServiceClient, whose EnableBackingStore assigns it back to that global
	// (kiota-http-go nethttp_request_adapter.go: `store.BackingStoreFactoryInstance = factory`), an
	// unsynchronised write that races with every model constructor reading it while other tenants
	// sync in the same process (found by the race detector). A nil factory skips the write and
	// leaves the same default factory in place.
	return &msgraphsdk.GraphServiceClient{GraphBaseServiceClient: *msgraphsdk.NewGraphBaseServiceClient(adapter, nil)}, adapter, nil
}
