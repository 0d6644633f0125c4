// Package oauthstate signs and verifies the OAuth "state" values tenantsync sends through Entra
// (partner connect, admin consent). A state is bound to a purpose and, for consent, to one tenant;
// it expires, and it can be used once. The PKCE verifier is derived from the state's nonce with the
// signing key, so nothing has to be stored between the redirect and the callback.
package oauthstate

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Purposes.
const (
	PurposeConnect = "connect"
	PurposeConsent = "consent"
)

// Claims are what a state carries. It is signed, not encrypted: it holds nothing secret.
type Claims struct {
	Purpose  string    `json:"p"`
	TenantID string    `json:"t,omitempty"` // consent: the only tenant the callback may return
	Nonce    string    `json:"n"`
	Expires  time.Time `json:"e"`
	// By is who asked (the MSP admin), for the record.
	By string `json:"b,omitempty"`
}

// Errors a callback turns into a clear answer.
var (
	ErrMalformed = errors.New("the state is not one tenantsync issued")
	ErrSignature = errors.New("the state's signature does not match: it was forged or altered")
	ErrExpired   = errors.New("the link has expired")
	ErrPurpose   = errors.New("the state was issued for another purpose")
	ErrReplayed  = errors.New("the link was already used")
)

// MinKeyBytes is the shortest signing key accepted.
const MinKeyBytes = 32

// maxLen bounds what Verify parses: a state is ~200 bytes; anything long is not ours.
const maxLen = 2048

// Signer signs and verifies states.
type Signer struct {
	key []byte
	now func() time.Time
}

// NewSigner returns a signer; key must be at least MinKeyBytes random bytes.
func NewSigner(key []byte, now func() time.Time) (*Signer, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("state signing key has %d bytes, need at least %d", len(key), MinKeyBytes)
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: append([]byte(nil), key...), now: now}, nil
}

func (s *Signer) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// Sign issues a state for c, filling a random nonce when empty.
func (s *Signer) Sign(c Claims) (string, error) {
	if c.Purpose == "" || c.Expires.IsZero() {
		return "", errors.New("a state needs a purpose and an expiry")
	}
	if c.Nonce == "" {
		var b [18]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		c.Nonce = base64.RawURLEncoding.EncodeToString(b[:])
	}
	c.Expires = c.Expires.UTC().Truncate(time.Second)
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac("state", payload)), nil
}

// strict decodes unpadded base64url and refuses non-canonical encodings (set unused bits in the
// last character), so every state has exactly one accepted spelling.
var strict = base64.RawURLEncoding.Strict()

// Verify checks the signature, the purpose and the expiry (in that order, so a forged state never
// reveals anything about its contents) and returns the claims. Single use is the caller's
// Consume step, done after Verify.
func (s *Signer) Verify(state, purpose string) (Claims, error) {
	var c Claims
	if len(state) == 0 || len(state) > maxLen {
		return c, ErrMalformed
	}
	payload, sig, ok := strings.Cut(state, ".")
	if !ok || strings.Contains(sig, ".") {
		return c, ErrMalformed
	}
	// A signature that is not canonical base64url was altered: refused like a wrong one.
	got, err := strict.DecodeString(sig)
	if err != nil {
		return c, ErrSignature
	}
	if subtle.ConstantTimeCompare(got, s.mac("state", payload)) != 1 {
		return c, ErrSignature
	}
	body, err := strict.DecodeString(payload)
	if err != nil {
		return c, ErrMalformed
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Nonce == "" {
		return Claims{}, ErrMalformed
	}
	if c.Purpose != purpose {
		return Claims{}, ErrPurpose
	}
	if !s.now().Before(c.Expires) {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// PKCEVerifier derives the PKCE code verifier for a state's nonce (43+ characters, RFC 7636).
func (s *Signer) PKCEVerifier(nonce string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("pkce", nonce))
}

// PKCEChallenge is the S256 challenge for a verifier.
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Consumer records used nonces; Consume returns ErrReplayed for a nonce seen before.
type Consumer interface {
	Consume(ctx context.Context, nonce string, expires time.Time) error
}
