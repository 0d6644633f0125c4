package store

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestPagePagesThroughRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant := newTenant(t)
	putAll(t, TableUsers, tenant, makeUsers(5, "p"), true, true)

	var sizes []int
	seen := map[string]bool{}
	token := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("paging does not end")
		}
		items, next, err := testStore.Page(ctx, TableUsers, tenant, 2, token)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(items))
		for _, it := range items {
			seen[canonical(t, it)] = true
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(sizes) != 3 || sizes[0] != 2 || sizes[1] != 2 || sizes[2] != 1 {
		t.Fatalf("page sizes %v, want [2 2 1]", sizes)
	}
	if len(seen) != 5 {
		t.Fatalf("%d distinct rows over the pages, want 5", len(seen))
	}
	if n, err := testStore.Count(ctx, TableUsers, tenant); err != nil || n != 5 {
		t.Fatalf("count %d, %v", n, err)
	}
}

func TestPageClampsTop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant := newTenant(t)
	putAll(t, TableUsers, tenant, makeUsers(3, "c"), true, true)
	items, next, err := testStore.Page(ctx, TableUsers, tenant, 0, "")
	if err != nil || len(items) != 1 || next == "" {
		t.Fatalf("top 0: %d items, next %q, %v", len(items), next, err)
	}
	items, next, err = testStore.Page(ctx, TableUsers, tenant, 5000, "")
	if err != nil || len(items) != 3 || next != "" {
		t.Fatalf("top 5000: %d items, next %q, %v", len(items), next, err)
	}
	// An empty collection is an empty page, not an error (the table exists).
	items, next, err = testStore.Page(ctx, TableDevices, tenant, 10, "")
	if err != nil || len(items) != 0 || next != "" || items == nil {
		t.Fatalf("empty: %v %q %v", items, next, err)
	}
}

func TestSkipTokenIsValidated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant, other := newTenant(t), newTenant(t)
	putAll(t, TableUsers, tenant, makeUsers(3, "s"), true, true)
	_, token, err := testStore.Page(ctx, TableUsers, tenant, 1, "")
	if err != nil || token == "" {
		t.Fatalf("%q %v", token, err)
	}
	payload, sum, _ := strings.Cut(token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	edited := strings.Replace(string(raw), `"v":1`, `"v":1 `, 1) // same meaning, different bytes
	flip := []byte(token)
	flip[len(payload)/2] ^= 1

	bad := map[string]struct{ table, tenant, token string }{
		"garbage":          {TableUsers, tenant, "not a token"},
		"base64 garbage":   {TableUsers, tenant, "AAAA.BBBB"},
		"truncated":        {TableUsers, tenant, token[:len(token)-3]},
		"flipped bit":      {TableUsers, tenant, string(flip)},
		"edited payload":   {TableUsers, tenant, base64.RawURLEncoding.EncodeToString([]byte(edited)) + "." + sum},
		"no checksum":      {TableUsers, tenant, payload},
		"other tenant":     {TableUsers, other, token},
		"other table":      {TableGroups, tenant, token},
		"huge":             {TableUsers, tenant, strings.Repeat("A", 10000)},
		"raw continuation": {TableUsers, tenant, base64.RawURLEncoding.EncodeToString([]byte(`{"npk":"x","nrk":"y"}`))},
	}
	for name, c := range bad {
		if _, _, err := testStore.Page(ctx, c.table, c.tenant, 1, c.token); !errors.Is(err, ErrInvalidSkipToken) {
			t.Errorf("%s: err %v, want ErrInvalidSkipToken", name, err)
		}
	}
	if items, _, err := testStore.Page(ctx, TableUsers, tenant, 5, token); err != nil || len(items) != 2 {
		t.Fatalf("the genuine token: %d items, %v", len(items), err)
	}
}

func TestGetMissingRowIsNotFound(t *testing.T) {
	t.Parallel()
	_, err := testStore.Get(context.Background(), TableUsers, newTenant(t), "nobody")
	if !IsNotFound(err) {
		t.Fatalf("err %v", err)
	}
}
