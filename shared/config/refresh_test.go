package config

import (
	"testing"
	"time"
)

// A collection is due when never read, or when its interval (less a tenth, for spread fan-outs)
// has passed; zero means every run.
func TestDue(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		last     time.Time
		interval time.Duration
		want     bool
	}{
		{time.Time{}, 24 * time.Hour, true},
		{now, 0, true},
		{now.Add(-time.Hour), 24 * time.Hour, false},
		{now.Add(-22 * time.Hour), 24 * time.Hour, true}, // within the forgiven tenth
		{now.Add(-21 * time.Hour), 24 * time.Hour, false},
		{now.Add(-6 * time.Hour).Add(10 * time.Minute), 6 * time.Hour, true},
	} {
		if got := Due(c.last, now, c.interval); got != c.want {
			t.Errorf("Due(%s ago, %s) = %v, want %v", now.Sub(c.last), c.interval, got, c.want)
		}
	}
}

// Unset refresh settings take the defaults; the mailbox report is read at most daily.
func TestRefreshDefaults(t *testing.T) {
	r := &reader{env: func(string) (string, bool) { return "", false }}
	if got := r.refresh(SettingRefreshMailboxes, DefaultRefresh.Mailboxes); got != 24*time.Hour {
		t.Errorf("REFRESH_MAILBOXES default %s, want 24h", got)
	}
	r = &reader{env: func(string) (string, bool) { return "PT0S", true }}
	if got := r.refresh(SettingRefreshDevices, DefaultRefresh.Devices); got != 0 || len(r.errs) != 0 {
		t.Errorf("PT0S: %s %v, want 0 (every run)", got, r.errs)
	}
}
