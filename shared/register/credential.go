package register

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" // #nosec G505 -- certificate thumbprint as Entra records it, not a security decision
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/tenantsync/tenantsync/shared/identity"
	"math/big"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/uuid"
	"github.com/microsoftgraph/msgraph-sdk-go/applications"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tenantsync/tenantsync/shared/secrets"
)

// stored is the credential's Key Vault copy as the run found it.
type stored struct {
	found bool
	value string
}

func (r *run) secretName() string {
	if r.o.Credential == CredentialSecret {
		return identity.ClientSecretName
	}
	return identity.CertificateSecretName
}

// readStoredCredential reads the Key Vault copy of the chosen credential (a federated credential
// has none).
func (r *run) readStoredCredential(ctx context.Context) (stored, error) {
	if r.o.Credential == CredentialFederated {
		return stored{}, nil
	}
	name := r.secretName()
	v, err := r.vault.Get(ctx, name)
	switch {
	case errors.Is(err, secrets.ErrNotFound):
		return stored{}, nil
	case err != nil:
		return stored{}, vaultError("reading secret "+name, r.o.VaultURL, err)
	}
	return stored{found: true, value: v}, nil
}

func (r *run) ensureCredential(ctx context.Context, app models.Applicationable, st stored) error {
	if r.o.Credential == CredentialFederated {
		return r.ensureFederated(ctx, app)
	}
	r.res.SecretName = r.secretName()
	if r.o.Credential == CredentialSecret {
		return r.ensureSecret(ctx, app, st)
	}
	return r.ensureCertificate(ctx, app, st)
}

// Thumbprint is the certificate's SHA-1 thumbprint in upper-case hex, as the portal shows it.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw) // #nosec G401 -- thumbprint
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// ParseCertificatePEM reads the certificate and private key of the app-certificate secret.
func ParseCertificatePEM(pemData string) (*x509.Certificate, error) {
	certs, key, err := azidentity.ParseCertificates([]byte(pemData), nil)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 || key == nil {
		return nil, errors.New("the PEM holds no certificate or no private key")
	}
	return certs[0], nil
}

// keyFor finds the app's certificate credential with cert's thumbprint.
func keyFor(app models.Applicationable, cert *x509.Certificate) models.KeyCredentialable {
	sum := sha1.Sum(cert.Raw) // #nosec G401 -- thumbprint
	for _, k := range app.GetKeyCredentials() {
		if bytes.Equal(k.GetCustomKeyIdentifier(), sum[:]) {
			return k
		}
	}
	return nil
}

