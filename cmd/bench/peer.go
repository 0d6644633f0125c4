package main

// The naive peer: how an integrator without tenantsync's care would sync the same tenants with
// the same SDKs. msgraph-sdk-go's PageIterator at the default page size, no $select (except
// signInActivity, which Graph returns only when selected), no delta, no $batch (each user's
// authentication methods one request at a time), and one aztables upsert per row. It runs in its
// own process (bench -peer job.json) so its peak RSS is its own.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoft/kiota-abstractions-go/serialization"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/shared/cloud"
)

type peerJob struct {
	Endpoints   cloud.Endpoints `json:"endpoints"`
	ClientID    string          `json:"clientId"`
	Secret      string          `json:"secret"`
	Tenants     []string        `json:"tenants"`
	Concurrency int             `json:"concurrency"`
	Tables      string          `json:"tables"` // connection string
}

type peerResult struct {
	WallSeconds float64  `json:"wallSeconds"`
	PeakRssMB   float64  `json:"peakRssMB"`
	Rows        int64    `json:"rows"`
	TenantsOK   int      `json:"tenantsOk"`
	Errors      []string `json:"errors,omitempty"`
}

var peerTables = []string{"PeerOrganization", "PeerSkus", "PeerUsers", "PeerGroups", "PeerDevices", "PeerMailboxes", "PeerRegistration", "PeerSignIns", "PeerMethods"}

