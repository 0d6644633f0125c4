package fanout

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
)

func TestPlan(t *testing.T) {
	tenants := []domain.Tenant{
		{TenantID: "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01", Consent: domain.Consent{State: domain.ConsentConsented}},
		{TenantID: "1c7a7d4f-7b2f-4d54-8b64-7e2b4a1f2b02", Consent: domain.Consent{State: domain.ConsentConsented}, Excluded: true},
		{TenantID: "3e9c9f61-9d41-4f76-8d86-904d6c314d04", Consent: domain.Consent{State: domain.ConsentPending}},
	}
	slot := time.Date(2026, 11, 22, 6, 0, 41, 0, time.UTC)
	msgs, reqs, err := Plan(tenants, slot, "scheduled", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || len(reqs) != 1 {
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
	again, _, _ := Plan(tenants, slot.Add(10*time.Second), "scheduled", 0)
	if again[0].ID != m.ID {
		t.Error("a second fire in the same slot must reuse the MessageId so the queue drops it")
	}
}

func TestPlanSpreadsOverTheWindow(t *testing.T) {
	var tenants []domain.Tenant
	for i := 0; i < 4; i++ {
		tenants = append(tenants, domain.Tenant{TenantID: "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a0" + string(rune('0'+i)), Consent: domain.Consent{State: domain.ConsentConsented}})
	}
	now := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	msgs, _, err := Plan(tenants, now, "scheduled", 40*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if want := now.Add(time.Duration(i) * 10 * time.Minute); !m.ScheduledEnqueueTime.Equal(want) {
			t.Errorf("message %d scheduled %v, want %v", i, m.ScheduledEnqueueTime, want)
		}
	}
	m, req, err := OnDemand(tenants[0], ReasonManual, now)
	if err != nil || req.Reason != "manual" || m.ID == msgs[0].ID || !m.ScheduledEnqueueTime.IsZero() {
		t.Errorf("manual %+v %+v %v", m, req, err)
	}
}
