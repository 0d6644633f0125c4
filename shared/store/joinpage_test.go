package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// PageUsersJoined answers exactly what Page followed by JoinUserSecurity answers, page after page:
// with a security row for every user, for some users only, and with security rows for users no
// longer listed between them (where the parallel read stops short and falls back).
func TestPageUsersJoinedEqualsPageThenJoin(t *testing.T) {
	ctx := context.Background()
	for name, sec := range map[string]func(i int) []string{
		"every user":         func(i int) []string { return []string{fmt.Sprintf("u-%04d", i)} },
		"every third user":   func(i int) []string { return map[bool][]string{true: {fmt.Sprintf("u-%04d", i)}}[i%3 == 0] },
		"rows of gone users": func(i int) []string { return []string{fmt.Sprintf("u-%04d", i), fmt.Sprintf("u-%04d-gone", i)} },
	} {
		t.Run(name, func(t *testing.T) {
			tenant := newTenant(t)
			users := makeUsers(23, "u")
			putAll(t, TableUsers, tenant, users, false, false)
			var rows []domain.UserSecurity
			for i := range users {
				for _, id := range sec(i) {
					reg := i%2 == 0
					rows = append(rows, domain.UserSecurity{ID: id, MFARegistered: &reg, MFAMethods: []string{"fido2"}})
				}
			}
			w := testStore.Collection(TableUserSecurity, tenant)
			for _, r := range rows {
				if err := w.Put(ctx, r.ID, r); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := w.Finish(ctx, false); err != nil {
				t.Fatal(err)
			}
			skip, pages := "", 0
			for {
				want, wantNext, err := testStore.Page(ctx, TableUsers, tenant, 5, skip)
				if err != nil {
					t.Fatal(err)
				}
				if want, err = testStore.JoinUserSecurity(ctx, tenant, want); err != nil {
					t.Fatal(err)
				}
				got, next, err := testStore.PageUsersJoined(ctx, tenant, 5, skip)
				if err != nil {
					t.Fatal(err)
				}
				if next != wantNext || len(got) != len(want) {
					t.Fatalf("page %d: %d rows, next %q; want %d rows, next %q", pages, len(got), next, len(want), wantNext)
				}
				for i := range got {
					if canonical(t, got[i]) != canonical(t, want[i]) {
						t.Errorf("page %d row %d:\n got %s\nwant %s", pages, i, got[i], want[i])
					}
				}
				var first map[string]any
				_ = json.Unmarshal(got[0], &first)
				if _, has := first["mfaRegistered"]; has != (len(sec(pages*5)) > 0) {
					t.Errorf("page %d: first user's MFA state present=%v", pages, has)
				}
				pages++
				if next == "" {
					break
				}
				skip = next
			}
			if pages != 5 {
				t.Errorf("%d pages, want 5", pages)
			}
		})
	}
}
