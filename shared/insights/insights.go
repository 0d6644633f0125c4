// Package insights precomputes each tenant's summary for the console's cross-tenant pages: who
// has no MFA, which licensed users have not signed in for a while. The sync writes it after each
// run from what it just stored, so no page reads every tenant's users or calls Graph.
package insights

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/store"
)

// InactiveThresholds are the "no sign-in for N days" choices the insights page offers.
var InactiveThresholds = []int{30, 60, 90, 180}

// maxListed caps the users named per tenant and list (the counts are exact; the tenant page lists them all): it keeps the summaries, which the insights page reads for every tenant at once, small.
const maxListed = 5

// UserRef names a user in a summary.
type UserRef struct {
	UPN        string    `json:"upn"`
	Name       string    `json:"name"`
	LastSignIn time.Time `json:"lastSignIn,omitzero"`
}

// Summary is one tenant's precomputed insights.
type Summary struct {
	ComputedAt time.Time `json:"computedAt"`
	RunID      string    `json:"runId"`
	Users      int       `json:"users"`
	// MFAKnown: MFA registration was readable; WithoutMFA counts enabled users not registered.
	MFAKnown        bool      `json:"mfaKnown"`
	WithoutMFACount int       `json:"withoutMfaCount"`
	WithoutMFA      []UserRef `json:"withoutMfa,omitempty"`
	// SignInKnown: last sign-in dates were readable (Entra ID P1/P2). Inactive counts enabled
	// licensed users without a sign-in for at least N days (never signed in counts too).
	SignInKnown bool        `json:"signInKnown"`
	Inactive    map[int]int `json:"inactive,omitempty"`
	// InactiveUsers lists the longest-inactive licensed users (at least the smallest threshold).
	InactiveUsers []UserRef `json:"inactiveUsers,omitempty"`
	// Licences are the tenant's subscriptions: purchased (enabled) vs assigned (consumed).
	Licences []Licence `json:"licences,omitempty"`
}

// Licence is one subscription's use.
type Licence struct {
	SkuPartNumber string `json:"sku"`
	ProductName   string `json:"name,omitempty"`
	Purchased     int    `json:"purchased"`
	Assigned      int    `json:"assigned"`
	Suspended     int    `json:"suspended,omitempty"`
}

// Compute reads the tenant's stored users (joined with their MFA and sign-in rows) and
// summarises them.
func Compute(ctx context.Context, st *store.Store, tenantID, runID string, now time.Time) (Summary, error) {
	s := Summary{ComputedAt: now.UTC(), RunID: runID, Inactive: map[int]int{}}
	var noMFA, inactive []UserRef
	skip := ""
	for {
		items, next, err := st.Page(ctx, store.TableUsers, tenantID, store.MaxPageSize, skip)
		if err != nil {
			return s, err
		}
		if items, err = st.JoinUserSecurity(ctx, tenantID, items); err != nil {
			return s, err
		}
		for _, raw := range items {
			var u domain.User
			if err := json.Unmarshal(raw, &u); err != nil {
				return s, err
			}
			s.Users++
			if !u.AccountEnabled {
				continue
			}
			ref := UserRef{UPN: u.UserPrincipalName, Name: u.DisplayName, LastSignIn: u.LastSignIn}
			if u.MFARegistered != nil {
				s.MFAKnown = true
				if !*u.MFARegistered {
					s.WithoutMFACount++
					noMFA = append(noMFA, ref)
				}
			}
			if !u.LastSignIn.IsZero() {
				s.SignInKnown = true
			}
			if len(u.Licenses) == 0 {
				continue
			}
			days := int(now.Sub(u.LastSignIn).Hours() / 24)
			if u.LastSignIn.IsZero() {
				days = 1 << 30
			}
			for _, th := range InactiveThresholds {
				if days >= th {
					s.Inactive[th]++
				}
			}
			if days >= InactiveThresholds[0] {
				inactive = append(inactive, ref)
			}
		}
		if next == "" {
			break
		}
		skip = next
	}
	subs, _, err := st.Page(ctx, store.TableLicenses, tenantID, store.MaxPageSize, "")
	if err != nil {
		return s, err
	}
	for _, raw := range subs {
		var l domain.License
		if err := json.Unmarshal(raw, &l); err != nil {
			return s, err
		}
		s.Licences = append(s.Licences, Licence{SkuPartNumber: l.SkuPartNumber, ProductName: l.ProductName, Purchased: l.Enabled, Assigned: l.Consumed, Suspended: l.Suspended})
	}
	if !s.SignInKnown { // no premium: inactivity cannot be told from "never signed in"
		s.Inactive, inactive = nil, nil
	}
	slices.SortFunc(noMFA, func(a, b UserRef) int { return cmp.Compare(a.UPN, b.UPN) })
	slices.SortFunc(inactive, func(a, b UserRef) int { return a.LastSignIn.Compare(b.LastSignIn) })
	s.WithoutMFA = noMFA[:min(len(noMFA), maxListed)]
	s.InactiveUsers = inactive[:min(len(inactive), maxListed)]
	return s, nil
}

// Refresh computes and stores a tenant's summary.
func Refresh(ctx context.Context, st *store.Store, tenantID, runID string, now time.Time) error {
	s, err := Compute(ctx, st, tenantID, runID, now)
	if err != nil {
		return err
	}
	return st.PutSummary(ctx, tenantID, s)
}

// List reads every tenant's summary.
func List(ctx context.Context, st *store.Store) (map[string]Summary, error) {
	out := map[string]Summary{}
	err := st.ListSummaries(ctx, func(tenantID string, data []byte) error {
		var s Summary
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		out[tenantID] = s
		return nil
	})
	return out, err
}

// Snapshot is List for pages: the summaries as last decoded while the Summaries table is
// unchanged (store.SummariesSnapshot: one point query instead of reading every summary).
func Snapshot(ctx context.Context, st *store.Store) (map[string]Summary, error) {
	m, err := st.SummariesSnapshot(ctx, func(data []byte) (any, error) {
		var s Summary
		err := json.Unmarshal(data, &s)
		return s, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]Summary, len(m))
	for id, v := range m {
		out[id] = v.(Summary)
	}
	return out, nil
}
