package console

import (
	"cmp"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Insights are the cross-tenant views. They are built from the per-tenant summaries the sync
// writes on each tenant row (counts, MFA registration) plus the licence subscriptions (a few
// rows per tenant, read in one cross-partition query): no per-user scan, no Graph call.
type Insights struct {
	MFA       Table // tenants by users without MFA
	Licences  Table // utilisation and waste by SKU across tenants
	Expiring  Table // GDAP relationships ending within 30 days without auto-extend
	Attention Table // stale syncs and lost access
}

// ExpiringWithin is the window for expiring relationships.
const ExpiringWithin = 30 * 24 * time.Hour

// Insights reads and builds the insights.
func (s *Service) Insights(ctx context.Context) (Insights, error) {
	tenants, err := s.Store.ListTenants(ctx)
	if err != nil {
		return Insights{}, err
	}
	subs := map[string][]domain.License{}
	err = s.Store.AllRows(ctx, store.TableLicenses, func(tenantID string, item json.RawMessage) error {
		var l domain.License
		if err := json.Unmarshal(item, &l); err != nil {
			return err
		}
		subs[tenantID] = append(subs[tenantID], l)
		return nil
	})
	if err != nil {
		return Insights{}, err
	}
	return BuildInsights(tenants, subs, s.now()), nil
}

// BuildInsights computes the insights tables.
func BuildInsights(tenants []domain.Tenant, subs map[string][]domain.License, now time.Time) Insights {
	in := Insights{
		MFA: Table{Name: "users-without-mfa", Caption: "Users without MFA, by tenant", Empty: "Every synced user is registered for MFA, or MFA registration is unknown.",
			Columns: []Column{{Label: "Tenant"}, {Label: "Users", Numeric: true}, {Label: "Without MFA", Numeric: true}, {Label: "MFA registered", Numeric: true}}},
		Licences: Table{Name: "licence-utilisation", Caption: "Licence utilisation by SKU", Empty: "No licence subscriptions synced yet.",
			Columns: []Column{{Label: "SKU"}, {Label: "Tenants", Numeric: true}, {Label: "Purchased", Numeric: true}, {Label: "Assigned", Numeric: true}, {Label: "Unassigned (waste)", Numeric: true}, {Label: "Suspended", Numeric: true}, {Label: "Utilisation", Numeric: true}}},
		Expiring: Table{Name: "expiring-relationships", Caption: "GDAP relationships ending within 30 days without auto-extend", Empty: "No relationship ends within 30 days.",
			Columns: cols("Tenant", "Ends", "Auto-extend", "Fix")},
		Attention: Table{Name: "stale-or-lost", Caption: "Stale syncs and lost access", Empty: "Every consented tenant synced within the last 48 hours.",
			Columns: cols("Tenant", "Status", "Last successful sync", "Problem", "Fix")},
	}
	byName := func(t domain.Tenant) Cell {
		n := t.DisplayName
		if n == "" {
			n = t.TenantID
		}
		return Cell{Text: n, Href: "/tenants/" + t.TenantID}
	}
	type mfaRow struct {
		t       domain.Tenant
		without int
	}
	var mfa []mfaRow
	for _, t := range tenants {
		if t.Excluded {
			continue
		}
		if p := t.MFARegisteredPercent; p != nil && t.Counts.Users > 0 {
			if w := t.Counts.Users - int(math.Round(*p*float64(t.Counts.Users)/100)); w > 0 {
				mfa = append(mfa, mfaRow{t, w})
			}
		}
		if r := t.Relationship; r.Status == "active" && !r.AutoExtend && !r.EndDateTime.IsZero() && r.EndDateTime.Sub(now) <= ExpiringWithin {
			in.Expiring.Rows = append(in.Expiring.Rows, []Cell{byName(t), text(ShortDate(r.EndDateTime)), text("no"),
				text("Ask the customer to approve a new GDAP relationship, or enable auto-extend.")})
		}
		st, p := Assess(t, now)
		if p != nil && (st.Key == "bad" || p.Code == "staleSync") {
			in.Attention.Rows = append(in.Attention.Rows, []Cell{byName(t), {Text: st.Label, Status: st.Key}, text(ShortTime(t.Sync.LastSuccessAt)), text(p.Message), text(p.Fix)})
		}
	}
	slices.SortStableFunc(mfa, func(a, b mfaRow) int { return cmp.Compare(b.without, a.without) })
	for _, m := range mfa {
		in.MFA.Rows = append(in.MFA.Rows, []Cell{byName(m.t), text(strconv.Itoa(m.t.Counts.Users)), text(strconv.Itoa(m.without)), text(PercentText(m.t.MFARegisteredPercent))})
	}
	type skuAgg struct {
		name                                    string
		tenants, purchased, assigned, suspended int
	}
	aggs := map[string]*skuAgg{}
	for _, ls := range subs {
		for _, l := range ls {
			a := aggs[l.SkuPartNumber]
			if a == nil {
				a = &skuAgg{name: nonEmpty(l.ProductName, l.SkuPartNumber)}
				aggs[l.SkuPartNumber] = a
			}
			a.tenants++
			a.purchased += l.Enabled
			a.assigned += l.Consumed
			a.suspended += l.Suspended
		}
	}
	for _, k := range sortedKeys(aggs) {
		a := aggs[k]
		util := ""
		if a.purchased > 0 {
			util = strconv.Itoa(a.assigned*100/a.purchased) + "%"
		}
		in.Licences.Rows = append(in.Licences.Rows, []Cell{text(a.name + " (" + k + ")"), text(strconv.Itoa(a.tenants)), text(strconv.Itoa(a.purchased)),
			text(strconv.Itoa(a.assigned)), text(strconv.Itoa(max(a.purchased-a.assigned, 0))), text(strconv.Itoa(a.suspended)), text(util)})
	}
	return in
}

// ByName returns one of the insights tables (for its CSV).
func (in Insights) ByName(name string) (Table, bool) {
	for _, t := range []Table{in.MFA, in.Licences, in.Expiring, in.Attention} {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}