// ensureCertificate keeps the stored certificate when it is registered on the app and valid for
// more than RenewBefore; otherwise it generates a new one, adds it to the app's keyCredentials
// (keeping the app's other unexpired certificates) and then stores it in Key Vault. The app is
// updated first, so that a running tenantsync never reads a certificate the app does not know.
func (r *run) ensureCertificate(ctx context.Context, app models.Applicationable, st stored) error {
	res, now := r.res, r.o.Now()
	reason := "no certificate in Key Vault yet"
	if st.found {
		cert, err := ParseCertificatePEM(st.value)
		switch {
		case err != nil:
			reason = "the Key Vault copy is not a certificate with its private key (" + err.Error() + ")"
		case keyFor(app, cert) == nil:
			reason = "the Key Vault certificate (thumbprint " + Thumbprint(cert) + ") is not registered on the app"
		default:
			end := cert.NotAfter
			if k := keyFor(app, cert); k.GetEndDateTime() != nil && k.GetEndDateTime().Before(end) {
				end = *k.GetEndDateTime()
			}
			if end.Sub(now) > RenewBefore {
				res.Thumbprint, res.Expires = Thumbprint(cert), end
				res.add(ItemCredential, Unchanged, "certificate %s, thumbprint %s, expires %s", cert.Subject.CommonName, res.Thumbprint, day(end))
				res.add(ItemVault, Unchanged, "%s in %s", res.SecretName, r.o.VaultURL)
				return nil
			}
			reason = "the certificate expires " + day(end) + ", within " + fmt.Sprint(int(RenewBefore.Hours()/24)) + " days"
		}
	}

	cert, pemData, err := newCertificate(r.res.AppName, now)
	if err != nil {
		return err
	}
	keys := []models.KeyCredentialable{}
	dropped := 0
	for _, k := range app.GetKeyCredentials() {
		if k.GetEndDateTime() != nil && k.GetEndDateTime().Before(now) {
			dropped++
			continue // expired: nothing can use it any more
		}
		keep := models.NewKeyCredential()
		keep.SetKeyId(k.GetKeyId())
		keep.SetTypeEscaped(k.GetTypeEscaped())
		keep.SetUsage(k.GetUsage())
		keep.SetDisplayName(k.GetDisplayName())
		keys = append(keys, keep)
	}
	sum := sha1.Sum(cert.Raw) // #nosec G401 -- thumbprint
	kc := models.NewKeyCredential()
	keyID := uuid.New()
	kc.SetKeyId(&keyID)
	kc.SetTypeEscaped(ptr("AsymmetricX509Cert"))
	kc.SetUsage(ptr("Verify"))
	kc.SetKey(cert.Raw)
	kc.SetCustomKeyIdentifier(sum[:])
	kc.SetDisplayName(ptr("CN=" + cert.Subject.CommonName))
	kc.SetStartDateTime(ptr(cert.NotBefore))
	kc.SetEndDateTime(ptr(cert.NotAfter))
	keys = append(keys, kc)
	patch := models.NewApplication()
	patch.SetKeyCredentials(keys)
	err = retryReplication(ctx, func() error {
		_, err := r.graph.Applications().ByApplicationId(res.ObjectID).Patch(ctx, patch, nil)
		return err
	})
	if err != nil {
		return graphError("adding the certificate to the app registration", err, rolesApps)
	}
	if err := r.vault.Set(ctx, res.SecretName, pemData); err != nil {
		return fmt.Errorf("%w\nThe certificate (thumbprint %s) was added to the app but could not be stored: fix access to the vault and run the command again (it adds a fresh certificate)",
			vaultError("storing secret "+res.SecretName, r.o.VaultURL, err), Thumbprint(cert))
	}
	res.Thumbprint, res.Expires = Thumbprint(cert), cert.NotAfter
	st1, st2 := Created, Created
	detail := fmt.Sprintf("certificate CN=%s (RSA 2048, generated here), thumbprint %s, expires %s", cert.Subject.CommonName, res.Thumbprint, day(cert.NotAfter))
	if st.found {
		st1, st2 = Updated, Updated
		detail = "new " + detail + ": " + reason
	}
	if dropped > 0 {
		detail += fmt.Sprintf("; removed %d expired certificate(s) from the app", dropped)
	}
	res.add(ItemCredential, st1, "%s", detail)
	res.add(ItemVault, st2, "%s in %s (certificate and private key, PEM)", res.SecretName, r.o.VaultURL)
	return nil
}

// newCertificate makes a self-signed RSA 2048 certificate valid for CredentialLifetime and its
// PEM (certificate, then the PKCS#8 private key). The key never leaves this process except into
// Key Vault.
func newCertificate(name string, now time.Time) (*x509.Certificate, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, "", err
	}
	start := now.Add(-time.Hour).UTC().Truncate(time.Second) // tolerate clock skew
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             start,
		NotAfter:              start.Add(CredentialLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, "", err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	var b strings.Builder
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	return cert, b.String(), nil
}

// hint is what Entra shows of a secret: its first three characters.
func hint(secret string) string {
	if len(secret) > 3 {
		return secret[:3]
	}
	return secret
}

