package funchost

// The local host plays App Service Authentication ("Easy Auth") for the Entra ID provider, so the
// console's sign-in code path is the one that runs in Azure. What it reproduces, from "Work with
// user identities in Azure App Service authentication"
// (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities) and
// "Customize sign-in and sign-out" (https://learn.microsoft.com/azure/app-service/configure-authentication-customize-sign-in-out):
//   - GET /.auth/login/aad[?post_login_redirect_uri=/path] signs in with Entra (authorization
//     code flow) and returns to the path; GET /.auth/logout[?post_logout_redirect_uri=/path];
//     GET /.auth/me answers the signed-in user's claims;
//   - a session cookie (AppServiceAuthSession) keeps the sign-in;
//   - on every request the platform removes client-sent X-MS-CLIENT-PRINCIPAL* headers and, for a
//     signed-in session, injects X-MS-CLIENT-PRINCIPAL (base64 JSON {auth_typ, claims[{typ,val}],
//     name_typ, role_typ}), X-MS-CLIENT-PRINCIPAL-ID, -NAME and -IDP;
//   - unauthenticated requests pass through ("Allow unauthenticated requests"), and the app
//     decides: tenantsync's console redirects to the sign-in, the API keeps its function keys.
// It is on when the app settings say WEBSITE_AUTH_ENABLED=true, the variable App Service sets
// when authentication is enabled; the handler sees the same setting.
// Not verified against the platform: the exact claim type names App Service emits for each JWT
// claim (it maps some to long URIs); the console accepts both spellings.

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	authCookie      = "AppServiceAuthSession"
	authSessionLife = 8 * time.Hour
	authLoginLife   = 10 * time.Minute
	nameClaimType   = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	roleClaimType   = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
	oidClaimType    = "http://schemas.microsoft.com/identity/claims/objectidentifier"
)

type authSession struct {
	principal []byte // the X-MS-CLIENT-PRINCIPAL JSON
	id, name  string
	expires   time.Time
}

type authLogin struct {
	returnTo, nonce string
	expires         time.Time
}

// easyAuth is the local App Service Authentication.
type easyAuth struct {
	authority, tenant, clientID, secret, publicURL string
	client                                         *http.Client

	// unavailable, when set, is why signing in cannot work (missing settings).
	unavailable error

	mu       sync.Mutex
	sessions map[string]*authSession
	logins   map[string]*authLogin
}

// newEasyAuth returns nil when WEBSITE_AUTH_ENABLED is not true in the settings.
func newEasyAuth(s map[string]string) (*easyAuth, error) {
	if !strings.EqualFold(s["WEBSITE_AUTH_ENABLED"], "true") {
		return nil, nil
	}
	a := &easyAuth{authority: strings.TrimRight(firstNonEmpty(s["AZURE_AUTHORITY_HOST"], "https://login.microsoftonline.com/"), "/"),
		tenant: s["PARTNER_TENANT_ID"], clientID: firstNonEmpty(s["WEBSITE_AUTH_CLIENT_ID"], s["APP_CLIENT_ID"]),
		secret:    firstNonEmpty(s["MICROSOFT_PROVIDER_AUTHENTICATION_SECRET"], s["APP_CLIENT_SECRET"]),
		publicURL: strings.TrimRight(s["PUBLIC_BASE_URL"], "/"),
		sessions:  map[string]*authSession{}, logins: map[string]*authLogin{}}
	if a.tenant == "" || a.clientID == "" || a.secret == "" || a.publicURL == "" {
		// The host still starts (the handler's own "setting X is missing" error is the one to
		// show) and still strips client-sent identity headers; only signing in is refused.
		a.unavailable = errors.New("WEBSITE_AUTH_ENABLED is true but the local sign-in needs PARTNER_TENANT_ID, APP_CLIENT_ID (or WEBSITE_AUTH_CLIENT_ID), APP_CLIENT_SECRET (or MICROSOFT_PROVIDER_AUTHENTICATION_SECRET) and PUBLIC_BASE_URL")
		return a, nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if ca := s["CLOUD_CA_FILE"]; ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("local sign-in: CLOUD_CA_FILE: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("local sign-in: CLOUD_CA_FILE %s holds no PEM certificate", ca)
		}
	}
	a.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	return a, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// localPath keeps a post-login/logout redirect on this site (App Service allows only the app's
// own domain unless allowedExternalRedirectUrls says otherwise).
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

func (a *easyAuth) redirectURI() string { return a.publicURL + "/.auth/login/aad/callback" }

// routes serves /.auth/*.
func (a *easyAuth) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /.auth/login/aad", a.login)
	mux.HandleFunc("GET /.auth/login/aad/callback", a.callback)
	mux.HandleFunc("GET /.auth/logout", a.logout)
	mux.HandleFunc("GET /.auth/me", func(w http.ResponseWriter, r *http.Request) {
		s := a.session(r)
		if s == nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, "[%s]", s.principal)
	})
}

func (a *easyAuth) login(w http.ResponseWriter, r *http.Request) {
	if a.unavailable != nil {
		authError(w, http.StatusServiceUnavailable, a.unavailable.Error())
		return
	}
	state, nonce := randomID(), randomID()
	now := time.Now()
	a.mu.Lock()
	for k, l := range a.logins {
		if now.After(l.expires) {
			delete(a.logins, k)
		}
	}
	a.logins[state] = &authLogin{returnTo: localPath(r.URL.Query().Get("post_login_redirect_uri")), nonce: nonce, expires: now.Add(authLoginLife)}
	a.mu.Unlock()
	q := url.Values{"client_id": {a.clientID}, "response_type": {"code"}, "redirect_uri": {a.redirectURI()},
		"scope": {"openid profile email"}, "state": {state}, "nonce": {nonce}, "response_mode": {"query"}}
	http.Redirect(w, r, a.authority+"/"+a.tenant+"/oauth2/v2.0/authorize?"+q.Encode(), http.StatusFound)
}

