package sim_test

import (
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"

	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
)

// startSim runs the demo scenario for one test.
func startSim(t *testing.T) *sim.Server {
	t.Helper()
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// clientOptions are the azcore options every SDK client in tests uses: the simulator's authority
// and a transport trusting the simulator's CA (and nothing weaker).
func clientOptions(t *testing.T, s *sim.Server) azcore.ClientOptions {
	t.Helper()
	o, err := s.Endpoints().ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// httpClient is a plain client trusting the simulator's CA (for Partner Center and raw checks).
func httpClient(t *testing.T, s *sim.Server) *http.Client {
	t.Helper()
	c, err := s.Endpoints().HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// secretCredential is the app's client-secret credential for tenantID, as the product builds it.
func secretCredential(t *testing.T, s *sim.Server, tenantID string) *azidentity.ClientSecretCredential {
	t.Helper()
	app := s.World.App()
	cred, err := azidentity.NewClientSecretCredential(tenantID, app.AppID, app.Secrets[0].Value, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:              clientOptions(t, s),
		DisableInstanceDiscovery:   true,
		AdditionallyAllowedTenants: []string{"*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// graphFor is a Graph client with the app's credential for tenantID.
func graphFor(t *testing.T, s *sim.Server, tenantID string) (*msgraphsdk.GraphServiceClient, *msgraphsdk.GraphRequestAdapter) {
	t.Helper()
	c, a, err := graphclient.New(secretCredential(t, s, tenantID), s.Endpoints().Endpoints)
	if err != nil {
		t.Fatal(err)
	}
	return c, a
}
