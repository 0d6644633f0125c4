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
	tc, err := ep.TLSConfig()
	if err != nil {
		return nil, nil, err
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tc
	base.MaxIdleConnsPerHost = 64
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
	// Not msgraphsdk.NewGraphServiceClient: it passes kiota's global store.BackingStoreFactoryInstance
	// back to EnableBackingStore, which writes that global again on every client, a data race with
	// any goroutine deserialising a response meanwhile (models read it): seen under -race when
	// Partner Center consent verifies tenants concurrently. A nil factory leaves the global as it is
	// (kiota-http-go NetHttpRequestAdapter.EnableBackingStore: "if factory != nil"), and the parse
	// node and serialization writer factories get their backing store proxies as before.
	gc := msgraphsdk.NewGraphBaseServiceClient(adapter, nil)
	return &msgraphsdk.GraphServiceClient{GraphBaseServiceClient: *gc}, adapter, nil
}
