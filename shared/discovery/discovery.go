// Package discovery finds the partner's customer tenants: GDAP relationships from Graph and CSP
// customers from Partner Center, merged into one tenant list with each relationship's status,
// roles, end date and auto-extend, and flags for what needs attention. Tenants that disappear are
// marked, never deleted; exclusions survive rediscovery.
package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/tenantrelationships"
	"golang.org/x/sync/errgroup"

	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
)

// GDAP role definition ids tenantsync cares about.
const (
	RoleApplicationAdmin      = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
	RoleCloudApplicationAdmin = "158c047a-c907-4556-b7ef-446551a6b5f7"
)

// RoleNames are friendly names for the roles shown in the API.
var RoleNames = map[string]string{
	"f2ef992c-3afb-46b9-b7cf-a126ee74c451": "Global Reader",
	RoleApplicationAdmin:                   "Application Administrator",
	RoleCloudApplicationAdmin:              "Cloud Application Administrator",
	"fe930be7-5e62-47db-91af-98c3a49a38b1": "User Administrator",
	"4d6ac14f-3453-41d0-bef9-a3e0c569773a": "License Administrator",
	"88d8e3e3-8f55-4a1e-953a-9b9898b8876b": "Directory Readers",
	"4a5d8f65-41da-4de4-8968-e035b65339cf": "Reports Reader",
	"62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
	"e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
}

// ExpiringWithin is how far ahead an ending relationship is flagged.
const ExpiringWithin = 30 * 24 * time.Hour

// Discoverer runs discovery.
type Discoverer struct {
	Store           *store.Store
	Credentials     identity.Credentials
	Endpoints       cloud.Endpoints
	PartnerTenantID string
	// PartnerCenter lists CSP customers; nil when the partner account is not connected yet.
	PartnerCenter *pcclient.Client
	Now           func() time.Time
	Log           *slog.Logger
	// ProbeConcurrency bounds the consent checks run at once (default 16).
	ProbeConcurrency int
	// PartnerGraph gives the partner service account's delegated Graph token for a tenant (the
	// partner's own, or a customer's through GDAP); nil or failing: GDAP is read app-only and the
	// service account's roles in customer tenants are not checked.
	PartnerGraph approles.TenantTokenFunc
}

// Report summarises one discovery run.
type Report struct {
	Found        int            `json:"found"`
	New          int            `json:"new"`
	Missing      int            `json:"missing"`
	Consented    int            `json:"consented"`
	NotConsented int            `json:"notConsented"`
	Sources      map[string]int `json:"sources"`
	Warnings     []string       `json:"warnings,omitempty"`
	// Access is the access check of each tenant with an active GDAP relationship whose access
	// assignments were read: the roles in force and the consent path they allow.
	Access []Access `json:"access,omitempty"`
}

// Access is one tenant's access check.
type Access struct {
	TenantID       string   `json:"tenantId"`
	RelationshipID string   `json:"relationshipId"`
	RolesInForce   []string `json:"rolesInForce"` // role names
	Path           string   `json:"path"`         // cpv+roles, gdap or link
	// Fix names the roles to add to the relationship's access assignment for cpv+roles.
	Fix string `json:"fix,omitempty"`
	// ServiceAccountChecked: the partner service account's own roles in the tenant were read (its
	// delegated token's wids); ServiceAccountInGroup: it holds every role in force (it is in the
	// access assignment's security group).
	ServiceAccountChecked bool     `json:"serviceAccountChecked"`
	ServiceAccountInGroup bool     `json:"serviceAccountInGroup,omitempty"`
	ServiceAccountRoles   []string `json:"serviceAccountRoles,omitempty"`
}

// found is one tenant as the sources describe it.
type found struct {
	tenantID, name, domain string
	sources                []string
	rel                    domain.Relationship
	hasRel                 bool
}

