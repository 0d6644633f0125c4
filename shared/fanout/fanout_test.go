package fanout

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
)

func TestPlan(t *testing.T) {
	tenants := []domain.Tenant{
		{TenantID: "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01", ConsentState: domain.ConsentConsented},
		{TenantID: "1c7a7d4f-7b2f-4d54-8b64-7e2b4a1f2b02", ConsentState: domain.ConsentConsented, Excluded: true},
		{TenantID: "3e9c9f61-9d41-4f76-8d86-904d6c314d04", ConsentState: domain.ConsentPending},
	}
	slot := time.Date(2026, 11, 22, 6, 0, 41, 0, time.UTC)
	msgs, err := Plan(tenants, slot, "scheduled")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want only the consented, non-excluded tenant", len(msgs))
	}
	m := msgs[0]
	if m.ID != "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01:20261122T0600Z" {
		t.Errorf("MessageId %q: want tenant + minute slot, stable within the slot", m.ID)
	}
	var req domain.SyncRequest
	if err := json.Unmarshal(m.Body, &req); err != nil || req.Validate() != nil {
		t.Fatalf("body %s: %v", m.Body, err)
	}
	if req.RunID != "20261122T0600Z-scheduled" || !req.QueuedAt.Equal(slot.Truncate(time.Minute)) {
		t.Errorf("request %+v", req)
	}
	again, _ := Plan(tenants, slot.Add(10*time.Second), "scheduled")
	if again[0].ID != m.ID {
		t.Error("a second fire in the same slot must reuse the MessageId so the queue drops it")
	}
}
