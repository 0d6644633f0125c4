package domain

import (
	"strings"
	"testing"
	"time"
)

// A pending consent link reads expired from its expiry on (not before), with who it went to and
// what to do; the stored row is not changed.
func TestConsentEffective(t *testing.T) {
	expires := time.Date(2026, 12, 10, 9, 30, 0, 0, time.UTC)
	pending := Consent{State: ConsentPending, Method: "link", PendingTo: "admin@contoso.com", ExpiresAt: expires}

	if got := pending.Effective(expires.Add(-time.Second)); got.State != ConsentPending || got.Error != "" {
		t.Errorf("before expiry: %+v", got)
	}
	got := pending.Effective(expires)
	if got.State != ConsentExpired {
		t.Fatalf("at expiry the link must read expired: %+v", got)
	}
	for _, want := range []string{"admin@contoso.com", "2026-12-10 09:30 UTC", "send a new link"} {
		if !strings.Contains(got.Error, want) {
			t.Errorf("expired message %q lacks %q", got.Error, want)
		}
	}
	if pending.State != ConsentPending || pending.Error != "" {
		t.Errorf("Effective changed its receiver: %+v", pending)
	}
	if got := (Consent{State: ConsentPending}).Effective(expires.Add(1000 * time.Hour)); got.State != ConsentPending {
		t.Errorf("a pending consent without an expiry must stay pending: %+v", got)
	}
	if got := (Consent{State: ConsentConsented, ExpiresAt: expires}).Effective(expires.Add(time.Hour)); got.State != ConsentConsented || got.Error != "" {
		t.Errorf("only a pending link expires: %+v", got)
	}
}

// A run still marked running past the function timeout reads abandoned, naming the run; within the
// timeout, finished or without a timeout it keeps its state.
func TestRunEffective(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	run := Run{RunID: "20261207T1140Z-manual", State: SyncRunning, StartedAt: now.Add(-11 * time.Minute)}
	got := run.Effective(now, 10*time.Minute)
	if got.State != SyncAbandoned || got.Error == nil || got.Error.Code != CodeRunAbandoned {
		t.Fatalf("running past the timeout: %+v", got)
	}
	if !strings.Contains(got.Error.Message, run.RunID) || !strings.Contains(got.Error.Message, "10m0s") || got.Error.Remediation == "" {
		t.Errorf("abandoned problem: %+v", got.Error)
	}
	if got := run.Effective(now, 20*time.Minute); got.State != SyncRunning || got.Error != nil {
		t.Errorf("within the timeout: %+v", got)
	}
	if got := run.Effective(now, 0); got.State != SyncRunning {
		t.Errorf("no timeout known: %+v", got)
	}
	done := run
	done.State = SyncSucceeded
	if got := done.Effective(now, 10*time.Minute); got.State != SyncSucceeded || got.Error != nil {
		t.Errorf("a finished run: %+v", got)
	}
	if got := (Run{State: SyncRunning}).Effective(now, 10*time.Minute); got.State != SyncRunning {
		t.Errorf("running without a start time: %+v", got)
	}
}