func authError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, msg)
}

func (a *easyAuth) callback(w http.ResponseWriter, r *http.Request) {
	if a.unavailable != nil {
		authError(w, http.StatusServiceUnavailable, a.unavailable.Error())
		return
	}
	q := r.URL.Query()
	a.mu.Lock()
	l := a.logins[q.Get("state")]
	delete(a.logins, q.Get("state"))
	a.mu.Unlock()
	if l == nil || time.Now().After(l.expires) {
		authError(w, http.StatusBadRequest, "sign-in failed: unknown or expired state; start again at /.auth/login/aad")
		return
	}
	if e := q.Get("error"); e != "" {
		authError(w, http.StatusUnauthorized, "sign-in failed: "+e+": "+q.Get("error_description"))
		return
	}
	claims, err := a.redeem(r, q.Get("code"), l.nonce)
	if err != nil {
		authError(w, http.StatusUnauthorized, "sign-in failed: "+err.Error())
		return
	}
	s := principalOf(claims)
	sid := randomID()
	a.mu.Lock()
	a.sessions[sid] = s
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: authCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(a.publicURL, "https://"), Expires: s.expires})
	http.Redirect(w, r, l.returnTo, http.StatusFound)
}

// redeem exchanges the code for tokens and returns the id_token's claims. The token comes
// straight from the token endpoint over verified TLS, which OpenID Connect Core 1.0 §3.1.3.7
// accepts in place of checking its signature; issuer, audience, nonce and expiry are checked.
func (a *easyAuth) redeem(r *http.Request, code, nonce string) (map[string]any, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {a.redirectURI()},
		"client_id": {a.clientID}, "client_secret": {a.secret}, "scope": {"openid profile email"}}
	resp, err := a.client.PostForm(a.authority+"/"+a.tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var tr struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
		Desc    string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		return nil, fmt.Errorf("token endpoint answered %s", resp.Status)
	}
	if tr.IDToken == "" {
		return nil, fmt.Errorf("token endpoint: %s %s", tr.Error, tr.Desc)
	}
	parts := strings.Split(tr.IDToken, ".")
	if len(parts) != 3 {
		return nil, errors.New("id_token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("id_token payload is not base64url")
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("id_token payload is not JSON")
	}
	exp, _ := c["exp"].(float64)
	switch {
	case c["aud"] != a.clientID:
		return nil, fmt.Errorf("id_token audience %v is not %s", c["aud"], a.clientID)
	case c["iss"] != a.authority+"/"+strings.ToLower(a.tenant)+"/v2.0" && c["iss"] != a.authority+"/"+a.tenant+"/v2.0":
		return nil, fmt.Errorf("id_token issuer %v is not the partner tenant", c["iss"])
	case c["nonce"] != nonce:
		return nil, errors.New("id_token nonce does not match the sign-in")
	case time.Now().After(time.Unix(int64(exp), 0)):
		return nil, errors.New("id_token expired")
	}
	return c, nil
}

// principalOf builds the X-MS-CLIENT-PRINCIPAL JSON from the id_token claims: one {typ,val}
// per value, arrays (groups) as one claim per element, and the object id under App Service's
// mapped claim type as well.
func principalOf(c map[string]any) *authSession {
	type claim struct {
		Typ string `json:"typ"`
		Val string `json:"val"`
	}
	var claims []claim
	for k, v := range c {
		switch x := v.(type) {
		case string:
			claims = append(claims, claim{k, x})
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					claims = append(claims, claim{k, s})
				}
			}
		case float64:
			claims = append(claims, claim{k, fmt.Sprint(int64(x))})
		case bool:
			claims = append(claims, claim{k, fmt.Sprint(x)})
		default: // objects (_claim_names, _claim_sources) stay JSON
			b, _ := json.Marshal(x)
			claims = append(claims, claim{k, string(b)})
		}
	}
	oid, _ := c["oid"].(string)
	name, _ := c["preferred_username"].(string)
	claims = append(claims, claim{oidClaimType, oid}, claim{nameClaimType, name})
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "claims": claims, "name_typ": nameClaimType, "role_typ": roleClaimType})
	return &authSession{principal: b, id: oid, name: name, expires: time.Now().Add(authSessionLife)}
}

func (a *easyAuth) session(r *http.Request) *authSession {
	ck, err := r.Cookie(authCookie)
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[ck.Value]
	if s != nil && time.Now().After(s.expires) {
		delete(a.sessions, ck.Value)
		return nil
	}
	return s
}

func (a *easyAuth) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(authCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, ck.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: authCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localPath(r.URL.Query().Get("post_logout_redirect_uri")), http.StatusFound)
}

// wrap strips client-sent identity headers and injects the session's principal.
func (a *easyAuth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range r.Header {
			if u := strings.ToUpper(k); strings.HasPrefix(u, "X-MS-CLIENT-PRINCIPAL") || strings.HasPrefix(u, "X-MS-TOKEN-") {
				r.Header.Del(k)
			}
		}
		if s := a.session(r); s != nil {
			r.Header.Set("X-MS-CLIENT-PRINCIPAL", base64.StdEncoding.EncodeToString(s.principal))
			r.Header.Set("X-MS-CLIENT-PRINCIPAL-ID", s.id)
			r.Header.Set("X-MS-CLIENT-PRINCIPAL-NAME", s.name)
			r.Header.Set("X-MS-CLIENT-PRINCIPAL-IDP", "aad")
		}
		next.ServeHTTP(w, r)
	})
}
