// Package token issues and validates the simulator's RS256 JWTs, shaped like Entra ID v2 tokens
// (tid, oid, aud, roles / scp, amr, appid, azp), and publishes the signing key as a JWKS.
package token

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Entra writes a single audience as a string, and MSAL Go reads id_token "aud" into a string
// field (accesstokens.IDToken.Audience): golang-jwt's default one-element array makes MSAL fail.
// The setting is process-wide; this package is the only code in the module that signs JWTs.
func init() { jwt.MarshalSingleStringAsArray = false }

// Claims are the claims the simulator puts in its tokens.
type Claims struct {
	TenantID string   `json:"tid"`
	ObjectID string   `json:"oid,omitempty"`
	AppID    string   `json:"appid,omitempty"` // v1 name, still what Graph tokens carry
	AZP      string   `json:"azp,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Scope    string   `json:"scp,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	UPN      string   `json:"upn,omitempty"`
	Username string   `json:"preferred_username,omitempty"`
	Name     string   `json:"name,omitempty"`
	IDType   string   `json:"idtyp,omitempty"` // "app" for app-only tokens
	Nonce    string   `json:"nonce,omitempty"`
	Version  string   `json:"ver,omitempty"`
	// Groups, or instead the groups overage claim (_claim_names/_claim_sources) when a user
	// has more groups than a JWT may carry.
	Groups []string `json:"groups,omitempty"`
	// Wids are the directory role template ids the user holds in the token's tenant ("wids" in
	// the access token claims reference, https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
	Wids         []string          `json:"wids,omitempty"`
	ClaimNames   map[string]string `json:"_claim_names,omitempty"`
	ClaimSources map[string]any    `json:"_claim_sources,omitempty"`
	jwt.RegisteredClaims
}

// Scopes splits scp.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasRole reports whether the token carries an application role.
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// HasScope reports whether the token carries a delegated scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes(), scope) }

// HasWid reports whether the token's user holds directory role id in the token's tenant.
func (c *Claims) HasWid(id string) bool {
	return slices.ContainsFunc(c.Wids, func(w string) bool { return strings.EqualFold(w, id) })
}

// IsApp reports whether this is an app-only token.
func (c *Claims) IsApp() bool { return c.IDType == "app" }

// HasMFA reports whether the sign-in behind the token included MFA.
func (c *Claims) HasMFA() bool { return slices.Contains(c.AMR, "mfa") }

// Issuer signs tokens for every tenant of the simulated cloud.
type Issuer struct {
	authority string // https://127.0.0.1:port (the simulated login.microsoftonline.com)
	key       *rsa.PrivateKey
	kid       string
	now       func() time.Time
}

// New generates a signing key. authority is the simulated login host's base URL.
func New(authority string, now func() time.Time) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	sum := sha256.Sum256(key.N.Bytes())
	return &Issuer{authority: strings.TrimRight(authority, "/"), key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:12]), now: now}, nil
}

// Authority is the login host's base URL.
func (i *Issuer) Authority() string { return i.authority }

// IssuerURL is the v2 issuer for a tenant, as in its OpenID configuration.
func (i *Issuer) IssuerURL(tenantID string) string { return i.authority + "/" + tenantID + "/v2.0" }

// Now is the issuer's clock.
func (i *Issuer) Now() time.Time { return i.now() }

// Sign fills iss, iat, nbf, exp (lifetime), jti and signs c.
func (i *Issuer) Sign(c Claims, lifetime time.Duration) (string, error) {
	now := i.now()
	if c.Issuer == "" {
		c.Issuer = i.IssuerURL(c.TenantID)
	}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now.Add(-5 * time.Minute))
	c.ExpiresAt = jwt.NewNumericDate(now.Add(lifetime))
	if c.ID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		c.ID = base64.RawURLEncoding.EncodeToString(b[:])
	}
	if c.Version == "" {
		c.Version = "2.0"
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = i.kid
	return t.SignedString(i.key)
}

// JWKS is the key set document served at /{tenant}/discovery/v2.0/keys.
func (i *Issuer) JWKS() []byte {
	pub := i.key.PublicKey
	b, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "kid": i.kid, "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	return b
}

// Errors from Verify, so resource servers can answer with the right Graph error.
var (
	ErrMalformed = errors.New("token is malformed or not signed by this cloud")
	ErrExpired   = errors.New("token is expired")
)

// Verify checks signature, algorithm and lifetime and returns the claims. Audience, tenant and
// permissions are the resource server's to check.
func (i *Issuer) Verify(raw string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != i.kid {
			return nil, fmt.Errorf("unknown signing key %q", kid)
		}
		return &i.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(i.now), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &c, nil
}

// AudienceMatches reports whether the token is for resource (its URI or app id).
func (c *Claims) AudienceMatches(resourceURI, resourceAppID string) bool {
	for _, a := range c.Audience {
		a = strings.TrimRight(a, "/")
		if strings.EqualFold(a, strings.TrimRight(resourceURI, "/")) || strings.EqualFold(a, resourceAppID) {
			return true
		}
	}
	return false
}

// Unverified decodes a JWT's claims without checking the signature: for client assertions,
// whose signature is checked separately against the app's credential.
func Unverified(raw string, into jwt.Claims) (*jwt.Token, error) {
	t, _, err := jwt.NewParser().ParseUnverified(raw, into)
	return t, err
}

// Bearer returns the token from an "Authorization: Bearer ..." header, or "".
func Bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
