package entra

import (
	"crypto/sha1" // #nosec G505 -- x5t is defined as a SHA-1 thumbprint
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// client is the application a request names: a registration in the directory, or one of the
// first-party public clients (Azure CLI, Azure PowerShell) that exist in every tenant.
type client struct {
	ID, Name string
	App      *directory.Application
}

var firstPartyClients = map[string]string{
	"04b07795-8ddb-461a-bbee-02f9e1bf7b46": "Microsoft Azure CLI",
	"1950a258-227b-4e31-a9cf-717495945fc2": "Microsoft Azure PowerShell",
}

func (s *Service) client(id string) (client, bool) {
	if a, ok := s.dir.App(id); ok {
		return client{ID: a.AppID, Name: a.DisplayName, App: &a}, true
	}
	if name, ok := firstPartyClients[strings.ToLower(id)]; ok {
		return client{ID: strings.ToLower(id), Name: name}, true
	}
	return client{}, false
}

// redirect returns the redirect URI to use: the requested one if registered (loopback URIs
// match on any port, as Entra allows for native apps), or the only registered one when the
// request names none.
func (c client) redirect(uri string) (string, bool) {
	if c.App == nil {
		return uri, isLoopback(uri) || uri == "https://login.microsoftonline.com/common/oauth2/nativeclient"
	}
	if uri == "" {
		if len(c.App.RedirectURIs) > 0 {
			return c.App.RedirectURIs[0], true
		}
		return "", false
	}
	for _, reg := range c.App.RedirectURIs {
		if reg == uri || loopbackMatch(reg, uri) {
			return uri, true
		}
	}
	return uri, false
}

func isLoopback(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

func loopbackMatch(reg, uri string) bool {
	if !isLoopback(reg) || !isLoopback(uri) {
		return false
	}
	a, _ := url.Parse(reg)
	b, _ := url.Parse(uri)
	return a.Hostname() == b.Hostname() && strings.TrimRight(a.Path, "/") == strings.TrimRight(b.Path, "/")
}

// clientCredential is what the client presented.
type clientCredential struct {
	Secret    string
	Assertion string
}

// presentedCredential reads client_secret (form or HTTP Basic) or client_assertion.
func presentedCredential(r *http.Request) (clientCredential, *aadError) {
	f := r.PostForm
	cc := clientCredential{Secret: f.Get("client_secret"), Assertion: f.Get("client_assertion")}
	if cc.Secret == "" {
		if _, pw, ok := r.BasicAuth(); ok {
			cc.Secret, _ = url.QueryUnescape(pw)
		}
	}
	if cc.Assertion != "" && f.Get("client_assertion_type") != assertionType {
		return cc, aad(9002313, errCtx{Detail: "client_assertion_type must be " + assertionType + "."})
	}
	return cc, nil
}

func (c clientCredential) present() bool { return c.Secret != "" || c.Assertion != "" }

// authenticateClient verifies the client's secret, certificate assertion or federated
// assertion for app. required: a request without credentials is AADSTS7000218.
func (s *Service) authenticateClient(r *http.Request, app *directory.Application, tenant tenantRef, required bool) (bool, *aadError) {
	cc, e := presentedCredential(r)
	if e != nil {
		return false, e
	}
	if !cc.present() {
		if required {
			return false, aad(7000218, errCtx{App: app.AppID})
		}
		return false, nil
	}
	if cc.Secret != "" {
		return true, s.checkSecret(app, cc.Secret)
	}
	return true, s.checkAssertion(r, app, tenant, cc.Assertion)
}

// checkSecret: the value must match an unexpired secret. A pasted secret id (keyId) and an
// expired secret get their own hints, as they are the two classic setup mistakes.
func (s *Service) checkSecret(app *directory.Application, secret string) *aadError {
	ctx := errCtx{App: app.AppID, AppName: app.DisplayName}
	now := s.now()
	for _, p := range app.Passwords {
		if !p.Matches(secret) {
			continue
		}
		if !p.End.IsZero() && now.After(p.End) {
			return aad(7000222, ctx)
		}
		return nil
	}
	for _, p := range app.Passwords {
		if strings.EqualFold(strings.TrimSpace(secret), p.KeyID) {
			ctx.Detail = fmt.Sprintf(" The value sent is the secret ID (keyId %s) of the secret '%s', not its value: copy the secret's Value, which is shown only once when the secret is created.", p.KeyID, p.DisplayName)
			break
		}
	}
	return aad(7000215, ctx)
}

// checkAssertion dispatches on the assertion's header: x5t / x5t#S256 mean a certificate
// registered on the app; otherwise it must be a token issued by this cloud (a managed identity
// token) matching one of the app's federated identity credentials.
func (s *Service) checkAssertion(r *http.Request, app *directory.Application, tenant tenantRef, raw string) *aadError {
	var rc jwt.RegisteredClaims
	t, err := token.Unverified(raw, &rc)
	if err != nil {
		return aad(700027, errCtx{Detail: "[Reason - The assertion is not a well-formed JWT.]"})
	}
	if _, ok := t.Header["x5t#S256"]; ok {
		return s.checkCertAssertion(r, app, tenant, raw, t.Header)
	}
	if _, ok := t.Header["x5t"]; ok {
		return s.checkCertAssertion(r, app, tenant, raw, t.Header)
	}
	return s.checkFederatedAssertion(app, raw, rc)
}

func decodeThumbprint(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	if b, err := hex.DecodeString(s); err == nil {
		return b
	}
	return nil
}

// findKey matches the assertion's thumbprint (MSAL sends x5t#S256, standard base64; older
// clients x5t, SHA-1) against the app's certificates.
func findKey(app *directory.Application, hdr map[string]any) (directory.KeyCredential, string, bool) {
	var want []byte
	var shown string
	if v, ok := hdr["x5t#S256"].(string); ok {
		want, shown = decodeThumbprint(v), v
	} else if v, ok := hdr["x5t"].(string); ok {
		want, shown = decodeThumbprint(v), v
	}
	if len(want) == 0 {
		return directory.KeyCredential{}, shown, false
	}
	for _, k := range app.Keys {
		s1 := sha1.Sum(k.DER) // #nosec G401 -- thumbprint, not a security decision
		s256 := sha256.Sum256(k.DER)
		if slices.Equal(want, s1[:]) || slices.Equal(want, s256[:]) {
			return k, shown, true
		}
		if tp := decodeThumbprint(k.Thumbprint); len(tp) > 0 && slices.Equal(tp, want) {
			return k, shown, true
		}
	}
	return directory.KeyCredential{}, shown, false
}

func (s *Service) checkCertAssertion(r *http.Request, app *directory.Application, tenant tenantRef, raw string, hdr map[string]any) *aadError {
	ctx := errCtx{App: app.AppID, AppName: app.DisplayName}
	key, shown, ok := findKey(app, hdr)
	if !ok {
		ctx.Detail = fmt.Sprintf("[Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/%s']", shown, app.AppID, app.ObjectID)
		return aad(700027, ctx)
	}
	now := s.now()
	if !key.End.IsZero() && now.After(key.End) {
		ctx.Detail = "[Reason - The key used is expired., Thumbprint of key used by client: '" + shown + "']"
		return aad(700027, ctx)
	}
	cert, err := x509.ParseCertificate(key.DER)
	if err != nil {
		ctx.Detail = "[Reason - The registered certificate cannot be parsed.]"
		return aad(700027, ctx)
	}
	var rc jwt.RegisteredClaims
	_, err = jwt.ParseWithClaims(raw, &rc, func(*jwt.Token) (any, error) { return cert.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(5*time.Minute), jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		ctx.Detail = fmt.Sprintf("Current time: %s, assertion valid from %s, expiry time of assertion %s.", stamp(now), numericStamp(rc.NotBefore), numericStamp(rc.ExpiresAt))
		return aad(700024, ctx)
	case err != nil:
		ctx.Detail = "[Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '" + shown + "']"
		return aad(700027, ctx)
	}
	if !strings.EqualFold(rc.Issuer, app.AppID) || !strings.EqualFold(rc.Subject, app.AppID) {
		return aad(700021, ctx)
	}
	if !s.assertionAudienceOK(r, tenant, rc.Audience) {
		ctx.Detail = fmt.Sprintf("Audience in the assertion: '%s'.", strings.Join(rc.Audience, ","))
		return aad(700023, ctx)
	}
	return nil
}

func numericStamp(d *jwt.NumericDate) string {
	if d == nil {
		return "(none)"
	}
	return stamp(d.Time)
}

// assertionAudienceOK accepts what Entra accepts as a client assertion's aud: the tenant's token
// endpoint (v2 or v1, by tenant id or the segment the client used) or the authority itself,
// through the host the client used or the simulator's canonical one.
func (s *Service) assertionAudienceOK(r *http.Request, tenant tenantRef, aud jwt.ClaimStrings) bool {
	ok := map[string]bool{}
	for _, base := range []string{baseURL(r), s.iss.Authority()} {
		base = strings.ToLower(base)
		ok[base] = true
		for _, t := range []string{tenant.ID, strings.ToLower(tenant.Segment), tenant.Meta} {
			if t == "" {
				continue
			}
			for _, p := range []string{"", "/v2.0", "/oauth2/token", "/oauth2/v2.0/token"} {
				ok[base+"/"+t+p] = true
			}
		}
	}
	for _, a := range aud {
		if ok[strings.TrimRight(strings.ToLower(a), "/")] {
			return true
		}
	}
	return false
}

// checkFederatedAssertion accepts a token this cloud issued (a managed identity's token for
// api://AzureADTokenExchange) whose issuer, subject and audience match one of the app's
// federated identity credentials.
func (s *Service) checkFederatedAssertion(app *directory.Application, raw string, unverified jwt.RegisteredClaims) *aadError {
	ctx := errCtx{App: app.AppID, AppName: app.DisplayName}
	c, err := s.iss.Verify(raw)
	switch {
	case errors.Is(err, token.ErrExpired):
		ctx.Detail = fmt.Sprintf("Current time: %s, expiry time of assertion %s.", stamp(s.now()), numericStamp(unverified.ExpiresAt))
		return aad(700024, ctx)
	case err != nil:
		ctx.Detail = "[Reason - The assertion is neither signed by a certificate registered on the app (no x5t header) nor issued by a trusted issuer.]"
		return aad(700027, ctx)
	}
	issuerMatch, subjectMatch := false, false
	for _, fc := range app.Federated {
		if fc.Issuer != "" && fc.Issuer != c.Issuer && fc.Issuer != s.iss.IssuerURL(c.TenantID) {
			continue
		}
		issuerMatch = true
		if fc.Subject != c.Subject {
			continue
		}
		subjectMatch = true
		auds := fc.Audiences
		if len(auds) == 0 {
			auds = []string{TokenExchangeAudience}
		}
		for _, a := range auds {
			if slices.Contains([]string(c.Audience), a) {
				return nil
			}
		}
	}
	switch {
	case !issuerMatch:
		ctx.Detail = c.Issuer
		return aad(700211, ctx)
	case !subjectMatch:
		ctx.Detail = c.Subject
		return aad(700213, ctx)
	default:
		ctx.Detail = strings.Join(c.Audience, ",")
		return aad(700212, ctx)
	}
}
