package partner

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
)

// single returns the only value of name; ok is false when it is repeated (an ambiguous answer
// is refused rather than guessed at).
func single(q url.Values, name string) (string, bool) {
	v := q[name]
	switch len(v) {
	case 0:
		return "", true
	case 1:
		return v[0], true
	}
	return "", false
}

// Callback completes the connection from /api/connect/callback's query.
//
// Order: the state is verified (signature, purpose, expiry) and its nonce consumed before
// anything else happens, so a forged, expired or replayed answer changes nothing. An Entra error
// (?error=&error_description=) is then recorded on the partner record; a code is redeemed (PKCE
// verifier from the state's nonce) and the tokens checked: partner tenant, MFA, refresh token.
// Only then is the refresh token written to Key Vault and the record updated. Rejections are
// *domain.Problem values with a message safe to show; anything else is an internal failure.
func (s *Service) Callback(ctx context.Context, q url.Values) (store.PartnerConnection, error) {
	if err := s.configured(); err != nil {
		return store.PartnerConnection{}, err
	}
	state, ok1 := single(q, "state")
	code, ok2 := single(q, "code")
	entraErr, ok3 := single(q, "error")
	desc, ok4 := single(q, "error_description")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return store.PartnerConnection{}, &domain.Problem{Code: "MalformedCallback", Remediation: fixStartAgain,
			Message: "The sign-in response was refused: it repeats a parameter (state, code or error)."}
	}
	claims, err := s.o.Signer.Verify(state, oauthstate.PurposeConnect)
	if err != nil {
		s.o.Log.Warn("partner connect callback refused", "reason", stateRejection(err).Code)
		return store.PartnerConnection{}, stateRejection(err)
	}
	if entraErr == "" && code == "" {
		return store.PartnerConnection{}, &domain.Problem{Code: "MissingCode", Remediation: fixStartAgain,
			Message: "The sign-in response carries neither an authorization code nor an error."}
	}
	if err := s.ensure(ctx); err != nil {
		return store.PartnerConnection{}, err
	}
	if err := s.o.Consumer.Consume(ctx, claims.Nonce, claims.Expires); err != nil {
		if errors.Is(err, oauthstate.ErrReplayed) {
			s.o.Log.Warn("partner connect callback refused", "reason", "StateReplayed", "requestedBy", claims.By)
			return store.PartnerConnection{}, stateRejection(err)
		}
		return store.PartnerConnection{}, fmt.Errorf("recording the used state: %w", err)
	}

	if entraErr != "" {
		e := entraCallbackError(entraErr, desc)
		rec, err := s.o.Store.GetPartner(ctx)
		if err != nil {
			return store.PartnerConnection{}, fmt.Errorf("reading the partner record: %w", err)
		}
		rec.ErrorCode, rec.ErrorMessage, rec.Remediation = e.Code, "Connecting the partner account failed: "+e.Message, e.Remediation
		if err := s.o.Store.PutPartner(ctx, rec); err != nil {
			return store.PartnerConnection{}, fmt.Errorf("recording the sign-in error: %w", err)
		}
		s.o.Log.Warn("partner sign-in failed at Entra", "code", e.Code, "message", e.Message, "requestedBy", claims.By)
		return rec, e
	}

	form := url.Values{}
	form.Set("grant_type", "authorization_code")
	form.Set("code", code)
	form.Set("redirect_uri", s.RedirectURI())
	form.Set("code_verifier", s.o.Signer.PKCEVerifier(claims.Nonce))
	form.Set("scope", s.connectScope())
	tr, err := s.redeem(ctx, form)
	if err != nil {
		e := redemptionRejection(err)
		s.o.Log.Warn("partner sign-in: code redemption refused", "code", e.Code, "message", e.Message, "requestedBy", claims.By)
		return store.PartnerConnection{}, e
	}
	who, rej := s.checkSignIn(tr, s.now())
	if rej != nil {
		s.o.Log.Warn("partner sign-in rejected", "code", rej.Code, "requestedBy", claims.By)
		return store.PartnerConnection{}, rej
	}
	// Under redeemMu: a refresh of the previous session finishing now must not store its rotated
	// refresh token over this one.
	s.redeemMu.Lock()
	defer s.redeemMu.Unlock()
	if err := s.o.Vault.Set(ctx, identity.PartnerRefreshTokenSecret, tr.RefreshToken); err != nil {
		return store.PartnerConnection{}, fmt.Errorf("storing the refresh token in Key Vault: %w", err)
	}
	now := s.now()
	rec := store.PartnerConnection{Connected: true, ConnectedBy: who.User, ConnectedAt: now, LastRefreshAt: now}
	if err := s.o.Store.PutPartner(ctx, rec); err != nil {
		return store.PartnerConnection{}, fmt.Errorf("recording the partner connection: %w", err)
	}
	s.forget() // tokens of an earlier session are not this connection's
	s.o.Log.Info("partner account connected", "account", who.User, "requestedBy", claims.By)
	return rec, nil
}

// redemptionRejection explains a code Entra would not redeem.
func redemptionRejection(err error) *domain.Problem {
	var ee *EntraError
	if !errors.As(err, &ee) {
		return &domain.Problem{Code: "TokenEndpointUnavailable", Kind: err, Remediation: fixStartAgain,
			Message: "The sign-in could not be completed: Entra ID's token endpoint could not be reached. Nothing was stored."}
	}
	p := remedy.Classify(ee)
	e := &domain.Problem{Code: p.Code, Message: "Entra ID refused to redeem the sign-in: " + withoutCode(p) + " Nothing was stored.", Remediation: p.Remediation, Kind: err}
	if fix, ok := signInFixes[p.Code]; ok {
		e.Remediation = fix
	}
	switch e.Code {
	case "AADSTS700005":
		e.Code = "WrongTenant"
		e.Message = "The sign-in was for another tenant, not the partner tenant (Entra ID: AADSTS700005, the code is intended for another tenant). Nothing was stored."
		e.Remediation = "Sign in with the partner tenant's MFA-protected service account (not a customer tenant's account)."
	case "AADSTS54005", "AADSTS70008", "AADSTS70000", "AADSTS501481", "AADSTS500112":
		e.Remediation = fixStartAgain
	}
	return e
}
