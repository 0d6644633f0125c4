package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Status is a tenant's colour with the words that carry the same meaning (colour is never the
// only signal: the label is always shown, and the badge has a distinct shape per state).
type Status struct {
	Key   string // ok, warn, bad, off
	Label string
}

var (
	statusOK   = Status{"ok", "Synced"}
	statusWarn = Status{"warn", "Attention"}
	statusBad  = Status{"bad", "Problem"}
	statusOff  = Status{"off", "Excluded"}
	statusBusy = Status{"warn", "Syncing"}
)

// StaleAfter is when a last successful sync counts as stale.
const StaleAfter = 48 * time.Hour

// Problem is the one thing to act on for a tenant, with its fix.
type Problem struct {
	Code    string
	Message string
	Fix     string
}

// Assess gives a tenant's status and its most important problem: green synced, amber partial
// or expiring (or waiting on the customer), red failed or no access, grey excluded.
func Assess(t domain.Tenant, now time.Time) (Status, *Problem) {
	c := t.Consent.Effective(now)
	p := problemOf(t, c, now)
	switch {
	case t.Excluded:
		return statusOff, p
	case t.Missing, c.State == domain.ConsentNone, c.State == domain.ConsentFailed, c.State == domain.ConsentExpired,
		t.Sync.State == domain.SyncFailed, t.Relationship.Status == "terminated" || t.Relationship.Status == "expired":
		return statusBad, p
	case c.State == domain.ConsentPending:
		return statusWarn, p
	case t.Sync.State == domain.SyncQueued || t.Sync.State == domain.SyncRunning:
		return statusBusy, p
	case t.Sync.State == domain.SyncNever:
		return statusWarn, p
	case p != nil, t.Sync.State == domain.SyncPartial:
		return statusWarn, p
	}
	return statusOK, nil
}

func problemOf(t domain.Tenant, c domain.Consent, now time.Time) *Problem {
	flag := func(code string) *domain.Flag {
		for i := range t.Flags {
			if t.Flags[i].Code == code {
				return &t.Flags[i]
			}
		}
		return nil
	}
	if t.Missing {
		return &Problem{"notFound", "Discovery no longer finds this tenant.", "Exclude it, or check the GDAP relationship and CSP customer list in Partner Center."}
	}
	if f := flag("relationshipEnded"); f != nil {
		return &Problem{f.Code, f.Message, f.Remediation}
	}
	switch c.State {
	case domain.ConsentNone:
		fix := "Send the admin-consent link to the customer's administrator."
		if t.Sync.Error != nil && t.Sync.Error.Remediation != "" {
			fix = t.Sync.Error.Remediation
		}
		return &Problem{"noConsent", "tenantsync has no consent in this tenant.", fix}
	case domain.ConsentFailed:
		return &Problem{"consentFailed", nonEmpty(c.Error, "Consent failed."), "Send a new admin-consent link, or grant consent through Partner Center."}
	case domain.ConsentExpired:
		return &Problem{"consentExpired", c.Error, "Send a new admin-consent link."}
	case domain.ConsentPending:
		return &Problem{"consentPending", fmt.Sprintf("Waiting for %s to approve the admin-consent link (sent %s).", nonEmpty(c.PendingTo, "the customer's admin"), ShortTime(c.SentAt)),
			"Nothing to do until the customer approves; send a new link if it got lost."}
	}
	if e := t.Sync.Error; e != nil && e.Code != "" {
		return &Problem{e.Code, e.Message, e.Remediation}
	}
	for _, code := range []string{"relationshipExpiring", "relationshipPending", "missingRoles"} {
		// missingRoles only stops Partner Center consent; a consented tenant does not need it.
		if f := flag(code); f != nil && (code != "missingRoles" || c.State != domain.ConsentConsented) {
			return &Problem{f.Code, f.Message, f.Remediation}
		}
	}
	for _, name := range sortedKeys(t.Collections) {
		if cs := t.Collections[name]; !cs.Available && cs.Code != "" {
			return &Problem{cs.Code, name + ": " + cs.Reason, cs.Remediation}
		}
	}
	if t.Sync.State == domain.SyncNever && !t.Excluded {
		return &Problem{"neverSynced", "Not synced yet.", "Sync now, or wait for the next scheduled fan-out."}
	}
	if !t.Sync.LastSuccessAt.IsZero() && now.Sub(t.Sync.LastSuccessAt) > StaleAfter && !t.Excluded {
		return &Problem{"staleSync", "Last successful sync was " + ShortTime(t.Sync.LastSuccessAt) + ".", "Check the TenantSync function's logs and the dead-letter queue; sync now."}
	}
	return nil
}

func nonEmpty(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// ShortTime formats a time for tables: UTC, minutes; "" for zero.
func ShortTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// ShortDate formats a date; "" for zero.
func ShortDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}
