package handlers

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/console"
	"github.com/tenantsync/tenantsync/shared/domain"
)

// Flash messages after an action, chosen by a fixed code in the redirect (nothing reflected).
var consoleFlashes = map[string]struct{ kind, text string }{
	"sync-queued":        {"ok", "Sync queued."},
	"excluded":           {"ok", "Excluded from scheduled syncs."},
	"included":           {"ok", "Included in scheduled syncs again."},
	"link-sent":          {"ok", "Consent link sent. The tenant shows pending until the customer's admin approves."},
	"cpv-consented":      {"ok", "Consent granted through Partner Center and verified; the first sync is queued."},
	"cpv-failed":         {"bad", "Partner Center consent failed: see the problem and its fix below."},
	"cpv-skipped":        {"bad", "Partner Center consent is not possible for this tenant (its GDAP relationship lacks Application Administrator or Cloud Application Administrator, or it is excluded): send the consent link instead."},
	"partner-needed":     {"bad", "Partner Center consent needs the partner account connected: connect it on the Partner connection page."},
	"not-consented":      {"bad", "Not synced: tenantsync has no consent in this tenant, so a sync would be refused. Grant consent first: Partner Center consent or the consent link below."},
	"sync-excluded":      {"bad", "Not synced: this tenant is excluded from syncs. Include it first (Include below), then sync now."},
	"already-consented":  {"bad", "This tenant is already consented."},
	"invalid-email":      {"bad", "That is not a valid e-mail address."},
	"mail-unconfigured":  {"bad", "Consent mails are not configured: set CONSENT_MAIL_FROM to a mailbox in the partner tenant."},
	"mail-failed":        {"bad", "The consent mail could not be sent; see the function logs."},
	"action-failed":      {"bad", "The action failed; an administrator can find the cause in the function logs."},
	"partner-connect-ok": {"ok", "Partner account connected."},
}

func flashOf(r *http.Request, c *console.Chrome) {
	if f, ok := consoleFlashes[r.URL.Query().Get("done")]; ok {
		c.Flash, c.FlashKind = f.text, f.kind
	}
}

// consoleTenant serves GET /tenants/{tenantId} (function ConsoleTenant): facts, one tab's
// table, actions; ?format=csv downloads the tab's table.
func (d Deps) consoleTenant(w http.ResponseWriter, r *http.Request, c console.Chrome, _ console.Viewer) {
	id := strings.ToLower(r.PathValue("tenantId"))
	if !domain.IsTenantID(id) {
		d.consoleDenied(w, http.StatusNotFound, "Not found", "That is not a tenant id.", false)
		return
	}
	q := console.ParseTenantQuery(r.URL.Query().Get)
	csv := r.URL.Query().Get("format") == "csv"
	p, err := (&console.Service{Store: d.Store, Now: d.Now}).Tenant(r.Context(), id, q, csv)
	if err != nil {
		d.consoleFail(w, r, err)
		return
	}
	if csv {
		if q.Tab == "access" {
			d.consoleDenied(w, http.StatusNotFound, "Not found", "The access check has no table to download.", false)
			return
		}
		d.consoleCSV(w, r, p.Table, nonEmptyName(p.T), q.Tab)
		return
	}
	flashOf(r, &c)
	d.consolePage(w, r, func(b *bytes.Buffer) error { return console.RenderTenant(b, c, p) })
}

func nonEmptyName(t domain.Tenant) string {
	if t.DisplayName != "" {
		return t.DisplayName
	}
	return t.TenantID
}
