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

// Assess gives a tenant's status and its most important problem: green synced, amber partial
// or expiring (or waiting on the customer), red failed or no access, grey excluded.
func Assess(t domain.Tenant, now time.Time) (Status, *domain.Problem) {
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

func problemOf(t domain.Tenant, c domain.Consent, now time.Time) *domain.Problem {
	flag := func(code string) *domain.Problem {
		for i := range t.Flags {
			if t.Flags[i].Code == code {
				return &t.Flags[i]
			}
		}
		return nil
	}
	if t.Missing {
		return &domain.Problem{Code: "notFound", Message: "Discovery no longer finds this tenant.", Remediation: "Exclude it, or check the GDAP relationship and CSP customer list in Partner Center."}
	}
	if f := flag("relationshipEnded"); f != nil {
		return &domain.Problem{Code: f.Code, Message: f.Message, Remediation: f.Remediation}
	}
	switch c.State {
	case domain.ConsentNone:
		fix := "Send the admin-consent link to the customer's administrator."
		if t.Sync.Error != nil && t.Sync.Error.Remediation != "" {
			fix = t.Sync.Error.Remediation
		}
		return &domain.Problem{Code: "noConsent", Message: "tenantsync has no consent in this tenant.", Remediation: fix}
	case domain.ConsentFailed:
		return &domain.Problem{Code: "consentFailed", Message: nonEmpty(c.Error, "Consent failed."), Remediation: "Send a new admin-consent link, or grant consent through Partner Center."}
	case domain.ConsentExpired:
		return &domain.Problem{Code: "consentExpired", Message: c.Error, Remediation: "Send a new admin-consent link."}
	case domain.ConsentPending:
		return &domain.Problem{Code: "consentPending", Message: fmt.Sprintf("Waiting for %s to approve the admin-consent link (sent %s).", nonEmpty(c.PendingTo, "the customer's admin"), ShortTime(c.SentAt)),
			Remediation: "Nothing to do until the customer approves; send a new link if it got lost."}
	}
	if e := t.Sync.Error; e != nil && e.Code != "" {
		return &domain.Problem{Code: e.Code, Message: e.Message, Remediation: e.Remediation}
	}
	for _, code := range []string{"relationshipExpiring", "relationshipPending", "missingRoles"} {
		// missingRoles only stops Partner Center consent; a consented tenant does not need it.
		if f := flag(code); f != nil && (code != "missingRoles" || c.State != domain.ConsentConsented) {
			return &domain.Problem{Code: f.Code, Message: f.Message, Remediation: f.Remediation}
		}
	}
	for _, name := range sortedKeys(t.Collections) {
		if cs := t.Collections[name]; !cs.Available && cs.Problem != nil {
			return &domain.Problem{Code: cs.Problem.Code, Message: name + ": " + cs.Problem.Message, Remediation: cs.Problem.Remediation}
		}
	}
	if t.Sync.State == domain.SyncNever && !t.Excluded {
		return &domain.Problem{Code: "neverSynced", Message: "Not synced yet.", Remediation: "Sync now, or wait for the next scheduled fan-out."}
	}
	if !t.Sync.LastSuccessAt.IsZero() && now.Sub(t.Sync.LastSuccessAt) > StaleAfter && !t.Excluded {
		return &domain.Problem{Code: "staleSync", Message: "Last successful sync was " + ShortTime(t.Sync.LastSuccessAt) + ".", Remediation: "Check the TenantSync function's logs and the dead-letter queue; sync now."}
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
