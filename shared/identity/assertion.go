// Package clientassert produces the client assertions the app presents at Entra's token endpoint
// when it does not use a client secret: a JWT signed with its certificate, or (federated) the
// Function App managed identity's token for api://AzureADTokenExchange. azidentity does this for
// app-only tokens; the partner connect flow redeems codes and refresh tokens itself and needs it.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
)

// Type is the client_assertion_type for JWT assertions.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Func returns an assertion for the token endpoint URL audience.
type AssertionFunc func(ctx context.Context, audience string) (string, error)

// CertificateAssertion signs assertions with the app's certificate (PEM certificate and private key).
func CertificateAssertion(pemData []byte, clientID string, now func() time.Time) (AssertionFunc, error) {
	certs, key, err := azidentity.ParseCertificates(pemData, nil)
	if err != nil {
		return nil, fmt.Errorf("app certificate: %w", err)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok || len(certs) == 0 {
		return nil, errors.New("app certificate: need an RSA private key and its certificate")
	}
	if now == nil {
		now = time.Now
	}
	thumb := sha256.Sum256(certs[0].Raw)
	return func(_ context.Context, audience string) (string, error) {
		t := now()
		var jti [16]byte
		_, _ = rand.Read(jti[:])
		tok := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.RegisteredClaims{
			Issuer: clientID, Subject: clientID, Audience: jwt.ClaimStrings{audience},
			ID: base64.RawURLEncoding.EncodeToString(jti[:]), IssuedAt: jwt.NewNumericDate(t),
			NotBefore: jwt.NewNumericDate(t.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(t.Add(10 * time.Minute)),
		})
		// Entra finds the key by its SHA-256 thumbprint.
		tok.Header["x5t#S256"] = base64.RawURLEncoding.EncodeToString(thumb[:])
		return tok.SignedString(rsaKey)
	}, nil
}

// FederatedAssertion uses the managed identity's token as the assertion.
func FederatedAssertion(mi azcore.TokenCredential) AssertionFunc {
	return func(ctx context.Context, _ string) (string, error) {
		tok, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{FederatedAudience + "/.default"}})
		if err != nil {
			return "", fmt.Errorf("managed identity token for the federated credential: %w", err)
		}
		return tok.Token, nil
	}
}
