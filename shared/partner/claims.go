package partner

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// jwtClaims are the claims the connect flow checks. The tokens come straight from the token
// endpoint over verified TLS, which OpenID Connect Core (3.1.3.7) accepts in place of checking
// their signature; their claims are still checked (tenant, audience, issuer, MFA, expiry).
type jwtClaims struct {
	TenantID          string          `json:"tid"`
	AMR               []string        `json:"amr"`
	UPN               string          `json:"upn"`
	PreferredUsername string          `json:"preferred_username"`
	UniqueName        string          `json:"unique_name"`
	Issuer            string          `json:"iss"`
	Audience          json.RawMessage `json:"aud"`
	Expires           int64           `json:"exp"`
}

// decodeJWT reads a JWT's payload without checking its signature (see jwtClaims).
func decodeJWT(tok string) (jwtClaims, error) {
	var c jwtClaims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, errors.New("JWT payload is not base64url")
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, errors.New("JWT payload is not JSON claims")
	}
	return c, nil
}

func (c jwtClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Audience, &many)
	return many
}

func (c jwtClaims) user() string {
	for _, v := range []string{c.PreferredUsername, c.UPN, c.UniqueName} {
		if v != "" {
			return v
		}
	}
	return ""
}

// signedIn is who signed in, once the tokens passed every check.
type signedIn struct {
	User     string
	TenantID string
}

// checkSignIn applies the connect rules to a fresh authorization-code redemption: the tokens
// belong to the partner tenant, the sign-in included MFA, a refresh token came back, and the
// id_token (when present) was issued by the partner tenant's authority to this app. Every
// rejection is an *domain.Problem whose message is safe to show.
func (s *Service) checkSignIn(tr *tokenResponse, now time.Time) (signedIn, *domain.Problem) {
	reject := func(code, msg, fix string) (signedIn, *domain.Problem) {
		return signedIn{}, &domain.Problem{Code: code, Message: msg + " Nothing was stored.", Remediation: fix}
	}
	at, err := decodeJWT(tr.AccessToken)
	if err != nil {
		return reject("UnexpectedToken", "Entra ID returned an access token tenantsync cannot read ("+err.Error()+").", fixStartAgain)
	}
	var id jwtClaims
	if tr.IDToken != "" {
		if id, err = decodeJWT(tr.IDToken); err != nil {
			return reject("UnexpectedToken", "Entra ID returned an id_token tenantsync cannot read ("+err.Error()+").", fixStartAgain)
		}
	}
	partner := strings.ToLower(s.o.PartnerTenantID)
	wrongTenant := func() (signedIn, *domain.Problem) {
		return reject("WrongTenant", "The account signed in to another tenant, not the partner tenant.",
			"Sign in with the partner tenant's MFA-protected service account (not a customer tenant's account).")
	}
	if at.TenantID == "" || !strings.EqualFold(at.TenantID, partner) {
		return wrongTenant()
	}
	if tr.IDToken != "" {
		if !strings.EqualFold(id.TenantID, partner) {
			return wrongTenant()
		}
		if !slices.Contains(id.audiences(), s.o.ClientID) {
			return reject("UnexpectedToken", "The id_token was issued to another application.", fixStartAgain)
		}
		// The issuer names the tenant (https://{authority host}/{tid}/v2.0); the host is not
		// compared, since clouds have aliases for their login host.
		if !strings.Contains(strings.ToLower(id.Issuer), "/"+partner+"/") {
			return wrongTenant()
		}
	}
	if at.Expires != 0 && !now.Before(time.Unix(at.Expires, 0)) {
		return reject("UnexpectedToken", "Entra ID returned an access token that has already expired (check the clock).", fixStartAgain)
	}
	if !slices.Contains(at.AMR, "mfa") && !slices.Contains(id.AMR, "mfa") {
		return reject("MFARequired", "The sign-in did not include multi-factor authentication (the token's amr has no \"mfa\"); Partner Center requires MFA for App+User calls.",
			"Sign in with the MFA-protected service account and complete MFA (Microsoft Authenticator); if MFA was not asked for, require it for that account with Conditional Access or security defaults.")
	}
	if tr.RefreshToken == "" {
		return reject("NoRefreshToken", "Entra ID returned no refresh token, so the connection could not be kept.",
			"Check that the app registration allows the offline_access permission, then start again from /api/connect.")
	}
	user := id.user()
	if user == "" {
		user = at.user()
	}
	if user == "" {
		user = "(unnamed account)"
	}
	return signedIn{User: clean(user, 256), TenantID: partner}, nil
}
