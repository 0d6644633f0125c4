package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestSyncStateRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant := newTenant(t)

	st, err := testStore.GetSyncState(ctx, tenant, "users")
	if err != nil || st != (SyncState{Collection: "users"}) {
		t.Fatalf("never synced: %+v, %v", st, err)
	}

	// Delta links are usually 1-2K characters; make one longer than a string property holds.
	long := "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=" + strings.Repeat("Ab0-_", 8000)
	want := SyncState{
		Collection: "users", DeltaLink: long,
		DeltaAt:      time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		LastFullSync: time.Date(2025, 5, 31, 23, 59, 59, 500_000_000, time.UTC),
		Available:    true, Count: 1234,
	}
	if err := testStore.PutSyncState(ctx, tenant, want); err != nil {
		t.Fatal(err)
	}
	raw, _ := rawEntity(t, TableSyncState, tenant, "users")
	if _, ok := raw["DeltaLink_1"]; !ok {
		t.Fatalf("long delta link not split: %v", keys(raw))
	}
	got, err := testStore.GetSyncState(ctx, tenant, "users")
	if err != nil {
		t.Fatal(err)
	}
	if !got.DeltaAt.Equal(want.DeltaAt) || !got.LastFullSync.Equal(want.LastFullSync) {
		t.Fatalf("times %v %v", got.DeltaAt, got.LastFullSync)
	}
	got.DeltaAt, got.LastFullSync, want.DeltaAt, want.LastFullSync = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Fatalf("got %+v", got)
	}

	// Replace, not merge: an unavailable collection loses its old delta link.
	gone := SyncState{Collection: "devices", Available: false, Reason: "The tenant has no Intune licence", Remediation: "Assign an Intune licence"}
	if err := testStore.PutSyncState(ctx, tenant, gone); err != nil {
		t.Fatal(err)
	}
	if got, err := testStore.GetSyncState(ctx, tenant, "devices"); err != nil || got != gone {
		t.Fatalf("got %+v, %v", got, err)
	}
	if err := testStore.PutSyncState(ctx, "nope", gone); err == nil {
		t.Fatal("bad tenant accepted")
	}
}
