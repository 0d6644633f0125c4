package identity

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/secrets"
)

type fakeVault map[string]time.Time

func (f fakeVault) Expiry(_ context.Context, name string) (time.Time, error) {
	t, ok := f[name]
	if !ok {
		return time.Time{}, secrets.ErrNotFound
	}
	return t, nil
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		mode  string
		vault fakeVault
		warn  string // "" = no warning
		days  int
	}{
		{config.AuthFederated, fakeVault{}, "", -1},
		{config.AuthSecret, fakeVault{ClientSecretName: now.Add(200 * 24 * time.Hour)}, "", 200},
		{config.AuthSecret, fakeVault{ClientSecretName: now.Add(20 * 24 * time.Hour)}, "expires on 2026-12-12 (in 20 days)", 20},
		{config.AuthSecret, fakeVault{ClientSecretName: now.Add(-24 * time.Hour)}, "expired on 2026-11-21", -1},
		{config.AuthCertificate, fakeVault{CertificateSecretName: now.Add(10 * 24 * time.Hour)}, "certificate expires", 10},
		{config.AuthSecret, fakeVault{}, "has no app-client-secret", -1},
		{config.AuthSecret, fakeVault{ClientSecretName: {}}, "no expiry date", -1},
	}
	for _, c := range cases {
		st, err := CheckExpiry(context.Background(), c.mode, c.vault, now)
		if err != nil {
			t.Fatal(err)
		}
		if (c.warn == "") != (st.Warning == "") || !strings.Contains(st.Warning, c.warn) {
			t.Errorf("%s %v: warning %q, want %q", c.mode, c.vault, st.Warning, c.warn)
		}
		if c.days >= 0 && (st.DaysLeft == nil || *st.DaysLeft != c.days) {
			t.Errorf("%s: days left %v, want %d", c.mode, st.DaysLeft, c.days)
		}
	}
}