// runPeer is the child process: read the job, sync, print the result as JSON on stdout.
func runPeer(jobFile string) error {
	b, err := os.ReadFile(jobFile)
	if err != nil {
		return err
	}
	var job peerJob
	if err := json.Unmarshal(b, &job); err != nil {
		return err
	}
	ctx := context.Background()
	svc, err := aztables.NewServiceClientFromConnectionString(job.Tables, nil)
	if err != nil {
		return err
	}
	tables := map[string]*aztables.Client{}
	for _, name := range peerTables {
		if _, err := svc.CreateTable(ctx, name, nil); err != nil && !strings.Contains(err.Error(), "TableAlreadyExists") {
			return err
		}
		tables[name] = svc.NewClient(name)
	}
	p := &peer{job: job, tables: tables}
	start := time.Now()
	jobs := make(chan string)
	var wg sync.WaitGroup
	var ok atomic.Int64
	var mu sync.Mutex
	var errs []string
	for range max(1, job.Concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				if err := p.syncTenant(ctx, id); err != nil {
					mu.Lock()
					if len(errs) < 10 {
						errs = append(errs, id+": "+err.Error())
					}
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for _, id := range job.Tenants {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	res := peerResult{WallSeconds: time.Since(start).Seconds(), Rows: p.rows.Load(), TenantsOK: int(ok.Load()), Errors: errs}
	if kb, err := statusKB(os.Getpid(), "VmHWM"); err == nil {
		res.PeakRssMB = float64(kb) / 1024
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

type peer struct {
	job    peerJob
	tables map[string]*aztables.Client
	rows   atomic.Int64
}

// client is a Graph client per tenant, built the way the SDK's README shows. The simulator's CA
// reaches it as the system roots (SSL_CERT_FILE, set by the parent for this process), so no TLS
// setting of the SDK's is touched; only the authority host and Graph's base URL point at it.
func (p *peer) client(tenantID string) (*msgraphsdk.GraphServiceClient, abstractions.RequestAdapter, error) {
	ep := p.job.Endpoints
	cfg := azcloud.AzurePublic
	cfg.ActiveDirectoryAuthorityHost = ep.AuthorityHost
	cred, err := azidentity.NewClientSecretCredential(tenantID, p.job.ClientID, p.job.Secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{Cloud: cfg}, DisableInstanceDiscovery: true})
	if err != nil {
		return nil, nil, err
	}
	c, err := msgraphsdk.NewGraphServiceClientWithCredentialsAndHosts(cred, []string{ep.GraphScope()}, []string{ep.GraphHost()})
	if err != nil {
		return nil, nil, err
	}
	c.GetAdapter().SetBaseUrl(ep.GraphURL)
	return c, c.GetAdapter(), nil
}

// upsert writes one row: the object as Graph returned it, serialised.
func (p *peer) upsert(ctx context.Context, table, tenantID, rowKey string, v any) error {
	var data []byte
	switch x := v.(type) {
	case serialization.Parsable:
		b, err := serialization.SerializeToJson(x)
		if err != nil {
			return err
		}
		data = b
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return err
		}
		data = b
	}
	if len(data) > 30000 { // a string property holds at most 64 KiB
		data = data[:30000]
	}
	e, _ := json.Marshal(map[string]string{"PartitionKey": tenantID, "RowKey": strings.NewReplacer("/", "_", "\\", "_", "#", "_", "?", "_").Replace(rowKey), "Data": string(data)})
	if _, err := p.tables[table].UpsertEntity(ctx, e, nil); err != nil {
		return err
	}
	p.rows.Add(1)
	return nil
}

// each pages through a collection with the SDK's PageIterator and upserts every item.
func each[T serialization.Parsable](ctx context.Context, p *peer, resp serialization.Parsable, err error, adapter abstractions.RequestAdapter,
	ctor serialization.ParsableFactory, table, tenantID string, key func(T) string) error {
	if err != nil {
		return err
	}
	it, err := msgraphgocore.NewPageIterator[T](resp, adapter, ctor)
	if err != nil {
		return err
	}
	var werr error
	if err := it.Iterate(ctx, func(item T) bool {
		werr = p.upsert(ctx, table, tenantID, key(item), item)
		return werr == nil
	}); err != nil {
		return err
	}
	return werr
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// unavailable reports a 403 (no licence for the collection): skipped, as any integrator would.
func unavailable(err error) bool {
	var oe *odataerrors.ODataError
	return errors.As(err, &oe) && oe.ResponseStatusCode == http.StatusForbidden
}

func (p *peer) syncTenant(ctx context.Context, tenantID string) error {
	c, adapter, err := p.client(tenantID)
	if err != nil {
		return err
	}
	org, err := c.Organization().Get(ctx, nil)
	if err := each(ctx, p, org, err, adapter, models.CreateOrganizationCollectionResponseFromDiscriminatorValue, "PeerOrganization", tenantID,
		func(o models.Organizationable) string { return deref(o.GetId()) }); err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	skus, err := c.SubscribedSkus().Get(ctx, nil)
	if err := each(ctx, p, skus, err, adapter, models.CreateSubscribedSkuCollectionResponseFromDiscriminatorValue, "PeerSkus", tenantID,
		func(s models.SubscribedSkuable) string { return deref(s.GetId()) }); err != nil {
		return fmt.Errorf("subscribedSkus: %w", err)
	}
	var ids []string
	us, err := c.Users().Get(ctx, nil)
	if err := each(ctx, p, us, err, adapter, models.CreateUserCollectionResponseFromDiscriminatorValue, "PeerUsers", tenantID,
		func(u models.Userable) string { ids = append(ids, deref(u.GetId())); return deref(u.GetId()) }); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	gs, err := c.Groups().Get(ctx, nil)
	if err := each(ctx, p, gs, err, adapter, models.CreateGroupCollectionResponseFromDiscriminatorValue, "PeerGroups", tenantID,
		func(g models.Groupable) string { return deref(g.GetId()) }); err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	ds, err := c.DeviceManagement().ManagedDevices().Get(ctx, nil)
	if err := each(ctx, p, ds, err, adapter, models.CreateManagedDeviceCollectionResponseFromDiscriminatorValue, "PeerDevices", tenantID,
		func(d models.ManagedDeviceable) string { return deref(d.GetId()) }); err != nil && !unavailable(err) {
		return fmt.Errorf("managedDevices: %w", err)
	}
	if err := p.mailboxes(ctx, c, tenantID); err != nil && !unavailable(err) {
		return fmt.Errorf("mailbox report: %w", err)
	}
	rd, err := c.Reports().AuthenticationMethods().UserRegistrationDetails().Get(ctx, nil)
	err = each(ctx, p, rd, err, adapter, models.CreateUserRegistrationDetailsCollectionResponseFromDiscriminatorValue, "PeerRegistration", tenantID,
		func(r models.UserRegistrationDetailsable) string { return deref(r.GetId()) })
	switch {
	case err == nil:
		si, err := c.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id", "signInActivity"}}})
		if err := each(ctx, p, si, err, adapter, models.CreateUserCollectionResponseFromDiscriminatorValue, "PeerSignIns", tenantID,
			func(u models.Userable) string { return deref(u.GetId()) }); err != nil {
			return fmt.Errorf("signInActivity: %w", err)
		}
	case unavailable(err):
		// No Entra ID P1/P2: each user's registered methods, one request per user.
		if _, err := c.Policies().IdentitySecurityDefaultsEnforcementPolicy().Get(ctx, nil); err != nil && !unavailable(err) {
			return fmt.Errorf("security defaults: %w", err)
		}
		for _, id := range ids {
			ms, err := c.Users().ByUserId(id).Authentication().Methods().Get(ctx, nil)
			if err := each(ctx, p, ms, err, adapter, models.CreateAuthenticationMethodCollectionResponseFromDiscriminatorValue, "PeerMethods", tenantID,
				func(m models.AuthenticationMethodable) string { return id + "_" + deref(m.GetId()) }); err != nil && !unavailable(err) {
				return fmt.Errorf("authentication methods: %w", err)
			}
		}
	default:
		return fmt.Errorf("userRegistrationDetails: %w", err)
	}
	return nil
}

// mailboxes reads the D7 mailbox usage report (the SDK follows the 302 to the CSV) and upserts
// one row per line.
func (p *peer) mailboxes(ctx context.Context, c *msgraphsdk.GraphServiceClient, tenantID string) error {
	period := "D7"
	b, err := c.Reports().GetMailboxUsageDetailWithPeriod(&period).Get(ctx, nil)
	if err != nil {
		return err
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\ufeff")))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return err
	}
	for i, rec := range recs {
		if i == 0 || len(rec) < 2 {
			continue
		}
		if err := p.upsert(ctx, "PeerMailboxes", tenantID, fmt.Sprintf("%05d", i), rec); err != nil {
			return err
		}
	}
	return nil
}
