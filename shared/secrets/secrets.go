// Package secrets keeps tenantsync's secrets (the partner refresh token) in Azure Key Vault through
// azsecrets; they never touch logs, tables or API answers.
package secrets

import (
	"context"
	"errors"
)

// Store reads and writes named secrets.
type Store interface {
	Get(ctx context.Context, name string) (string, error)
	Set(ctx context.Context, name, value string) error
}

// ErrNotFound is returned by Get for a secret that does not exist.
var ErrNotFound = errors.New("secret not found")
