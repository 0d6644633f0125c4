package consent

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Outcome is what the consent callback page tells the customer's admin.
type Outcome struct {
	TenantID string // for the caller's logs; not shown on the page
	// TenantName is the customer's organization name, when the link was genuine.
	TenantName string
	OK         bool
	Message    string // plain words, no internals
	// Granted are the permissions the approval gave, each with why (shown on the page): exactly
	// the app's configured read permissions.
	Granted []appperms.Permission
}

// Callback handles /api/consent/callback. It checks, in order: the state's signature, purpose
// and expiry; that the tenant Entra returned is the tenant the link was issued for; that the
// tenant is known; and the state's single use (consumed only once everything else matched, so a
// rejected callback stores nothing). Then a decline is recorded as a failed consent with the
// reason, or an approval is verified with an app-only token (/organization), recorded as
// consented (method link) and the tenant's first sync queued.
//
// The Outcome's Message is always safe to show the customer's admin; the error (nil on success)
// carries the detail for logs and wraps ErrRejected, ErrDeclined, ErrNotVerified or
// ErrUnavailable.
func (s *Service) Callback(ctx context.Context, q url.Values) (Outcome, error) {
	partner := s.partnerNameCached()
	reject := func(msg string, why error) (Outcome, error) {
		return Outcome{Message: msg}, fmt.Errorf("%w: %w", ErrRejected, why)
	}
	invalid := "This approval link is not valid: it was not issued by " + partner + " or it was altered. Ask " + partner + " for a new link."
	for _, k := range []string{"state", "tenant", "error", "admin_consent"} {
		if len(q[k]) > 1 {
			return reject(invalid, fmt.Errorf("parameter %s given %d times", k, len(q[k])))
		}
	}
	raw := q.Get("state")
	if raw == "" {
		return reject("This page only works when Microsoft sends you back to it after an approval link from "+partner+". Open the link from your e-mail again.", errors.New("no state"))
	}
	claims, err := s.o.Signer.Verify(raw, oauthstate.PurposeConsent)
	switch {
	case errors.Is(err, oauthstate.ErrExpired):
		return reject("This approval link has expired. Ask "+partner+" to send you a new one.", err)
	case err != nil:
		return reject(invalid, err)
	}
	bound := strings.ToLower(claims.TenantID)
	if !domain.IsTenantID(bound) {
		return reject(invalid, errors.New("state bound to no tenant"))
	}
	partner = s.partnerName(ctx) // a genuine link: worth naming the MSP properly
	returned, errCode := strings.TrimSpace(q.Get("tenant")), strings.TrimSpace(q.Get("error"))
	if errCode == "" && returned == "" {
		return reject("Microsoft did not say which organization approved. Open the link from your e-mail again.", errors.New("no tenant and no error in the callback"))
	}
	if returned != "" && !strings.EqualFold(returned, bound) {
		return reject("This approval link was issued for another organization than the one you signed in to. Sign in with an administrator account of the organization named in the e-mail, or ask "+partner+" for a new link.",
			fmt.Errorf("returned tenant %q is not the state's tenant %s", clip(returned, 60), bound))
	}
	if errCode == "" && !strings.EqualFold(q.Get("admin_consent"), "true") {
		return reject("Microsoft did not confirm the approval. Open the link from your e-mail again.", errors.New("admin_consent is not True"))
	}
	t, err := s.o.Store.GetTenant(ctx, bound)
	if store.IsNotFound(err) {
		return reject("This approval link is for an organization "+partner+" no longer manages here. Ask "+partner+" for a new link.", fmt.Errorf("tenant %s not in the store", bound))
	}
	if err != nil {
		return s.unavailable(bound, err)
	}
	name := nameOr(t.DisplayName, "your organization")
	if err := s.o.Consumer.Consume(ctx, claims.Nonce, claims.Expires); errors.Is(err, oauthstate.ErrReplayed) {
		return Outcome{TenantID: bound, TenantName: name, Message: "This approval link was already used. If you approved " + s.o.AppName + " for " + name + ", nothing else is needed; otherwise ask " + partner + " for a new link."},
			fmt.Errorf("%w: %w", ErrRejected, err)
	} else if err != nil {
		return s.unavailable(bound, err)
	}

	if errCode != "" {
		return s.declined(ctx, t, name, partner, errCode, q.Get("error_description"), claims.By)
	}
	if t.Consent.State == domain.ConsentConsented {
		return Outcome{TenantID: bound, TenantName: name, OK: true,
			Message: name + " has already approved " + s.o.AppName + ". Nothing else is needed; you can close this page."}, nil
	}
	if _, err := s.verify(ctx, bound, s.o.VerifyAttempts); err != nil {
		p := remedy.Classify(err)
		p.Message = "The customer's admin approved, but an app-only token could not read the tenant: " + p.Message
		c := domain.Consent{State: domain.ConsentFailed, Method: MethodLink, UpdatedAt: s.now(), Error: consentError(p)}
		if serr := s.o.Store.SetConsent(ctx, bound, c); serr != nil {
			return s.unavailable(bound, serr)
		}
		s.log().Warn("consent link approved but not verified", "tenantId", bound, "code", p.Code, "message", p.Message)
		return Outcome{TenantID: bound, TenantName: name,
				Message: "Thank you: your approval was received, but " + s.o.AppName + " cannot read " + name + " yet. " + partner + " has been told and will follow up; you do not need to do anything now."},
			kinded(ErrNotVerified, p)
	}
	c := domain.Consent{State: domain.ConsentConsented, Method: MethodLink, UpdatedAt: s.now()}
	if err := s.o.Store.SetConsent(ctx, bound, c); err != nil {
		return s.unavailable(bound, err)
	}
	s.log().Info("tenant consented", "tenantId", bound, "method", MethodLink, "requestedBy", claims.By)
	t.Consent = c
	if runID, err := s.queueFirstSync(ctx, t); err != nil {
		s.log().Warn("queueing the first sync failed; the next fan-out syncs the tenant", "tenantId", bound, "error", remedy.Classify(err).Message)
	} else {
		s.log().Info("first sync queued", "tenantId", bound, "runId", runID)
	}
	return Outcome{TenantID: bound, TenantName: name, OK: true,
		Message: "Thank you: " + name + " has approved " + s.o.AppName + ". " + partner + " can now keep your Microsoft 365 inventory up to date. You can close this page.",
		Granted: appperms.Customer()}, nil
}

