package consent

import (
	"context"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/remedy"
)

// MethodGDAP: Partner Center consent created the service principal with delegated read scopes,
// app roles could not be assigned (no Privileged Role Administrator), and the service account's
// GDAP roles can read (Global Reader): the tenant is synced with the service account's delegated
// token, collection by collection as far as those roles allow.
const MethodGDAP = domain.ConsentMethodGDAP

// viaGDAP tries the gdap path for t after its app roles could not be assigned (roles, the problem
// that says why). It needs a delegated token for the tenant whose wids hold Global Reader (or
// Global Administrator), and proves it by reading the tenant's /organization with that token;
// only then is the tenant consented by gdap and its first sync queued. ok false: the caller
// records roles as the tenant's problem (the link).
func (s *Service) viaGDAP(ctx context.Context, t domain.Tenant, missing []appperms.Permission, r Result) (Result, bool) {
	if s.o.PartnerGraphToken == nil {
		return r, false
	}
	tok, err := s.o.PartnerGraphToken(ctx, t.TenantID)
	if err != nil {
		s.log().Info("gdap path not possible: no delegated token", "tenantId", t.TenantID, "code", remedy.Classify(err).Code)
		return r, false
	}
	claims, err := approles.ReadDelegated(tok)
	if err != nil || !claims.HasRole(discovery.RoleGlobalReader, discovery.RoleGlobalAdmin) {
		s.log().Info("gdap path not possible: the service account holds no Global Reader in the tenant", "tenantId", t.TenantID)
		return r, false
	}
	if _, err := s.readOrganization(ctx, t.TenantID, approles.Delegated(t.TenantID, s.o.PartnerGraphToken)); err != nil {
		s.log().Warn("gdap path not verified: the delegated token could not read the tenant", "tenantId", t.TenantID, "code", remedy.Classify(err).Code)
		return r, false
	}
	c := domain.Consent{State: domain.ConsentConsented, Method: MethodGDAP, UpdatedAt: s.now()}
	if err := s.o.Store.SetConsent(ctx, t.TenantID, c); err != nil {
		p := remedy.Classify(err)
		r.State, r.Method, r.Code, r.Error, r.Remediation = ResultFailed, MethodGDAP, p.Code, p.Message, p.Remediation
		return r, true
	}
	r.State, r.Method = ResultConsented, MethodGDAP
	r.Code = CodeDelegatedSync
	r.Error = "tenantsync's application permissions (" + values(missing) + ") could not be assigned through GDAP, so this tenant is synced with the partner service account's delegated token (its GDAP roles); collections those roles cannot read are shown unavailable with the role that would enable them."
	rel := "the tenant's GDAP relationship"
	if t.Relationship.ID != "" {
		rel = "GDAP relationship " + t.Relationship.ID
	}
	// Partner Center does not update an existing consent, so adding the role later does not let a
	// new Partner Center consent assign the app roles: the link is the way to app-only access.
	r.Remediation = "For app-only access, send the admin-consent link (POST /api/tenants/" + t.TenantID + "/consent-link): the customer's Global Administrator grants the application permissions. " +
		"Privileged Role Administrator in the access assignment of " + rel + " would have let Partner Center consent assign them, but only for a tenant where tenantsync is not yet present."
	s.log().Info("tenant consented", "tenantId", t.TenantID, "method", MethodGDAP)
	t.Consent = c
	runID, err := s.queueFirstSync(ctx, t)
	if err != nil {
		s.log().Warn("queueing the first sync failed; the next fan-out syncs the tenant", "tenantId", t.TenantID, "error", remedy.Classify(err).Message)
	}
	r.RunID = runID
	return r, true
}

// CodeDelegatedSync marks a result consented by the gdap path: delegated sync, with the fix for
// app-only access.
const CodeDelegatedSync = "DelegatedSyncOnly"
