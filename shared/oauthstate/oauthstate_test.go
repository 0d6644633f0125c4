package oauthstate

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func signer(t testing.TB, now *time.Time) *Signer {
	s, err := NewSigner([]byte("0123456789abcdef0123456789abcdef"), func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := signer(t, &now)
	st, err := s.Sign(Claims{Purpose: PurposeConsent, TenantID: "t1", Expires: now.Add(time.Hour), By: "admin@msp"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(st, PurposeConsent)
	if err != nil || c.TenantID != "t1" || c.Nonce == "" || c.By != "admin@msp" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := s.Verify(st, PurposeConnect); !errors.Is(err, ErrPurpose) {
		t.Errorf("wrong purpose: %v", err)
	}
	// Tampering with the payload (a different tenant) breaks the signature.
	payload, sig, _ := strings.Cut(st, ".")
	other, _ := s.Sign(Claims{Purpose: PurposeConsent, TenantID: "t2", Nonce: c.Nonce, Expires: c.Expires})
	otherPayload, _, _ := strings.Cut(other, ".")
	if _, err := s.Verify(otherPayload+"."+sig, PurposeConsent); !errors.Is(err, ErrSignature) {
		t.Errorf("tampered: %v", err)
	}
	// A state signed with another key is a forgery.
	forger, _ := NewSigner([]byte("ffffffffffffffffffffffffffffffff"), nil)
	forged, _ := forger.Sign(Claims{Purpose: PurposeConsent, TenantID: "t1", Expires: now.Add(time.Hour)})
	if _, err := s.Verify(forged, PurposeConsent); !errors.Is(err, ErrSignature) {
		t.Errorf("forged: %v", err)
	}
	for _, bad := range []string{"", "x", "a.b.c", payload, "!!!.???", strings.Repeat("a", 5000)} {
		if _, err := s.Verify(bad, PurposeConsent); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) {
			t.Errorf("Verify(%.20q) = %v", bad, err)
		}
	}
	now = now.Add(time.Hour)
	if _, err := s.Verify(st, PurposeConsent); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	if v := s.PKCEVerifier(c.Nonce); len(v) < 43 || v != s.PKCEVerifier(c.Nonce) || PKCEChallenge(v) == v {
		t.Errorf("verifier %q", v)
	}
	if _, err := NewSigner([]byte("short"), nil); err == nil {
		t.Error("short key accepted")
	}
}

// FuzzVerify: no input makes Verify panic or accept something it did not sign.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := signer(f, &now)
	// A fixed nonce: fuzz workers are separate processes and must agree on the one valid state.
	good, _ := s.Sign(Claims{Purpose: PurposeConnect, Nonce: "fixed-nonce", Expires: now.Add(time.Hour)})
	f.Add(good)
	f.Add("")
	f.Add("eyJwIjoiY29ubmVjdCJ9.AAAA")
	f.Add(good + "x")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := s.Verify(in, PurposeConnect)
		if err == nil && in != good {
			// Only a byte-identical copy of a signed state may verify.
			t.Fatalf("accepted an unsigned state %q → %+v", in, c)
		}
	})
}

// Every single-character change of a signed state is refused: strict base64url leaves no second
// spelling of the signature or payload (the last character's unused bits must be zero).
func TestEveryChangedCharacterRefused(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := signer(t, &now)
	for i := 0; i < 20; i++ {
		st, err := s.Sign(Claims{Purpose: PurposeConnect, Expires: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
		for pos := 0; pos < len(st); pos++ {
			for _, r := range alphabet {
				if byte(r) == st[pos] {
					continue
				}
				changed := st[:pos] + string(r) + st[pos+1:]
				if _, err := s.Verify(changed, PurposeConnect); err == nil {
					t.Fatalf("state with character %d changed to %q accepted", pos, r)
				}
			}
		}
	}
}
