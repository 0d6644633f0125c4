package console

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/store"
)

// PageSize is how many rows a collection table shows at once.
const PageSize = 50

// maxSearchRows bounds a table search, which reads the collection (Table Storage cannot search
// inside values); a larger tenant's search covers the first rows and says so.
const maxSearchRows = 20000

// Service reads what the pages show. Every read is Table Storage: the sync precomputes the
// per-tenant summary (the tenant row: counts, MFA %, problems) and the insights rows, so no page
// ever calls Graph.
type Service struct {
	Store *store.Store
	Now   func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

var tables = map[string]string{
	"users": store.TableUsers, "licenses": store.TableLicenses, "groups": store.TableGroups,
	"devices": store.TableDevices, "mailboxes": store.TableMailboxes,
}

// Overview reads every tenant and builds the overview. The tenant rows come from the store's
// snapshot: one point query while no tenant changed (store.TenantsSnapshot).
func (s *Service) Overview(ctx context.Context, q OverviewQuery) (Overview, error) {
	tenants, err := s.Store.TenantsSnapshot(ctx)
	if err != nil {
		return Overview{}, err
	}
	return BuildOverview(tenants, q, s.now()), nil
}

// TenantQuery selects what the tenant page shows.
type TenantQuery struct {
	Tab    string // a collection name, "runs" or "access"
	Search string
	Skip   string // skip token (no search)
	Page   int    // 1-based page (search)
}

// Tabs on the tenant page.
var Tabs = []struct{ Name, Label string }{
	{"users", "Users"}, {"licenses", "Licences"}, {"groups", "Groups"}, {"devices", "Devices"},
	{"mailboxes", "Mailboxes"}, {"runs", "Run history"}, {"access", "Access check"},
}

// TenantPage is the tenant page's model.
type TenantPage struct {
	T       domain.Tenant
	Consent domain.Consent
	Status  Status
	Problem *domain.Problem
	Query   TenantQuery
	Table   Table
	// NextSkip (no search) or NextPage (search) links to the following rows.
	NextSkip  string
	NextPage  int
	Truncated bool // the search covered only the first maxSearchRows rows
	Access    Access
	Busy      bool // a sync is queued or running: the page shows live progress
	Now       time.Time
}

// Access is the access check: GDAP roles in force (the access assignments'), whether the
// service account really holds them (is in the assignment's group), the consent path they allow
// with the fix, and what tenantsync's consent grants.
type Access struct {
	Relationship string
	Roles        []string
	// RolesSource says where Roles come from: the access assignments, or the relationship's
	// role list when they could not be read.
	RolesSource    string
	ServiceAccount string // the service account's check, in words
	Path, Fix      string
	Permissions    []appperms.Permission
	// Delegated: the tenant syncs with the service account's delegated token (gdap): these are
	// the delegated scopes, effective only as far as its GDAP roles allow.
	Delegated []string
	Consent   string
}

// ParseTenantQuery reads tab, q, skip and page.
func ParseTenantQuery(get func(string) string) TenantQuery {
	q := TenantQuery{Tab: "users", Search: strings.TrimSpace(get("q")), Skip: get("skip"), Page: 1}
	for _, t := range Tabs {
		if t.Name == get("tab") {
			q.Tab = t.Name
		}
	}
	if n := atoiOr(get("page"), 1); n > 0 && n < 100000 {
		q.Page = n
	}
	if len(q.Search) > 200 {
		q.Search = q.Search[:200]
	}
	return q
}

func atoiOr(s string, def int) int {
	n := 0
	if s == "" || len(s) > 6 {
		return def
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return def
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// Tenant reads one tenant and the selected tab. all=true reads every (matching) row, for CSV.
func (s *Service) Tenant(ctx context.Context, tenantID string, q TenantQuery, all bool) (TenantPage, error) {
	t, err := s.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return TenantPage{}, err
	}
	now := s.now()
	st, p := Assess(t, now)
	pg := TenantPage{T: t, Consent: t.Consent.Effective(now), Status: st, Problem: p, Query: q, Now: now,
		Busy: t.Sync.State == domain.SyncQueued || t.Sync.State == domain.SyncRunning}
	switch q.Tab {
	case "runs":
		runs, err := s.Store.ListRuns(ctx, tenantID)
		if err != nil {
			return pg, err
		}
		pg.Table = RunsTable(runs)
		filterRows(&pg.Table, q.Search)
	case "access":
		pg.Access = accessOf(t, pg.Consent)
	default:
		err = s.collection(ctx, &pg, all)
	}
	return pg, err
}

func filterRows(t *Table, search string) {
	needle := strings.ToLower(search)
	if needle == "" {
		return
	}
	kept := t.Rows[:0]
	for _, r := range t.Rows {
		if Matches(r, needle) {
			kept = append(kept, r)
		}
	}
	t.Rows = kept
}

func (s *Service) collection(ctx context.Context, pg *TenantPage, all bool) error {
	c, _ := CollectionByName(pg.Query.Tab)
	pg.Table = Table{Name: c.Name, Caption: c.Label, Columns: c.Columns, Empty: "No " + strings.ToLower(c.Label) + " synced yet."}
	if cs, ok := pg.T.Collections[c.Name]; ok && !cs.Available && cs.Problem != nil {
		pg.Table.Note = cs.Problem.Message + " " + cs.Problem.Remediation
	}
	if pg.Query.Search != "" {
		pg.Table.Empty = "No " + strings.ToLower(c.Label) + " match “" + pg.Query.Search + "”."
	}
	table := tables[c.Name]
	needle := strings.ToLower(pg.Query.Search)
	if needle == "" && !all {
		if c.Name == "users" { // users and their MFA/sign-in rows read at once
			items, next, err := s.Store.PageUsersJoined(ctx, pg.T.TenantID, PageSize, pg.Query.Skip)
			if err != nil {
				return err
			}
			pg.NextSkip = next
			pg.Table.Rows, err = c.Rows(items)
			return err
		}
		items, next, err := s.Store.Page(ctx, table, pg.T.TenantID, PageSize, pg.Query.Skip)
		if err != nil {
			return err
		}
		rows, err := s.rows(ctx, c, pg.T.TenantID, items)
		if err != nil {
			return err
		}
		pg.Table.Rows, pg.NextSkip = rows, next
		return nil
	}
	// Search (or CSV): read the collection page by page, keep the matching rows.
	var matched [][]Cell
	skip, read := "", 0
	for {
		items, next, err := s.Store.Page(ctx, table, pg.T.TenantID, store.MaxPageSize, skip)
		if err != nil {
			return err
		}
		rows, err := s.rows(ctx, c, pg.T.TenantID, items)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if Matches(r, needle) {
				matched = append(matched, r)
			}
		}
		read += len(items)
		if next == "" {
			break
		}
		if read >= maxSearchRows && !all {
			pg.Truncated = true
			break
		}
		skip = next
	}
	if all {
		pg.Table.Rows = matched
		return nil
	}
	start := (pg.Query.Page - 1) * PageSize
	if start > len(matched) {
		start = len(matched)
	}
	end := min(start+PageSize, len(matched))
	pg.Table.Rows = matched[start:end]
	if end < len(matched) {
		pg.NextPage = pg.Query.Page + 1
	}
	return nil
}

func (s *Service) rows(ctx context.Context, c Collection, tenantID string, items []json.RawMessage) ([][]Cell, error) {
	if c.Name == "users" {
		var err error
		if items, err = s.Store.JoinUserSecurity(ctx, tenantID, items); err != nil {
			return nil, err
		}
	}
	return c.Rows(items)
}

func accessOf(t domain.Tenant, c domain.Consent) Access {
	a := Access{Relationship: RelationshipText(t.Relationship), Consent: ConsentText(c)}
	r := t.Relationship
	if r.AccessChecked {
		chk := discovery.AccessOf(t.TenantID, r)
		a.Roles, a.RolesSource, a.Path, a.Fix = chk.RolesInForce, "the relationship's access assignments", chk.Path, chk.Fix
		switch {
		case !chk.ServiceAccountChecked:
			a.ServiceAccount = "not checked (needs the partner account connected and tenantsync consented in this tenant)"
		case chk.ServiceAccountInGroup:
			a.ServiceAccount = "holds every role in force: it is in the access assignment's security group"
		default:
			a.ServiceAccount = "does not hold the roles in force: add it to the access assignment's security group"
		}
	} else {
		for _, id := range r.Roles {
			name := discovery.RoleNames[strings.ToLower(id)]
			if name == "" {
				name = id
			}
			a.Roles = append(a.Roles, name)
		}
		a.RolesSource, a.ServiceAccount = "the relationship's role list (access assignments not read)", "not checked"
	}
	if c.State == domain.ConsentConsented {
		if c.Method == domain.ConsentMethodGDAP {
			a.Delegated = appperms.CustomerDelegated()
		} else {
			a.Permissions = appperms.Customer()
		}
	}
	return a
}

// Progress is what the live progress poll answers.
type Progress struct {
	State     string    `json:"state"`
	RunID     string    `json:"runId,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	Done      bool      `json:"done"`
	Message   string    `json:"message"`
}

// SyncProgress reads the tenant's sync state and its current run.
func (s *Service) SyncProgress(ctx context.Context, tenantID string) (Progress, error) {
	t, err := s.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{State: t.Sync.State, RunID: t.Sync.LastRunID}
	switch t.Sync.State {
	case domain.SyncQueued:
		p.Message = "Queued: waiting for a sync worker."
	case domain.SyncRunning:
		p.Message = "Running: reading the tenant from Microsoft Graph."
		if runs, err := s.Store.ListRuns(ctx, tenantID); err == nil {
			for _, r := range runs {
				if r.RunID == t.Sync.LastRunID {
					p.StartedAt = r.StartedAt
					p.Message = "Running since " + ShortTime(r.StartedAt) + ": reading the tenant from Microsoft Graph."
				}
			}
		}
	default:
		p.Done = true
		p.Message = "Finished: " + t.Sync.State + "."
	}
	return p, nil
}
