package insights

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv/devstore"
	"github.com/tenantsync/tenantsync/shared/store"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func daysAgo(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }

type person struct {
	enabled, licensed bool
	mfa               *bool // nil: unknown
	lastSignIn        time.Time
}

// seed stores users and their security rows (MFA, last sign-in) as the sync writes them.
func seed(t *testing.T, st *store.Store, tenant string, people map[string]person, licences ...domain.License) {
	t.Helper()
	ctx := context.Background()
	users, sec, subs := st.Collection(store.TableUsers, tenant), st.Collection(store.TableUserSecurity, tenant), st.Collection(store.TableLicenses, tenant)
	for id, p := range people {
		u := domain.User{ID: id, UserPrincipalName: id + "@contoso.com", DisplayName: "User " + id, AccountEnabled: p.enabled}
		if p.licensed {
			u.Licenses = []string{"SPE_E3"}
		}
		if err := users.Put(ctx, id, u); err != nil {
			t.Fatal(err)
		}
		if err := sec.Put(ctx, id, domain.UserSecurity{ID: id, MFARegistered: p.mfa, LastSignIn: p.lastSignIn}); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range licences {
		if err := subs.Put(ctx, l.SkuID, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []*store.CollectionWriter{users, sec, subs} {
		if _, err := w.Finish(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
}

func upns(us []UserRef) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.UPN)
	}
	return out
}

// Compute counts enabled users without MFA and enabled licensed users inactive for each
// threshold (never signed in counts as inactive), lists the first few of each, and reads the
// licences as purchased vs assigned; Refresh stores the summary List reads back.
func TestComputeRefreshList(t *testing.T) {
	st := devstore.Acquire(t)
	yes, no := true, false
	const tenant = "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01"
	people := map[string]person{
		"active":   {enabled: true, licensed: true, mfa: &yes, lastSignIn: daysAgo(10)},
		"idle45":   {enabled: true, licensed: true, mfa: &no, lastSignIn: daysAgo(45)},
		"never":    {enabled: true, licensed: true, mfa: &no},
		"disabled": {enabled: false, licensed: true, mfa: &no, lastSignIn: daysAgo(400)},
		"nolic":    {enabled: true, licensed: false, mfa: &yes, lastSignIn: daysAgo(200)},
		"idle100":  {enabled: true, licensed: true, lastSignIn: daysAgo(100)},
	}
	for i := 0; i < 5; i++ { // more users without MFA than a summary names
		people[fmt.Sprintf("nomfa%d", i)] = person{enabled: true, mfa: &no, lastSignIn: daysAgo(1)}
	}
	seed(t, st, tenant, people, domain.License{SkuID: "sku-e3", SkuPartNumber: "SPE_E3", ProductName: "Microsoft 365 E3", Enabled: 10, Consumed: 7, Suspended: 1})

	s, err := Compute(context.Background(), st, tenant, "run-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Users != 11 || !s.MFAKnown || !s.SignInKnown || s.RunID != "run-1" || !s.ComputedAt.Equal(now) {
		t.Errorf("summary %+v", s)
	}
	if s.WithoutMFACount != 7 { // idle45, never and nomfa0..4; the disabled user does not count
		t.Errorf("without MFA %d, want 7", s.WithoutMFACount)
	}
	if got, want := upns(s.WithoutMFA), []string{"idle45@contoso.com", "never@contoso.com", "nomfa0@contoso.com", "nomfa1@contoso.com", "nomfa2@contoso.com"}; !reflect.DeepEqual(got, want) {
		t.Errorf("named without MFA %v, want the first %d by UPN %v", got, maxListed, want)
	}
	if want := map[int]int{30: 3, 60: 2, 90: 2, 180: 1}; !reflect.DeepEqual(s.Inactive, want) {
		t.Errorf("inactive %v, want %v (licensed, enabled users only)", s.Inactive, want)
	}
	if got, want := upns(s.InactiveUsers), []string{"never@contoso.com", "idle100@contoso.com", "idle45@contoso.com"}; !reflect.DeepEqual(got, want) {
		t.Errorf("inactive users %v, want longest inactive first %v", got, want)
	}
	if want := []Licence{{SkuPartNumber: "SPE_E3", ProductName: "Microsoft 365 E3", Purchased: 10, Assigned: 7, Suspended: 1}}; !reflect.DeepEqual(s.Licences, want) {
		t.Errorf("licences %+v, want %+v", s.Licences, want)
	}

	if err := Refresh(context.Background(), st, tenant, "run-1", now); err != nil {
		t.Fatal(err)
	}
	all, err := List(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if got := all[tenant]; !reflect.DeepEqual(got, s) {
		t.Errorf("listed summary\n %+v\nwant\n %+v", got, s)
	}
}

// Without any sign-in date (no Entra ID P1/P2) inactivity cannot be told from "never signed in":
// nothing is reported inactive. Without MFA rows, MFA is unknown.
func TestComputeWithoutPremium(t *testing.T) {
	st := devstore.Acquire(t)
	const tenant = "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a02"
	seed(t, st, tenant, map[string]person{"a": {enabled: true, licensed: true}, "b": {enabled: true, licensed: true}})
	s, err := Compute(context.Background(), st, tenant, "run-2", now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Users != 2 || s.MFAKnown || s.SignInKnown || s.Inactive != nil || len(s.InactiveUsers) != 0 || s.WithoutMFACount != 0 {
		t.Errorf("summary without premium: %+v", s)
	}
}