// Run discovers, merges into the Tenants table and checks consent where it is not known yet.
func (d *Discoverer) Run(ctx context.Context) (*Report, error) {
	if err := d.Store.Ensure(ctx); err != nil {
		return nil, err
	}
	rep := &Report{Sources: map[string]int{}}
	byID := map[string]*found{}
	get := func(id string) *found {
		id = strings.ToLower(id)
		f := byID[id]
		if f == nil {
			f = &found{tenantID: id}
			byID[id] = f
		}
		return f
	}
	rels, err := d.gdap(ctx)
	if err != nil {
		return nil, fmt.Errorf("GDAP relationships: %w", err)
	}
	for _, r := range rels {
		f := get(r.tenantID)
		if f.name == "" {
			f.name = r.name
		}
		if !slices.Contains(f.sources, "gdap") {
			f.sources = append(f.sources, "gdap")
			rep.Sources["gdap"]++
		}
		if !f.hasRel || better(r.rel, f.rel) {
			var roles, assigned []string
			var checked bool
			if f.rel.Status == "active" { // an ended or pending relationship's roles are not in force
				roles, assigned, checked = f.rel.Roles, f.rel.AssignedRoles, f.rel.AccessChecked
			}
			f.rel, f.hasRel = r.rel, true
			if r.rel.Status == "active" {
				f.rel.Roles = union(roles, r.rel.Roles)
				f.rel.AssignedRoles, f.rel.AccessChecked = union(assigned, r.rel.AssignedRoles), checked || r.rel.AccessChecked
			}
		} else if r.rel.Status == "active" && f.rel.Status == "active" {
			f.rel.Roles = union(f.rel.Roles, r.rel.Roles)
			f.rel.AssignedRoles, f.rel.AccessChecked = union(f.rel.AssignedRoles, r.rel.AssignedRoles), f.rel.AccessChecked || r.rel.AccessChecked
		}
	}
	if d.PartnerCenter == nil {
		rep.Warnings = append(rep.Warnings, "Partner Center not queried: connect the partner account (/api/connect) to include CSP customers without GDAP")
	} else if customers, err := d.PartnerCenter.Customers(ctx); err != nil {
		p := remedy.Classify(err)
		rep.Warnings = append(rep.Warnings, "Partner Center customers: "+p.Message+" — "+p.Remediation)
	} else {
		for _, c := range customers {
			tid := c.CompanyProfile.TenantID
			if tid == "" {
				tid = c.ID
			}
			f := get(tid)
			f.name = firstNonEmpty(c.CompanyProfile.CompanyName, f.name)
			f.domain = firstNonEmpty(f.domain, c.CompanyProfile.Domain)
			f.sources = append(f.sources, "csp")
			rep.Sources["csp"]++
		}
	}

	existing, err := d.Store.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]domain.Tenant{}
	for _, t := range existing {
		known[strings.ToLower(t.TenantID)] = t
	}
	now := d.now()
	for id, f := range byID {
		t, seen := known[id]
		if !seen {
			rep.New++
			t = domain.Tenant{TenantID: id, Consent: domain.Consent{State: domain.ConsentNone}, Sync: domain.SyncStatus{State: domain.SyncNever}}
		}
		t.DisplayName = firstNonEmpty(f.name, t.DisplayName)
		t.DefaultDomain = firstNonEmpty(t.DefaultDomain, f.domain)
		sort.Strings(f.sources)
		t.Sources = f.sources
		t.Relationship = f.rel
		t.Flags = flags(f, now)
		if f.rel.AccessChecked {
			// Only where tenantsync is consented can the service account get a delegated token
			// for it (elsewhere Entra refuses, and the refusal would land on the partner record).
			if t.Consent.State == domain.ConsentConsented {
				d.agentRoles(ctx, id, &f.rel)
			}
			t.Relationship = f.rel
			rep.Access = append(rep.Access, AccessOf(id, f.rel))
		}
		t.Missing, t.MissingAt = false, time.Time{}
		if err := d.Store.SaveDiscovered(ctx, t); err != nil {
			return nil, err
		}
		known[id] = t
	}
	for id, t := range known {
		if _, ok := byID[id]; ok || t.Missing {
			if t.Missing {
				rep.Missing++
			}
			continue
		}
		t.Missing, t.MissingAt = true, now
		t.Flags = append(t.Flags, domain.Problem{Code: "notFound", Message: "Neither GDAP nor Partner Center lists this tenant any more.",
			Remediation: "If the customer left, exclude the tenant; if not, check the GDAP relationship and the CSP relationship."})
		if err := d.Store.SaveDiscovered(ctx, t); err != nil {
			return nil, err
		}
		known[id] = t
		rep.Missing++
	}
	sort.Slice(rep.Access, func(i, j int) bool { return rep.Access[i].TenantID < rep.Access[j].TenantID })
	rep.Found = len(byID)
	if err := d.probeConsent(ctx, known, rep); err != nil {
		return nil, err
	}
	d.log().Info("discovery finished", "found", rep.Found, "new", rep.New, "missing", rep.Missing, "consented", rep.Consented, "notConsented", rep.NotConsented)
	return rep, nil
}

