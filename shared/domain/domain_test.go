package domain

import (
	"testing"
	"time"
)

func TestSyncRequestValidate(t *testing.T) {
	if (SyncRequest{TenantID: "nope", RunID: "r"}).Validate() == nil {
		t.Error("a tenant id that is not a GUID accepted")
	}
	// Case and run id are the worker's admission rules (fanout.Admit), recorded as a skipped run.
	if err := (SyncRequest{TenantID: "0B6F6C3E-6A1E-4C43-9A53-6D1A3F0E1A01", RunID: "a/b"}).Validate(); err != nil {
		t.Errorf("an attributable request refused as poison: %v", err)
	}
}

func TestRunIDAndCanonicalTenantID(t *testing.T) {
	for _, ok := range []string{"20261122T0600Z-scheduled", "20261122T060000Z-manual-0a1b2c3d", "previous-good-run", "a.b_c:d"} {
		if !IsRunID(ok) {
			t.Errorf("run id %q refused", ok)
		}
	}
	for _, bad := range []string{"", "a/b", `a\b`, "a#b", "a?b", "run\x00id", "run\nid", "run\u200bid", "-leading", "é", string(make([]byte, 129))} {
		if IsRunID(bad) {
			t.Errorf("run id %q accepted", bad)
		}
	}
	if !IsCanonicalTenantID("0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01") || IsCanonicalTenantID("0B6F6C3E-6a1e-4c43-9a53-6d1a3f0e1a01") || IsCanonicalTenantID("nope") {
		t.Error("canonical tenant id rule")
	}
}

// A tenant never looks busy forever: queued longer than QueuedStaleAfter, or running longer than
// the function timeout, reads abandoned with a fix; within those bounds the state stays.
func TestSyncStatusEffective(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	queued := SyncStatus{State: SyncQueued, LastRunID: "r1", QueuedAt: now.Add(-QueuedStaleAfter + time.Minute)}
	if got := queued.Effective(now, 10*time.Minute); got.State != SyncQueued || got.Error != nil {
		t.Errorf("recently queued: %+v", got)
	}
	queued.QueuedAt = now.Add(-QueuedStaleAfter - time.Minute)
	if got := queued.Effective(now, 10*time.Minute); got.State != SyncAbandoned || got.Error == nil || got.Error.Code != CodeSyncNeverStarted || got.Error.Remediation == "" {
		t.Errorf("queued past the bound: %+v", got)
	}
	if got := (SyncStatus{State: SyncQueued}).Effective(now, 10*time.Minute); got.State != SyncQueued {
		t.Errorf("queued without a time (rows from before this field) must stay queued: %+v", got)
	}
	running := SyncStatus{State: SyncRunning, LastRunID: "r2", StartedAt: now.Add(-11 * time.Minute)}
	if got := running.Effective(now, 10*time.Minute); got.State != SyncAbandoned || got.Error.Code != CodeRunAbandoned {
		t.Errorf("running past the timeout: %+v", got)
	}
	if got := running.Effective(now, 0); got.State != SyncRunning {
		t.Errorf("no timeout known: %+v", got)
	}
}
