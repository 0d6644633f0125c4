package partner

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/remedy"
)

// Failures are *domain.Problem: a stable code, a message that is safe to show to whoever is at
// the browser (no tokens, no internals) and the fix; errors.Is reaches the cause (Kind:
// ErrNotConnected, oauthstate errors).

// ErrNotConnected is the cause of every failure that needs the partner account reconnected
// (no refresh token, or Entra refused it: AADSTS700082 / 50173 / 70043 ...).
var ErrNotConnected = errors.New("partner account not connected")

// Remediation texts. Every "reconnect" one names the endpoint.
const (
	reconnect     = "reconnect the partner account (/api/connect)"
	fixReconnect  = "Reconnect the partner account (/api/connect) with the MFA-protected service account."
	fixStartAgain = "Start again from /api/connect (links work once and expire after 10 minutes)."
)

// CodeNotConnected is the record's code when no refresh token is stored.
const CodeNotConnected = "PartnerNotConnected"

// reconnectCodes are the Entra answers to a refresh-token redemption that only a new sign-in
// fixes, with the fix shown to the MSP.
var reconnectCodes = map[string]string{
	"AADSTS700082": "The refresh token expired through inactivity (90 days unused): " + reconnect + "; the weekly keep-alive prevents this while it runs.",
	"AADSTS50173":  "The partner grant was revoked (password change or session revocation): " + reconnect + ".",
	"AADSTS70043":  "A sign-in frequency policy ended the partner session: " + reconnect + " and exempt the service account from sign-in frequency.",
	"AADSTS70008":  "The refresh token expired: " + reconnect + ".",
	"AADSTS50076":  "Conditional Access now requires a fresh MFA sign-in: " + reconnect + " completing MFA.",
	"AADSTS50079":  "The service account must register for MFA: register Microsoft Authenticator, then " + reconnect + ".",
	"AADSTS50057":  "The service account is disabled: enable it, then " + reconnect + ".",
	"AADSTS50034":  "The service account no longer exists: " + reconnect + " with an existing account.",
}

// notConnected is the failure for a missing refresh token.
func notConnected() *domain.Problem {
	return &domain.Problem{Code: CodeNotConnected, Message: "partner account not connected: no refresh token is stored.",
		Remediation: "Connect the partner account: " + reconnect + " with the MFA-protected service account.", Kind: ErrNotConnected}
}

// refreshFailure classifies a failed refresh-token redemption; needsReconnect says whether the
// stored refresh token is dead.
func refreshFailure(err error) (e *domain.Problem, needsReconnect bool) {
	var pe *domain.Problem
	if errors.As(err, &pe) {
		return pe, errors.Is(pe, ErrNotConnected)
	}
	p := remedy.Classify(err)
	if fix, ok := reconnectCodes[p.Code]; ok {
		return &domain.Problem{Code: p.Code, Message: "partner account not connected: " + withoutCode(p), Remediation: fix,
			Kind: errors.Join(ErrNotConnected, err)}, true
	}
	return &domain.Problem{Code: p.Code, Message: p.Message, Remediation: p.Remediation, Kind: err}, false
}

// withoutCode is p's message without the "AADSTSnnnn: " it starts with (the code is shown apart).
func withoutCode(p domain.Problem) string {
	return strings.TrimPrefix(p.Message, p.Code+": ")
}

// stateRejection explains why a callback's state was refused.
func stateRejection(err error) *domain.Problem {
	e := &domain.Problem{Remediation: fixStartAgain, Kind: err}
	switch {
	case errors.Is(err, oauthstate.ErrSignature):
		e.Code, e.Message = "StateForged", "The sign-in response was refused: its state was not signed by tenantsync (forged or altered)."
	case errors.Is(err, oauthstate.ErrExpired):
		e.Code, e.Message = "StateExpired", "The sign-in response was refused: the connect link has expired."
	case errors.Is(err, oauthstate.ErrReplayed):
		e.Code, e.Message = "StateReplayed", "The sign-in response was refused: it was already used (each connect link works once)."
	case errors.Is(err, oauthstate.ErrPurpose):
		e.Code, e.Message = "StateWrongPurpose", "The sign-in response was refused: its state was issued for something other than connecting the partner account."
	default:
		e.Code, e.Message = "StateMalformed", "The sign-in response was refused: it carries no state tenantsync issued."
	}
	return e
}

// clean bounds and flattens text that came through the browser (Entra's error parameters) before
// it is recorded or shown: first line, printable characters, at most n bytes.
func clean(s string, n int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}

var oauthErrorRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// signInFixes override remedy's fixes (written for customer tenants) where the partner sign-in
// means something else.
var signInFixes = map[string]string{
	"AADSTS65004": "The sign-in was cancelled: start again from /api/connect and complete it with the MFA-protected service account.",
	"AADSTS50020": "Sign in with an account of the partner tenant (the service account), not a customer's.",
	"AADSTS50034": "Sign in with an existing account of the partner tenant (the service account).",
	"AADSTS50058": "Start again from /api/connect and sign in.",
}

// entraCallbackError classifies ?error=&error_description= from the authorize redirect.
func entraCallbackError(code, desc string) *domain.Problem {
	if !oauthErrorRe.MatchString(code) {
		code = "invalid_request"
	}
	desc = clean(desc, 500)
	e := &domain.Problem{Code: code, Kind: fmt.Errorf("entra sign-in error %s", code)}
	p := remedy.Classify(errors.New(desc))
	if strings.HasPrefix(p.Code, "AADSTS") {
		e.Code, e.Message, e.Remediation = p.Code, "Entra ID refused the sign-in: "+withoutCode(p), p.Remediation
		if fix, ok := signInFixes[p.Code]; ok {
			e.Remediation = fix
		}
		return e
	}
	e.Message = "Entra ID refused the sign-in (" + code + ")"
	if desc != "" {
		e.Message += ": " + desc
	}
	switch code {
	case "access_denied":
		e.Remediation = "The sign-in was cancelled or denied: start again from /api/connect and complete it with the MFA-protected service account."
	case "consent_required", "interaction_required", "login_required":
		e.Remediation = "Start again from /api/connect and complete the sign-in (with MFA) with the service account."
	default:
		e.Remediation = fixStartAgain
	}
	return e
}