type rel struct {
	tenantID, name string
	rel            domain.Relationship
}

// gdap lists the partner's GDAP relationships: with the partner service account's delegated token
// in the partner tenant when the partner account is connected (partner.go), else, or when that is
// refused, app-only with the partner-only DelegatedAdminRelationship.Read.All.
func (d *Discoverer) gdap(ctx context.Context) ([]rel, error) {
	if cred := d.partnerDelegated(ctx); cred != nil {
		out, err := d.gdapWith(ctx, cred)
		if err == nil {
			return out, nil
		}
		p := remedy.Classify(err)
		d.log().Warn("GDAP relationships not readable with the service account's delegated token: reading them app-only", "code", p.Code, "error", p.Message)
	}
	cred, err := d.Credentials.For(d.PartnerTenantID)
	if err != nil {
		return nil, err
	}
	return d.gdapWith(ctx, cred)
}

func (d *Discoverer) gdapWith(ctx context.Context, cred azcore.TokenCredential) (out []rel, err error) {
	client, adapter, err := graphclient.New(cred, d.Endpoints)
	if err != nil {
		return nil, err
	}
	top := int32(300) // the endpoint's maximum page
	resp, err := client.TenantRelationships().DelegatedAdminRelationships().Get(ctx, &tenantrelationships.DelegatedAdminRelationshipsRequestBuilderGetRequestConfiguration{
		QueryParameters: &tenantrelationships.DelegatedAdminRelationshipsRequestBuilderGetQueryParameters{Top: &top},
	})
	if err != nil {
		return nil, err
	}
	it, err := msgraphgocore.NewPageIterator[models.DelegatedAdminRelationshipable](resp, adapter, models.CreateDelegatedAdminRelationshipCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			d.readAccess(ctx, client, adapter, out)
		}
	}()
	err = it.Iterate(ctx, func(r models.DelegatedAdminRelationshipable) bool {
		c := r.GetCustomer()
		if c == nil || c.GetTenantId() == nil {
			return true
		}
		x := rel{tenantID: *c.GetTenantId(), name: deref(c.GetDisplayName())}
		x.rel.ID = deref(r.GetId())
		if s := r.GetStatus(); s != nil {
			x.rel.Status = s.String()
		}
		if e := r.GetEndDateTime(); e != nil {
			x.rel.EndDateTime = e.UTC()
		}
		if a := r.GetAutoExtendDuration(); a != nil {
			// PT0S means "does not auto-extend"; P180D is the only other value Graph allows.
			d, err := a.ToDuration()
			x.rel.AutoExtend = err == nil && d > 0
		}
		if ad := r.GetAccessDetails(); ad != nil {
			for _, ur := range ad.GetUnifiedRoles() {
				if id := deref(ur.GetRoleDefinitionId()); id != "" {
					x.rel.Roles = append(x.rel.Roles, strings.ToLower(id))
				}
			}
		}
		sort.Strings(x.rel.Roles)
		out = append(out, x)
		return true
	})
	return out, err
}

// better prefers an active relationship, then the later end date.
func better(a, b domain.Relationship) bool {
	if (a.Status == "active") != (b.Status == "active") {
		return a.Status == "active"
	}
	return a.EndDateTime.After(b.EndDateTime)
}

