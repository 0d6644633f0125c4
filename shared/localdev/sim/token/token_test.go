package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	clock := now
	iss, err := New("https://127.0.0.1:9443", func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	raw, err := iss.Sign(Claims{TenantID: "t1", AppID: "app", Roles: []string{"User.Read.All"}, IDType: "app"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.TenantID != "t1" || !c.HasRole("User.Read.All") || !c.IsApp() || c.Issuer != "https://127.0.0.1:9443/t1/v2.0" {
		t.Errorf("claims %+v", c)
	}
	clock = now.Add(2 * time.Hour)
	if _, err := iss.Verify(raw); !errors.Is(err, ErrExpired) {
		t.Errorf("expired token: %v", err)
	}
	other, _ := New("https://127.0.0.1:9443", nil)
	if _, err := other.Verify(raw); !errors.Is(err, ErrMalformed) {
		t.Errorf("token from another key: %v", err)
	}
	if _, err := iss.Verify(raw[:len(raw)-4] + "AAAA"); err == nil {
		t.Error("tampered signature accepted")
	}
	if !strings.Contains(string(iss.JWKS()), `"kid"`) {
		t.Error("JWKS lacks kid")
	}
}
