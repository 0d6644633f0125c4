// Package store keeps tenantsync's state in Azure Table Storage through aztables: tenants in one
// partition (the list is read whole), everything per tenant partitioned by tenant id.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
)

// Table names.
const (
	TableTenants = "Tenants"
	TableRuns    = "Runs"
)

// tenantPartition holds every tenant row: listing all tenants is then one partition query.
const tenantPartition = "tenant"

// Store is the Table Storage state.
type Store struct {
	svc     *aztables.ServiceClient
	tenants *aztables.Client
	runs    *aztables.Client

	// ensure serialises Ensure (a one-slot semaphore, so a waiting caller still honours its own
	// context); ensured is set only after every table exists.
	ensure  chan struct{}
	ensured atomic.Bool

	// snap holds the rows of whole-table reads while their table is unchanged (snapshot.go).
	snap snapshots

	// RunTimeout is the Functions host's functionTimeout: a run still marked running longer after
	// its start is read as abandoned (domain.SyncStatus.Effective). Zero: never.
	RunTimeout time.Duration
}

// Open connects with a connection string (Azurite) or the endpoint and a token credential (Azure).
func Open(cfg config.Tables, cred azcore.TokenCredential) (*Store, error) {
	var (
		svc *aztables.ServiceClient
		err error
	)
	if cfg.ConnectionString != "" {
		svc, err = aztables.NewServiceClientFromConnectionString(cfg.ConnectionString, nil)
	} else {
		svc, err = aztables.NewServiceClient(cfg.Endpoint, cred, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("table storage: %w", err)
	}
	return New(svc), nil
}

// New wraps a service client.
func New(svc *aztables.ServiceClient) *Store {
	return &Store{svc: svc, tenants: svc.NewClient(TableTenants), runs: svc.NewClient(TableRuns), ensure: make(chan struct{}, 1)}
}

// Ensure creates the tables once per process. Only success is remembered: a failure (the first
// caller's request cancelled at cold start, a storage blip) is returned to that caller and the
// next call tries again with its own context.
func (s *Store) Ensure(ctx context.Context) error {
	if s.ensured.Load() {
		return nil
	}
	select {
	case s.ensure <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("create tables: %w", ctx.Err())
	}
	defer func() { <-s.ensure }()
	if s.ensured.Load() {
		return nil
	}
	for _, name := range ensuredTables() { // Tenants, Runs, then keys.go's collection tables
		if _, err := s.svc.CreateTable(ctx, name, nil); err != nil && !isCode(err, aztables.TableAlreadyExists) {
			return fmt.Errorf("create table %s: %w", name, err)
		}
	}
	s.ensured.Store(true)
	return nil
}

func isCode(err error, code aztables.TableErrorCode) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.ErrorCode == string(code)
}

// IsNotFound reports whether err is Table Storage's 404.
func IsNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// runEntity is a run row: PartitionKey tenant id, RowKey run id.
type runEntity struct {
	aztables.Entity
	Reason        string
	State         string
	MessageID     string
	DeliveryCount int32
	ErrorCode     string                `json:",omitempty"`
	ErrorMessage  string                `json:",omitempty"`
	Remediation   string                `json:",omitempty"`
	Collections   string                `json:",omitempty"` // JSON
	QueuedAt      *aztables.EDMDateTime `json:",omitempty"`
	StartedAt     *aztables.EDMDateTime `json:",omitempty"`
	FinishedAt    *aztables.EDMDateTime `json:",omitempty"`
}

func edm(t time.Time) *aztables.EDMDateTime {
	if t.IsZero() {
		return nil
	}
	v := aztables.EDMDateTime(t.UTC())
	return &v
}

func fromEDM(t *aztables.EDMDateTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Time(*t).UTC()
}

// PutRun writes a run row, replacing it: a redelivered message rewrites the same run.
func (s *Store) PutRun(ctx context.Context, r domain.Run) error {
	e := runEntity{
		Entity: aztables.Entity{PartitionKey: r.TenantID, RowKey: r.RunID},
		Reason: r.Reason, State: r.State, MessageID: r.MessageID, DeliveryCount: int32(r.DeliveryCount),
		QueuedAt: edm(r.QueuedAt), StartedAt: edm(r.StartedAt), FinishedAt: edm(r.FinishedAt),
	}
	if r.Error != nil {
		e.ErrorCode, e.ErrorMessage, e.Remediation = r.Error.Code, r.Error.Message, r.Error.Remediation
	}
	if len(r.Collections) > 0 {
		b, _ := json.Marshal(r.Collections)
		e.Collections = string(b)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = s.runs.UpsertEntity(ctx, b, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	return err
}

// ListRuns reads a tenant's runs, newest first.
func (s *Store) ListRuns(ctx context.Context, tenantID string) ([]domain.Run, error) {
	if !domain.IsTenantID(tenantID) { // also keeps the value out of the OData filter unless it is a GUID
		return nil, fmt.Errorf("list runs: %q is not a tenant id", tenantID)
	}
	filter := fmt.Sprintf("PartitionKey eq '%s'", tenantID)
	pager := s.runs.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	var out []domain.Run
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		for _, raw := range page.Entities {
			var e runEntity
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, fmt.Errorf("run row: %w", err)
			}
			run := domain.Run{
				TenantID: e.PartitionKey, RunID: e.RowKey, Reason: e.Reason, State: e.State, MessageID: e.MessageID,
				DeliveryCount: int(e.DeliveryCount), QueuedAt: fromEDM(e.QueuedAt), StartedAt: fromEDM(e.StartedAt), FinishedAt: fromEDM(e.FinishedAt),
			}
			if e.ErrorCode != "" {
				run.Error = &domain.Problem{Code: e.ErrorCode, Message: e.ErrorMessage, Remediation: e.Remediation}
			}
			if e.Collections != "" {
				if err := json.Unmarshal([]byte(e.Collections), &run.Collections); err != nil {
					return nil, fmt.Errorf("run %s collections: %w", e.RowKey, err)
				}
			}
			out = append(out, run.Effective(time.Now(), s.RunTimeout))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].QueuedAt.After(out[j].QueuedAt) })
	return out, nil
}
