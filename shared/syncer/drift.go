package syncer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/remedy"
)

// RoleAssigner assigns missing app roles in a tenant through GDAP (approles.Assigner).
type RoleAssigner interface {
	Assign(ctx context.Context, tenantID string, missing []appperms.Permission) error
}

// CodeReconsentNeeded: the app-only token lacks required permissions that could not be assigned.
const CodeReconsentNeeded = "ReconsentNeeded"

// checkDrift compares the app-only token's roles claim with the required permissions
// (appperms.Customer, declared once). Missing ones are assigned through GDAP where the partner's
// roles allow (e.Roles), then checked with a new token; what is still missing is the returned
// problem, so the run syncs what it can and ends partial. Token failures are left to the sync
// itself, which reports them.
func (e *Engine) checkDrift(ctx context.Context, tenantID string, log *slog.Logger) *domain.Problem {
	cred, err := e.Credentials.For(tenantID)
	if err != nil {
		return nil
	}
	roles, err := approles.TokenRoles(ctx, cred, e.Endpoints, tenantID, false, e.now())
	if err != nil {
		log.Debug("consent drift not checked: no app-only token", "code", remedy.Classify(err).Code, "error", err.Error())
		return nil
	}
	missing := appperms.Missing(roles)
	if len(missing) == 0 {
		return nil
	}
	if e.Roles != nil {
		if err := e.Roles.Assign(ctx, tenantID, missing); err != nil {
			log.Warn("missing app roles could not be assigned through GDAP", "missing", names(missing), "code", remedy.Classify(err).Code)
		} else if roles, err = approles.TokenRoles(ctx, cred, e.Endpoints, tenantID, true, e.now()); err == nil {
			if missing = appperms.Missing(roles); len(missing) == 0 {
				log.Info("consent drift repaired through GDAP")
				return nil
			}
		}
	}
	return &domain.Problem{Code: CodeReconsentNeeded, Message: "re-consent needed: missing " + names(missing),
		Remediation: "Add Privileged Role Administrator to the access assignment of the tenant's GDAP relationship and run consent again (POST /api/consent/cpv), or send the admin-consent link (POST /api/tenants/" + tenantID + "/consent-link)."}
}

func names(ps []appperms.Permission) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Value
	}
	return strings.Join(out, ", ")
}

// withDrift turns the collections Graph refused (403) into unavailable ones naming the missing
// permissions, and adds a "permissions" outcome carrying the problem: the run is partial, not failed.
func withDrift(outcomes []Outcome, p *domain.Problem) []Outcome {
	for i, o := range outcomes {
		if refused(o.Err) {
			outcomes[i].Err, outcomes[i].Unavailable = nil, p
		}
	}
	return append(outcomes, Outcome{Collection: "permissions", Unavailable: p})
}

// refused: Graph answered 403, through the SDK (an ODataError) or to a plain request (the mailbox
// report's azcore.ResponseError), so a missing Reports.Read.All is drift like any other role.
func refused(err error) bool {
	if _, _, status, ok := odata(err); ok {
		return status == http.StatusForbidden
	}
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}
