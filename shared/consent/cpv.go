package consent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Result is one tenant's outcome of a consent attempt.
type Result struct {
	TenantID    string `json:"tenantId"`
	DisplayName string `json:"displayName,omitempty"`
	State       string `json:"state"` // consented, failed, skipped
	Method      string `json:"method,omitempty"`
	// AlreadyExisted: Partner Center said the consent already existed ("Permission entry
	// already exists"), which counts as success once verified.
	AlreadyExisted bool `json:"alreadyExisted,omitempty"`
	// RunID is the first sync queued after the consent.
	RunID string `json:"runId,omitempty"`
	// Code, Error and Remediation say why a tenant failed or was skipped, and what to do.
	Code        string `json:"code,omitempty"`
	Error       string `json:"error,omitempty"`
	Remediation string `json:"remediation,omitempty"`
}

// Result states.
const (
	ResultConsented = "consented"
	ResultFailed    = "failed"
	ResultSkipped   = "skipped"
)

// Summary counts a GrantCPV run.
type Summary struct {
	Consented int    `json:"consented"`
	Failed    int    `json:"failed"`
	Skipped   int    `json:"skipped"`
	Error     string `json:"error,omitempty"` // the run could not happen at all
}

// Summarize counts results.
func Summarize(rs []Result) Summary {
	var s Summary
	for _, r := range rs {
		switch r.State {
		case ResultConsented:
			s.Consented++
		case ResultFailed:
			s.Failed++
		default:
			s.Skipped++
		}
	}
	return s
}

func (s Summary) String() string {
	if s.Error != "" {
		return "Partner Center consent did not run: " + s.Error
	}
	return fmt.Sprintf("Partner Center consent: %d consented, %d failed, %d skipped", s.Consented, s.Failed, s.Skipped)
}

// Skip reasons.
const (
	CodeNotATenant       = "NotATenantId"
	CodeUnknownTenant    = "TenantNotFound"
	CodeExcluded         = "Excluded"
	CodeMissing          = "TenantMissing"
	CodeTenantDeleted    = "TenantDeleted"
	CodeAlreadyConsented = "AlreadyConsented"
	CodeNoActiveGDAP     = "NoActiveGDAP"
	CodeMissingRoles     = "missingRoles"
)

