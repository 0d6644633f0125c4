package domain

import (
	"strings"
	"testing"
	"time"
)

// A run still marked running after the function timeout reads abandoned, naming the run, when it
// started and the timeout; at exactly the timeout, without a start or a known timeout, and in any
// finished state it reads as stored. The stored row is not changed (a value receiver).
func TestRunEffective(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	timeout := 10 * time.Minute
	run := Run{TenantID: "t", RunID: "20261207T1148Z-scheduled", State: SyncRunning, StartedAt: now.Add(-timeout - time.Second)}
	got := run.Effective(now, timeout)
	if got.State != SyncAbandoned || got.Error == nil || got.Error.Code != CodeRunAbandoned || got.Error.Remediation == "" {
		t.Fatalf("running past the timeout: %+v %+v, want abandoned RunAbandoned with a fix", got, got.Error)
	}
	for _, part := range []string{run.RunID, "2026-12-07 11:49 UTC", "10m0s"} {
		if !strings.Contains(got.Error.Message, part) {
			t.Errorf("message %q should name %q", got.Error.Message, part)
		}
	}
	if run.State != SyncRunning || run.Error != nil {
		t.Errorf("the run itself changed: %+v", run)
	}
	same := map[string]Run{
		"at the timeout":  {State: SyncRunning, StartedAt: now.Add(-timeout)},
		"no start time":   {State: SyncRunning},
		"finished":        {State: SyncSucceeded, StartedAt: now.Add(-time.Hour)},
		"failed":          {State: SyncFailed, StartedAt: now.Add(-time.Hour), Error: &Problem{Code: "X"}},
		"skipped":         {State: SyncSkipped, StartedAt: now.Add(-time.Hour)},
		"timeout unknown": {State: SyncRunning, StartedAt: now.Add(-time.Hour)},
	}
	for name, r := range same {
		to := timeout
		if name == "timeout unknown" {
			to = 0
		}
		if got := r.Effective(now, to); got.State != r.State || got.Error != r.Error {
			t.Errorf("%s: %+v, want the run as stored", name, got)
		}
	}
}

// A pending consent link reads expired from its expiry on, saying to whom it went and when it
// expired; before that, or without an expiry, or in another state, it reads as stored.
func TestConsentEffective(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	c := Consent{State: ConsentPending, Method: "link", PendingTo: "admin@contoso.com", ExpiresAt: now}
	got := c.Effective(now)
	if got.State != ConsentExpired || !strings.Contains(got.Error, "admin@contoso.com") || !strings.Contains(got.Error, "2026-12-07 12:00 UTC") {
		t.Errorf("at expiry: %+v, want expired naming the recipient and the expiry", got)
	}
	for name, c := range map[string]Consent{
		"before expiry": {State: ConsentPending, ExpiresAt: now.Add(time.Second)},
		"no expiry":     {State: ConsentPending},
		"consented":     {State: ConsentConsented, ExpiresAt: now.Add(-time.Hour)},
	} {
		if got := c.Effective(now); got != c {
			t.Errorf("%s: %+v, want the consent as stored", name, got)
		}
	}
}
