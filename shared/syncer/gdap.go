package syncer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/store"
)

// CodeGDAPRoleMissing: a collection the service account's GDAP roles (or the tenant's delegated
// consent) do not allow, on a tenant synced with delegated tokens (consent method gdap).
const CodeGDAPRoleMissing = "GDAPRoleMissing"

// via is how a tenant is read: cred nil for the app's own app-only credential, else the partner
// service account's delegated credential for the tenant (gdap path).
type via struct {
	cred   azcore.TokenCredential
	tenant domain.Tenant
}

// access picks the credential from the tenant's consent method. A tenant that cannot be read (not
// found, storage error) syncs app-only, which reports its own problem.
func (e *Engine) access(ctx context.Context, tenantID string, log *slog.Logger) via {
	t, err := e.Store.GetTenant(ctx, tenantID)
	if err != nil {
		if !store.IsNotFound(err) {
			log.Warn("tenant not read: syncing app-only", "error", err.Error())
		}
		return via{}
	}
	if t.Consent.Method != domain.ConsentMethodGDAP {
		return via{tenant: t}
	}
	if e.Delegated == nil {
		log.Warn("tenant consented for delegated (gdap) sync, but no delegated partner token is configured: syncing app-only")
		return via{tenant: t}
	}
	log.Info("syncing with the partner service account's delegated token (gdap)")
	return via{cred: approles.Delegated(tenantID, e.Delegated), tenant: t}
}

// gdapNeeds says, per collection, which GDAP role enables it with a delegated token, from the
// roles each Graph endpoint admits for delegated callers (see the simulator's roles.go for the
// sources and what could not be verified).
var gdapNeeds = map[string]string{
	CollUsers:    "Global Reader or Directory Readers",
	CollGroups:   "Global Reader or Directory Readers",
	CollLicenses: "Global Reader or Directory Readers",
	CollDevices:  "Global Reader or Intune Administrator (and an Intune licence in the tenant)",
	// Per-user usage detail: "The Global Reader and Usage Summary Reports Reader roles will only
	// have access to tenant-level data, without visibility into detailed metrics"
	// (https://learn.microsoft.com/graph/reportroot-authorization).
	CollMailboxes: "Reports Reader (Global Reader sees tenant-level usage only, not per-mailbox detail: https://learn.microsoft.com/graph/reportroot-authorization)",
	// Another user's authentication methods: Global Reader, Authentication Administrator or
	// Privileged Authentication Administrator; sign-in activity and the registration report: a
	// reporting role.
	CollUserSecurity: "Global Reader (or Reports Reader plus Authentication Administrator)",
}

// withGDAPLimits turns the collections Graph refused (403) on a delegated sync into unavailable
// ones that say which role in the relationship's access assignment would enable them, or which
// consent would: the run is partial, not failed, and the rest is synced.
func withGDAPLimits(outcomes []Outcome, t domain.Tenant) []Outcome {
	rel := "the tenant's GDAP relationship"
	if t.Relationship.ID != "" {
		rel = "GDAP relationship " + t.Relationship.ID
	}
	for i, o := range outcomes {
		msg, ok := forbidden(o.Err)
		if !ok {
			continue
		}
		need := gdapNeeds[o.Collection]
		if need == "" {
			need = "Global Reader"
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		outcomes[i].Err = nil
		outcomes[i].Unavailable = &domain.Problem{Code: CodeGDAPRoleMissing,
			Message:     "This tenant is synced with the partner service account's delegated token (GDAP), and Microsoft Graph refused " + o.Collection + ": " + msg,
			Remediation: "Add " + need + " to the access assignment of " + rel + " for the service account's security group; or give tenantsync app-only access with the admin-consent link (POST /api/tenants/" + t.TenantID + "/consent-link)."}
	}
	return outcomes
}

// forbidden recognises Graph's 403, from the SDK (ODataError) or from the report download
// (azcore.ResponseError), and returns its code and message.
func forbidden(err error) (string, bool) {
	if code, msg, status, ok := odata(err); ok {
		return strings.TrimSpace(code + " " + msg), status == http.StatusForbidden
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusForbidden {
		return re.ErrorCode, true
	}
	return "", false
}