// eligible says whether Partner Center can consent for t, and if not, why.
func eligible(t domain.Tenant, now time.Time) (ok bool, code, why, fix string) {
	link := "send the admin-consent link (POST /api/tenants/" + t.TenantID + "/consent-link)"
	switch {
	case t.Excluded:
		return false, CodeExcluded, "The tenant is excluded from tenantsync.", "Include it again (PATCH /api/tenants/" + t.TenantID + ` {"excluded": false}) first.`
	case t.Missing:
		return false, CodeMissing, "Discovery no longer finds this tenant in GDAP or Partner Center.", "Check the GDAP and CSP relationships, or exclude the tenant."
	case t.Consent.State == domain.ConsentConsented:
		return false, CodeAlreadyConsented, "tenantsync is already consented in this tenant (method " + orDash(t.Consent.Method) + ").", "Nothing to do."
	case t.Consent.State == domain.ConsentFailed && strings.HasPrefix(t.Consent.Error, "AADSTS90002"):
		return false, CodeTenantDeleted, "Entra ID says this tenant does not exist (AADSTS90002).", "If the customer left, exclude the tenant; if the id is wrong, fix the GDAP or CSP relationship."
	}
	r := t.Relationship
	active := (r.Status == "active" || r.Status == "expiring") && (r.EndDateTime.IsZero() || r.EndDateTime.After(now))
	if !active {
		status := r.Status
		if status == "" {
			status = "absent"
		}
		return false, CodeNoActiveGDAP, "The tenant has no active GDAP relationship (" + status + "), so Partner Center cannot consent for it.",
			"Have the customer approve a GDAP relationship with Cloud Application Administrator, or " + link + "."
	}
	// The roles in force are the access assignments' (when discovery could read them), not the
	// relationship's role list (https://learn.microsoft.com/graph/api/resources/delegatedadminaccessassignment).
	roles, where := r.Roles, "The GDAP relationship lacks"
	if r.AccessChecked {
		roles, where = r.AssignedRoles, "The GDAP relationship's access assignments give"
	}
	if !slices.Contains(roles, discovery.RoleApplicationAdmin) && !slices.Contains(roles, discovery.RoleCloudApplicationAdmin) && !slices.Contains(roles, discovery.RoleGlobalAdmin) {
		if r.AccessChecked {
			where += " neither"
		}
		return false, CodeMissingRoles, where + " Application Administrator and Cloud Application Administrator, so Partner Center cannot consent for this tenant.",
			"Send the admin-consent link (POST /api/tenants/" + t.TenantID + "/consent-link), or add Cloud Application Administrator (and Privileged Role Administrator, to assign tenantsync's app roles) to the access assignment of GDAP relationship " + r.ID + " for the service account's security group."
	}
	return true, "", "", ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// GrantCPV consents tenants through Partner Center (all eligible ones when tenantIDs is empty).
// Tenants that cannot be consented this way are skipped with the reason; each eligible tenant is
// consented, verified with an app-only token and queued for its first sync, independently of
// the others (one failure does not stop the rest). The error is for the run as a whole: no
// partner token, or storage unavailable.
func (s *Service) GrantCPV(ctx context.Context, tenantIDs []string) ([]Result, error) {
	if err := s.o.Store.Ensure(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	type item struct {
		t  domain.Tenant
		ok bool
	}
	var items []item
	var results []Result
	add := func(t domain.Tenant, r Result, ok bool) {
		items = append(items, item{t, ok})
		results = append(results, r)
	}
	check := func(t domain.Tenant) {
		r := Result{TenantID: t.TenantID, DisplayName: t.DisplayName, State: ResultSkipped}
		ok, code, why, fix := eligible(t, now)
		r.Code, r.Error, r.Remediation = code, why, fix
		add(t, r, ok)
	}
	if len(tenantIDs) == 0 {
		list, err := s.o.Store.ListTenants(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range list {
			// "every eligible tenant": consented ones are not news, the rest say why not.
			if t.Consent.State != domain.ConsentConsented {
				check(t)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, raw := range tenantIDs {
			id := strings.ToLower(strings.TrimSpace(raw))
			if seen[id] {
				continue
			}
			seen[id] = true
			if !domain.IsTenantID(id) {
				add(domain.Tenant{}, Result{TenantID: raw, State: ResultSkipped, Code: CodeNotATenant, Error: fmt.Sprintf("%q is not a tenant id (a GUID).", raw)}, false)
				continue
			}
			t, err := s.o.Store.GetTenant(ctx, id)
			if store.IsNotFound(err) {
				add(domain.Tenant{}, Result{TenantID: id, State: ResultSkipped, Code: CodeUnknownTenant, Error: "tenantsync does not know this tenant.",
					Remediation: "Run discovery (POST /api/discovery) first."}, false)
				continue
			}
			if err != nil {
				return nil, err
			}
			check(t)
		}
	}
	n := 0
	for _, it := range items {
		if it.ok {
			n++
		}
	}
	if n == 0 {
		return results, nil
	}
	// One token check up front: without the partner connection nothing can be consented, and
	// that is no tenant's failure, so nothing is recorded on the tenants.
	if s.o.PartnerCenter == nil || s.o.PartnerCenter.Token == nil {
		return results, kinded(ErrPartnerCenter, domain.Problem{Code: "PartnerNotConnected",
			Message: "Partner Center consent needs the partner account's delegated sign-in, and none is configured.", Remediation: "Connect the partner account (GET /api/connect) with an MFA sign-in, then retry."})
	}
	if _, err := s.o.PartnerCenter.Token(ctx); err != nil {
		p := remedy.Classify(err)
		if p.Code == remedy.CodeInternal {
			p.Code, p.Remediation = "PartnerNotConnected", "Connect the partner account (GET /api/connect) with an MFA sign-in, then retry."
		}
		return results, kinded(ErrPartnerCenter, p)
	}
	var g errgroup.Group
	g.SetLimit(s.o.Concurrency)
	for i, it := range items {
		if !it.ok {
			continue
		}
		g.Go(func() error {
			results[i] = s.grantOne(ctx, it.t)
			return nil
		})
	}
	_ = g.Wait()
	sum := Summarize(results)
	s.log().Info("partner center consent finished", "consented", sum.Consented, "failed", sum.Failed, "skipped", sum.Skipped)
	return results, nil
}

// graphGrants is what tenantsync asks Partner Center to grant in t: delegated scopes only
// (applicationGrants[].scope holds delegated permissions: Partner Center consent never assigns
// application permissions), chosen per tenant from the roles in force (appperms.ConsentScopes).
func graphGrants(t domain.Tenant) []pcclient.ApplicationGrant {
	r := t.Relationship
	roles := r.Roles
	if r.AccessChecked {
		roles = r.AssignedRoles
	}
	canAssign := slices.Contains(roles, discovery.RolePrivilegedRoleAdmin) || slices.Contains(roles, discovery.RoleGlobalAdmin)
	return []pcclient.ApplicationGrant{{EnterpriseApplicationID: appperms.GraphAppID, Scope: strings.Join(appperms.ConsentScopes(canAssign, r.AccessChecked), ",")}}
}

// rolesAfterConsent reads the app-only token's roles, retrying while a new service principal
// replicates (token errors such as AADSTS7000229 right after the consent).
func (s *Service) rolesAfterConsent(ctx context.Context, tenantID string, attempts int) ([]string, error) {
	var roles []string
	err := s.retrying(ctx, tenantID, attempts, func() error {
		r, err := s.appRoles(ctx, tenantID)
		roles = r
		return err
	})
	return roles, err
}

func (s *Service) grantOne(ctx context.Context, t domain.Tenant) Result {
	r := Result{TenantID: t.TenantID, DisplayName: t.DisplayName, Method: MethodCPV}
	fail := func(p domain.Problem, record bool) Result {
		r.State, r.Code, r.Error, r.Remediation = ResultFailed, p.Code, p.Message, p.Remediation
		if record {
			c := domain.Consent{State: domain.ConsentFailed, Method: r.Method, UpdatedAt: s.now(), Error: consentError(p)}
			if t.Consent.State == domain.ConsentPending {
				// an emailed link is still out: keep it on record so it can still be used
				c.PendingTo, c.SentAt, c.RequestedBy, c.ExpiresAt = t.Consent.PendingTo, t.Consent.SentAt, t.Consent.RequestedBy, t.Consent.ExpiresAt
			}
			if err := s.o.Store.SetConsent(ctx, t.TenantID, c); err != nil {
				s.log().Error("recording the consent failure failed", "tenantId", t.TenantID, "error", err.Error())
			}
		}
		s.log().Warn("partner center consent failed", "tenantId", t.TenantID, "code", p.Code, "message", p.Message)
		return r
	}
	already, err := s.applicationConsent(ctx, t)
	if err != nil {
		p, tenantProblem := classifyPartnerCenter(err, t.TenantID)
		return fail(p, tenantProblem)
	}
	r.AlreadyExisted = already
	attempts := s.o.VerifyAttempts
	if already {
		attempts = 1 // the service principal is not new: waiting for it to replicate cannot help
	}
	// Partner Center's consent grants delegated scopes only: the app-only token's roles claim
	// says which application permissions the service principal really holds.
	roles, err := s.rolesAfterConsent(ctx, t.TenantID, attempts)
	if err != nil {
		p := remedy.Classify(err)
		if already {
			p.Message = "Partner Center says tenantsync is already consented, but no app-only token could be obtained for the tenant: " + p.Message
			p.Remediation = "The app exists in this tenant without usable permissions (Partner Center does not update an existing consent): send the admin-consent link (POST /api/tenants/" +
				t.TenantID + "/consent-link) so the customer's admin grants the current permissions, or delete tenantsync from the tenant's Enterprise applications and run Partner Center consent again."
		} else {
			p.Message = "Partner Center consent succeeded, but no app-only token could be obtained for the tenant: " + p.Message
		}
		return fail(p, true)
	}
	if missing := appperms.Missing(roles); len(missing) > 0 {
		if p := s.assignRoles(ctx, t, missing); p != nil {
			if p.Code == CodeRolesNotAssignable {
				// No app roles through GDAP: sync with the service account's delegated token
				// where its roles can read, verified first.
				if g, ok := s.viaGDAP(ctx, t, missing, r); ok {
					return g
				}
			}
			r.Method = MethodLink // the remaining way in: the customer's admin approves the link
			return fail(*p, true)
		}
		if roles, err = s.appRoles(ctx, t.TenantID); err != nil {
			return fail(remedy.Classify(err), true)
		}
		if missing = appperms.Missing(roles); len(missing) > 0 {
			return fail(domain.Problem{Code: CodeRolesMissing, Message: "The app roles were assigned through GDAP, but a new app-only token still lacks " + values(missing) + ".",
				Remediation: "Run consent again in a few minutes; if it persists, send the admin-consent link (POST /api/tenants/" + t.TenantID + "/consent-link)."}, true)
		}
	}
	// Every required role is in the token: prove Graph accepts it.
	if _, err := s.verify(ctx, t.TenantID, 1); err != nil {
		p := remedy.Classify(err)
		p.Message = "The app-only token holds every required role, but reading the tenant failed: " + p.Message
		return fail(p, true)
	}
	c := domain.Consent{State: domain.ConsentConsented, Method: MethodCPV, UpdatedAt: s.now()}
	if err := s.o.Store.SetConsent(ctx, t.TenantID, c); err != nil {
		return fail(remedy.Classify(err), false)
	}
	r.State = ResultConsented
	s.log().Info("tenant consented", "tenantId", t.TenantID, "method", MethodCPV, "alreadyExisted", already)
	t.Consent = c
	runID, err := s.queueFirstSync(ctx, t)
	if err != nil {
		p := remedy.Classify(err)
		r.Error = "Consented, but queueing the first sync failed: " + p.Message
		r.Remediation = "The next scheduled fan-out syncs the tenant, or queue it now (POST /api/tenants/" + t.TenantID + "/sync)."
		s.log().Warn("queueing the first sync failed", "tenantId", t.TenantID, "error", p.Message)
	}
	r.RunID = runID
	return r
}

// applicationConsent posts the consent, paced under Partner Center's rate limit, and retries
// throttling and server errors (a retried POST that had succeeded answers "already exists").
func (s *Service) applicationConsent(ctx context.Context, t domain.Tenant) (bool, error) {
	for attempt := 0; ; attempt++ {
		if err := s.pace.wait(ctx); err != nil {
			return false, err
		}
		already, err := s.o.PartnerCenter.ApplicationConsent(ctx, t.TenantID, s.o.ClientID, graphGrants(t))
		var pe *pcclient.Error
		if errors.As(err, &pe) && (pe.Status == http.StatusTooManyRequests || pe.Status >= 500) && attempt < 4 {
			wait := pe.RetryAfter
			if wait <= 0 {
				wait = time.Second << attempt
			}
			if err := sleep(ctx, min(wait, 30*time.Second)); err != nil {
				return false, err
			}
			continue
		}
		return already, err
	}
}

// classifyPartnerCenter turns a Partner Center failure into a problem and says whether it is the
// tenant's (recorded on it) or the partner connection's (not recorded: no tenant is at fault).
func classifyPartnerCenter(err error, tenantID string) (domain.Problem, bool) {
	var pe *pcclient.Error
	if !errors.As(err, &pe) {
		return remedy.Classify(err), false // token or network: nothing about this tenant
	}
	msg := firstLine(pe.Description)
	link := "send the admin-consent link (POST /api/tenants/" + tenantID + "/consent-link)"
	switch {
	case pe.Status == http.StatusUnauthorized:
		return domain.Problem{Code: "PartnerCenterUnauthorized", Message: msg,
			Remediation: "Reconnect the partner account (GET /api/connect) signing in with MFA, then retry."}, false
	case pe.Status == http.StatusForbidden:
		return domain.Problem{Code: "PartnerCenterForbidden", Message: msg,
			Remediation: "Add Application Administrator or Cloud Application Administrator to the customer's active GDAP relationship (and assign it to the partner service account's security group), or " + link + "."}, true
	case pe.Status == http.StatusNotFound:
		return domain.Problem{Code: "PartnerCenterNotFound", Message: msg,
			Remediation: "Partner Center does not know this customer or the app: check the CSP/GDAP relationship and APP_CLIENT_ID, or " + link + "."}, true
	case pe.Status == http.StatusTooManyRequests || pe.Status >= 500:
		return domain.Problem{Code: fmt.Sprintf("PartnerCenter%d", pe.Status), Message: msg, Remediation: "Partner Center is busy or failing: retry later.", Retryable: true}, false
	}
	return domain.Problem{Code: fmt.Sprintf("PartnerCenter%d", pe.Status), Message: msg, Remediation: "Check the app registration (multi-tenant, APP_CLIENT_ID), or " + link + "."}, true
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