// ensureSecret keeps the stored client secret when the app still has a secret with its hint
// valid for more than RenewBefore; otherwise it adds a new one (addPassword) and stores the
// value in Key Vault. The value is never printed.
func (r *run) ensureSecret(ctx context.Context, app models.Applicationable, st stored) error {
	res, now := r.res, r.o.Now()
	reason := "no client secret in Key Vault yet"
	others := 0
	if st.found {
		var match models.PasswordCredentialable
		for _, p := range app.GetPasswordCredentials() {
			if str(p.GetHint()) == hint(st.value) && (match == nil || later(p.GetEndDateTime(), match.GetEndDateTime())) {
				match = p
			}
		}
		switch {
		case match == nil:
			reason = "the Key Vault secret matches none of the app's client secrets"
		case match.GetEndDateTime() != nil && match.GetEndDateTime().Sub(now) <= RenewBefore:
			reason = "the client secret expires " + day(*match.GetEndDateTime()) + ", within " + fmt.Sprint(int(RenewBefore.Hours()/24)) + " days"
		default:
			if match.GetEndDateTime() != nil {
				res.Expires = *match.GetEndDateTime()
			}
			res.add(ItemCredential, Unchanged, "client secret %s..., expires %s", hint(st.value), day(res.Expires))
			res.add(ItemVault, Unchanged, "%s in %s", res.SecretName, r.o.VaultURL)
			others = len(app.GetPasswordCredentials()) - 1
			r.secretWarnings(others)
			return nil
		}
	}
	others = len(app.GetPasswordCredentials())

	body := applications.NewItemAddPasswordPostRequestBody()
	pc := models.NewPasswordCredential()
	pc.SetDisplayName(ptr("tenantsync register " + now.UTC().Format("2006-01-02")))
	pc.SetEndDateTime(ptr(now.Add(CredentialLifetime).UTC().Truncate(time.Second)))
	body.SetPasswordCredential(pc)
	var created models.PasswordCredentialable
	err := retryReplication(ctx, func() error {
		var err error
		created, err = r.graph.Applications().ByApplicationId(res.ObjectID).AddPassword().Post(ctx, body, nil)
		return err
	})
	if err != nil {
		return graphError("adding a client secret to the app registration", err, rolesApps)
	}
	value := str(created.GetSecretText())
	if value == "" {
		return errors.New("Graph answered addPassword without the secret's value")
	}
	var end time.Time
	if created.GetEndDateTime() != nil {
		end = *created.GetEndDateTime()
	}
	// The vault copy carries the secret's expiry so the running app can warn weeks ahead.
	var setErr error
	if ev, ok := r.vault.(interface {
		SetExpiring(context.Context, string, string, time.Time) error
	}); ok && !end.IsZero() {
		setErr = ev.SetExpiring(ctx, res.SecretName, value, end)
	} else {
		setErr = r.vault.Set(ctx, res.SecretName, value)
	}
	if err := setErr; err != nil {
		return fmt.Errorf("%w\nThe client secret (hint %s...) was added to the app but could not be stored: fix access to the vault and run the command again (it adds a fresh secret); remove the orphan in Entra admin center > App registrations > %s > Certificates & secrets",
			vaultError("storing secret "+res.SecretName, r.o.VaultURL, err), hint(value), res.AppName)
	}
	if created.GetEndDateTime() != nil {
		res.Expires = *created.GetEndDateTime()
	}
	status, detail := Created, fmt.Sprintf("client secret %s..., expires %s", hint(value), day(res.Expires))
	if st.found {
		status, detail = Updated, "new "+detail+": "+reason
	}
	res.add(ItemCredential, status, "%s", detail)
	res.add(ItemVault, status, "%s in %s (the secret's value; it is shown nowhere else)", res.SecretName, r.o.VaultURL)
	r.secretWarnings(others)
	return nil
}

func (r *run) secretWarnings(others int) {
	res := r.res
	res.Warnings = append(res.Warnings, fmt.Sprintf("the client secret expires on %s and tenantsync then stops working: run this command again "+
		"before %s (it renews a secret with fewer than %d days left), or better switch to --credential certificate",
		day(res.Expires), day(res.Expires.Add(-RenewBefore)), int(RenewBefore.Hours()/24)))
	if others > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the app has %d other client secret(s): remove them in Entra admin center > App registrations > %s > "+
			"Certificates & secrets once nothing uses them", others, res.AppName))
	}
}

func later(a, b *time.Time) bool {
	if a == nil {
		return false
	}
	return b == nil || a.After(*b)
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// federatedName names the federated identity credential this command manages.
const federatedName = "tenantsync-function-app"

// ensureFederated makes the app trust the Function App's managed identity: its token (audience
// api://AzureADTokenExchange) is then accepted as the app's client assertion in every tenant.
func (r *run) ensureFederated(ctx context.Context, app models.Applicationable) error {
	subject := strings.ToLower(strings.TrimSpace(r.o.FederatedSubject))
	issuer := strings.TrimRight(r.o.Endpoints.AuthorityHost, "/") + "/" + r.o.PartnerTenantID + "/v2.0"
	fics := r.graph.Applications().ByApplicationId(*app.GetId()).FederatedIdentityCredentials()
	list, err := fics.Get(ctx, nil)
	if err != nil {
		return graphError("reading the app's federated credentials", err, "Application Administrator or Cloud Application Administrator")
	}
	for _, f := range list.GetValue() {
		if f.GetSubject() != nil && strings.EqualFold(*f.GetSubject(), subject) {
			r.res.add(ItemCredential, Unchanged, "federated: trusts managed identity %s", subject)
			return nil
		}
	}
	fic := models.NewFederatedIdentityCredential()
	name, aud := federatedName, identity.FederatedAudience
	fic.SetName(&name)
	fic.SetIssuer(&issuer)
	fic.SetSubject(&subject)
	fic.SetAudiences([]string{aud})
	if _, err := fics.Post(ctx, fic, nil); err != nil {
		return graphError("adding the federated credential", err, "Application Administrator or Cloud Application Administrator")
	}
	r.res.add(ItemCredential, Created, "federated: trusts managed identity %s (no secret, nothing expires)", subject)
	return nil
}
