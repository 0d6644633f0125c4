// Package credwatch watches the app's own credential so it never silently expires: the seeds'
// most common failure is "the secret has expired". A client secret's (or certificate's) expiry is
// read from its Key Vault copy, where `tenantsync register` records it; federated credentials have
// none.
package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/secrets"
)

// WarnWithin is how far ahead an expiring credential is reported.
const WarnWithin = 30 * 24 * time.Hour

// Expirer reads a secret's expiry (secrets.KeyVault does).
type Expirer interface {
	Expiry(ctx context.Context, name string) (time.Time, error)
}

// ExpiryStatus is the app credential's health.
type ExpiryStatus struct {
	Mode      string    `json:"mode"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	DaysLeft  *int      `json:"daysLeft,omitempty"`
	// Warning says what to do, weeks before it matters; empty when all is well.
	Warning string `json:"warning,omitempty"`
}

// Check reports the credential's expiry for mode.
func CheckExpiry(ctx context.Context, mode string, vault Expirer, now time.Time) (ExpiryStatus, error) {
	st := ExpiryStatus{Mode: mode}
	name := ""
	switch mode {
	case config.AuthFederated:
		return st, nil // a federated credential has nothing that expires
	case config.AuthCertificate:
		name = CertificateSecretName
	default:
		st.Mode, name = config.AuthSecret, ClientSecretName
	}
	exp, err := vault.Expiry(ctx, name)
	if errors.Is(err, secrets.ErrNotFound) {
		st.Warning = fmt.Sprintf("Key Vault has no %s, so its expiry cannot be watched: run tenantsync register, or switch to APP_AUTH=federated (nothing expires)", name)
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if exp.IsZero() {
		st.Warning = fmt.Sprintf("the %s in Key Vault has no expiry date: run tenantsync register to renew it with one, or switch to APP_AUTH=federated", name)
		return st, nil
	}
	days := int(exp.Sub(now).Hours() / 24)
	st.ExpiresAt, st.DaysLeft = exp, &days
	what := map[string]string{config.AuthSecret: "client secret", config.AuthCertificate: "certificate"}[st.Mode]
	switch left := exp.Sub(now); {
	case left <= 0:
		st.Warning = fmt.Sprintf("the app's %s expired on %s: syncs fail with AADSTS7000222. Run tenantsync register to renew it, or switch to APP_AUTH=federated", what, exp.Format("2006-01-02"))
	case left < WarnWithin:
		st.Warning = fmt.Sprintf("the app's %s expires on %s (in %d days): run tenantsync register to renew it, or switch to APP_AUTH=federated (nothing expires)", what, exp.Format("2006-01-02"), days)
	}
	return st, nil
}