func flags(f *found, now time.Time) []domain.Problem {
	out := []domain.Problem{}
	if !f.hasRel {
		return out // CSP only: no GDAP facts to check
	}
	r := f.rel
	switch r.Status {
	case "active":
		if !r.EndDateTime.IsZero() && !r.AutoExtend && r.EndDateTime.Sub(now) < ExpiringWithin {
			days := int(r.EndDateTime.Sub(now).Hours() / 24)
			out = append(out, domain.Problem{Code: "relationshipExpiring",
				Message:     fmt.Sprintf("The GDAP relationship ends on %s (in %d days) and does not auto-extend.", r.EndDateTime.Format("2006-01-02"), days),
				Remediation: "Ask the customer to approve a new GDAP relationship, or enable auto-extend (180 days) on this one in Partner Center."})
		}
		if !slices.Contains(r.Roles, RoleApplicationAdmin) && !slices.Contains(r.Roles, RoleCloudApplicationAdmin) {
			out = append(out, domain.Problem{Code: "missingRoles",
				Message:     "The GDAP relationship lacks Application Administrator and Cloud Application Administrator, so consent cannot be granted automatically through Partner Center.",
				Remediation: "Add Cloud Application Administrator to the relationship (and its security group), or send the customer's admin the consent link."})
		}
	case "expired", "terminated", "terminationRequested", "terminating":
		out = append(out, domain.Problem{Code: "relationshipEnded",
			Message:     fmt.Sprintf("The GDAP relationship is %s.", r.Status),
			Remediation: "Create a new GDAP relationship and have the customer approve it; syncing keeps working while tenantsync's own consent remains."})
	default:
		out = append(out, domain.Problem{Code: "relationshipPending",
			Message:     fmt.Sprintf("The GDAP relationship is %s, not active.", r.Status),
			Remediation: "Have the customer's Global Administrator approve the GDAP relationship request."})
	}
	return out
}

// probeConsent checks, for tenants whose consent is not established, whether tenantsync can get an
// app-only token there (the app may have been consented outside tenantsync).
func (d *Discoverer) probeConsent(ctx context.Context, tenants map[string]domain.Tenant, rep *Report) error {
	g, gctx := errgroup.WithContext(ctx)
	limit := d.ProbeConcurrency
	if limit == 0 {
		limit = 16
	}
	g.SetLimit(limit)
	var mu sync.Mutex // the probes run concurrently; the report is shared
	for _, t := range tenants {
		if t.Missing || t.Excluded {
			continue
		}
		if t.Consent.State == domain.ConsentConsented {
			mu.Lock() // probes already started count under the same lock
			rep.Consented++
			mu.Unlock()
			continue
		}
		g.Go(func() error {
			c := d.probe(gctx, t)
			mu.Lock()
			if c.State == domain.ConsentConsented {
				rep.Consented++
			} else {
				rep.NotConsented++
			}
			mu.Unlock()
			if c == t.Consent {
				return nil
			}
			return d.Store.SetConsent(gctx, t.TenantID, c)
		})
	}
	return g.Wait()
}

func (d *Discoverer) probe(ctx context.Context, t domain.Tenant) domain.Consent {
	c := t.Consent
	cred, err := d.Credentials.For(t.TenantID)
	if err == nil {
		_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{d.Endpoints.GraphScope()}})
	}
	if err == nil {
		return domain.Consent{State: domain.ConsentConsented, Method: firstNonEmpty(c.Method, "existing"), UpdatedAt: d.now()}
	}
	p := remedy.Classify(err)
	switch p.Code {
	case "AADSTS7000229", "AADSTS90099":
		if c.State == domain.ConsentPending {
			return c // a consent link is out: keep waiting for it
		}
		return domain.Consent{State: domain.ConsentNone, UpdatedAt: d.now(), Error: p.Code + ": " + p.Remediation}
	default:
		return domain.Consent{State: domain.ConsentFailed, Method: c.Method, UpdatedAt: d.now(), Error: p.Code + ": " + p.Message + " — " + p.Remediation}
	}
}

func (d *Discoverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Discoverer) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

func union(a, b []string) []string {
	out := append([]string{}, a...)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