func (s *Service) unavailable(tenantID string, err error) (Outcome, error) {
	s.log().Error("consent callback failed", "tenantId", tenantID, "error", err.Error())
	return Outcome{TenantID: tenantID, Message: "Something went wrong on our side while recording your answer. Please open the link from your e-mail again in a few minutes."},
		fmt.Errorf("%w: %w", ErrUnavailable, err)
}

var oauthErrCode = regexp.MustCompile(`^[a-z_]{1,64}$`)

// declined records a decline (or another Entra error) as a failed consent with the reason, unless
// the tenant is already consented (a late decline of an older link must not undo a consent).
func (s *Service) declined(ctx context.Context, t domain.Tenant, name, partner, errCode, desc, by string) (Outcome, error) {
	p := declineProblem(errCode, desc)
	if t.Consent.State != domain.ConsentConsented {
		c := domain.Consent{State: domain.ConsentFailed, Method: MethodLink, UpdatedAt: s.now(), Error: consentError(p)}
		if err := s.o.Store.SetConsent(ctx, t.TenantID, c); err != nil {
			return s.unavailable(t.TenantID, err)
		}
	}
	s.log().Warn("consent link declined", "tenantId", t.TenantID, "code", p.Code, "requestedBy", by)
	msg := "You did not approve " + s.o.AppName + " for " + name + ", so nothing was granted. If this was a mistake, ask " + partner + " for a new link."
	if p.Code != "AADSTS65004" && errCode != "access_denied" {
		msg = "Microsoft did not complete the approval for " + name + ", so nothing was granted. Ask " + partner + " for a new link and sign in with a Global Administrator account of " + name + "."
	}
	return Outcome{TenantID: t.TenantID, TenantName: name, Message: msg}, kinded(ErrDeclined, p)
}

// declineProblem turns the callback's error and error_description (untrusted text) into a
// problem: the AADSTS code and Microsoft's first sentence when there is one, without the trace
// and correlation ids, limited in length and stripped of control characters.
func declineProblem(errCode, desc string) domain.Problem {
	desc = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, desc)
	if strings.Contains(desc, "AADSTS") {
		p := remedy.Classify(errors.New(desc))
		p.Message = clip(p.Message, 300)
		if p.Code == "AADSTS65004" || errCode == "access_denied" {
			p.Remediation = "The customer's admin declined consent: send the admin-consent link again and explain why the permissions are needed."
		}
		return p
	}
	code := strings.ToLower(errCode)
	if !oauthErrCode.MatchString(code) {
		code = "consent_error"
	}
	msg := clip(firstLine(desc), 300)
	if msg == "" {
		msg = "Entra returned " + code + " without a description."
	}
	fix := "Send the admin-consent link again; the customer's admin must sign in as a Global Administrator and accept."
	if code == "access_denied" {
		fix = "The customer's admin declined consent: send the admin-consent link again and explain why the permissions are needed."
	}
	return domain.Problem{Code: code, Message: msg, Remediation: fix}
}

// partnerNameCached is the partner's name if already read (no network call on the anonymous
// callback before the state is verified).
func (s *Service) partnerNameCached() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pname != "" {
		return s.pname
	}
	return "your IT provider"
}
