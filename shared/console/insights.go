package console

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/insights"
)

// Insights are the cross-tenant views, built from the tenant rows and the insights summaries the
// sync writes per tenant (shared/insights): two queries, no per-user scan, no Graph call.
type Insights struct {
	Days      int   // the inactivity threshold shown
	MFA       Table // users without MFA, by tenant
	Inactive  Table // licensed users without a sign-in for Days days, by tenant
	Licences  Table // utilisation and waste by SKU across tenants
	Expiring  Table // GDAP relationships ending within 30 days without auto-extend
	Attention Table // stale syncs and lost access
}

// ExpiringWithin is the window for expiring relationships.
const ExpiringWithin = 30 * 24 * time.Hour

// ParseDays reads the inactivity threshold (one of insights.InactiveThresholds; default 30).
func ParseDays(v string) int {
	for _, d := range insights.InactiveThresholds {
		if strconv.Itoa(d) == v {
			return d
		}
	}
	return insights.InactiveThresholds[0]
}

// Insights reads and builds the insights.
func (s *Service) Insights(ctx context.Context, days int) (Insights, error) {
	// Two independent queries (tenant rows, insights summaries): run them at once, so the page
	// waits for the slower, not the sum.
	var (
		tenants    []domain.Tenant
		sums       map[string]insights.Summary
		errT, errS error
		wg         sync.WaitGroup
	)
	wg.Add(2)
	go func() { defer wg.Done(); tenants, errT = s.Store.TenantsSnapshot(ctx) }()
	go func() { defer wg.Done(); sums, errS = insights.Snapshot(ctx, s.Store) }()
	wg.Wait()
	if errT != nil {
		return Insights{}, errT
	}
	if errS != nil {
		return Insights{}, errS
	}
	return BuildInsights(tenants, sums, days, s.now()), nil
}

// BuildInsights computes the insights tables.
func BuildInsights(tenants []domain.Tenant, sums map[string]insights.Summary, days int, now time.Time) Insights {
	in := Insights{Days: days,
		MFA: Table{Name: "users-without-mfa", Caption: "Users without MFA, by tenant", Empty: "Every synced user is registered for MFA, or MFA registration is unknown.",
			Columns: []Column{{Label: "Tenant"}, {Label: "Users", Numeric: true}, {Label: "Without MFA", Numeric: true}, {Label: "MFA registered", Numeric: true}, {Label: "Users without MFA (first 5)"}}},
		Inactive: Table{Name: "inactive-licensed-users", Caption: "Licensed users without a sign-in for " + strconv.Itoa(days) + " days, by tenant",
			Empty:   "No licensed user has been inactive that long (tenants without Entra ID P1/P2 report no sign-in dates).",
			Columns: []Column{{Label: "Tenant"}, {Label: "Inactive licensed users", Numeric: true}, {Label: "Longest inactive (first 5)"}}},
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
	type countRow struct {
		t     domain.Tenant
		n     int
		names string
	}
	var mfa, inactive []countRow
	for _, t := range tenants {
		if t.Excluded {
			continue
		}
		if sum, ok := sums[t.TenantID]; ok {
			if sum.MFAKnown && sum.WithoutMFACount > 0 {
				mfa = append(mfa, countRow{t, sum.WithoutMFACount, userList(sum.WithoutMFA, false)})
			}
			if n := sum.Inactive[days]; sum.SignInKnown && n > 0 {
				var listed []insights.UserRef
				for _, u := range sum.InactiveUsers {
					if u.LastSignIn.IsZero() || now.Sub(u.LastSignIn) >= time.Duration(days)*24*time.Hour {
						listed = append(listed, u)
					}
				}
				inactive = append(inactive, countRow{t, n, userList(listed, true)})
			}
		}
		if r := t.Relationship; r.Status == "active" && !r.AutoExtend && !r.EndDateTime.IsZero() && r.EndDateTime.Sub(now) <= ExpiringWithin {
			in.Expiring.Rows = append(in.Expiring.Rows, []Cell{byName(t), text(ShortDate(r.EndDateTime)), text("no"),
				text("Ask the customer to approve a new GDAP relationship, or enable auto-extend.")})
		}
		st, p := Assess(t, now)
		if p != nil && (st.Key == "bad" || p.Code == "staleSync") {
			in.Attention.Rows = append(in.Attention.Rows, []Cell{byName(t), {Text: st.Label, Status: st.Key}, text(ShortTime(t.Sync.LastSuccessAt)), text(p.Message), text(p.Remediation)})
		}
	}
	byCount := func(a, b countRow) int { return cmp.Compare(b.n, a.n) }
	slices.SortStableFunc(mfa, byCount)
	slices.SortStableFunc(inactive, byCount)
	for _, m := range mfa {
		in.MFA.Rows = append(in.MFA.Rows, []Cell{byName(m.t), text(strconv.Itoa(m.t.Counts.Users)), text(strconv.Itoa(m.n)), text(PercentText(m.t.MFARegisteredPercent)), text(m.names)})
	}
	for _, m := range inactive {
		in.Inactive.Rows = append(in.Inactive.Rows, []Cell{byName(m.t), text(strconv.Itoa(m.n)), text(m.names)})
	}
	type skuAgg struct {
		name                                    string
		tenants, purchased, assigned, suspended int
	}
	aggs := map[string]*skuAgg{}
	for _, t := range tenants {
		if t.Excluded {
			continue
		}
		for _, l := range sums[t.TenantID].Licences {
			a := aggs[l.SkuPartNumber]
			if a == nil {
				a = &skuAgg{name: nonEmpty(l.ProductName, l.SkuPartNumber)}
				aggs[l.SkuPartNumber] = a
			}
			a.tenants++
			a.purchased += l.Purchased
			a.assigned += l.Assigned
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
	for _, t := range []Table{in.MFA, in.Inactive, in.Licences, in.Expiring, in.Attention} {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// userList names users for a table cell: "name <upn>" (with the last sign-in date), "; "-separated.
func userList(us []insights.UserRef, withSignIn bool) string {
	parts := make([]string, 0, len(us))
	for _, u := range us {
		p := u.Name + " <" + u.UPN + ">"
		if withSignIn {
			if u.LastSignIn.IsZero() {
				p += " never signed in"
			} else {
				p += " last " + ShortDate(u.LastSignIn)
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}
