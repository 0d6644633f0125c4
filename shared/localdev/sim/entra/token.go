package entra

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

const deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"

// tokenResponse is the token endpoint's answer, fields in Entra's order.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// session is one interactive sign-in; every refresh token redeemed from it shares it.
type session struct {
	User         user
	MFA          bool
	AuthTime     time.Time
	ClientID     string
	AppName      string
	Confidential bool // the client authenticated: its refresh tokens need client authentication too
	Gen          int  // the user's revocation generation at sign-in
}

// refreshToken is one issued refresh token. Entra refresh tokens stay valid after use (each
// redemption returns a new one to store); they die after 90 days unused or when the user's
// sessions are revoked.
type refreshToken struct {
	Session  *session
	TenantID string
	Scope    string
	Issued   time.Time
	LastUsed time.Time
}

// token serves POST /{tenant}/oauth2/v2.0/token.
func (s *Service) token(w http.ResponseWriter, r *http.Request) {
	ids := newReqIDs(r, s.now())
	base := baseURL(r)
	seg := r.PathValue("tenant")
	observe(r, strings.ToLower(seg), "POST /token")
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeAADError(w, ids, base, aad(9002313, errCtx{Detail: err.Error()}))
		return
	}
	tenant, aerr := s.resolveTenant(seg)
	if aerr != nil {
		writeAADError(w, ids, base, aerr)
		return
	}
	if tenant.ID != "" {
		observe(r, tenant.ID, "")
	}
	var resp *tokenResponse
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
		resp, aerr = s.clientCredentials(r, base, tenant)
	case "authorization_code":
		resp, aerr = s.authCodeGrant(r, base, tenant)
	case "refresh_token":
		resp, aerr = s.refreshGrant(r, base, tenant)
	case deviceCodeGrant, "device_code":
		resp, aerr = s.deviceCodeGrant(r, base, tenant)
	case "password":
		resp, aerr = s.passwordGrant(r, base, tenant)
	case "":
		aerr = aad(900144, errCtx{Detail: "grant_type"})
	default:
		aerr = aad(70003, errCtx{Detail: gt})
	}
	if aerr != nil {
		writeAADError(w, ids, base, aerr)
		return
	}
	writeJSON(w, ids, http.StatusOK, resp)
}

func required(r *http.Request, name string) (string, *aadError) {
	v := r.PostForm.Get(name)
	if v == "" {
		return "", aad(900144, errCtx{Detail: name})
	}
	return v, nil
}

// clientCredentials issues an app-only token: the app must exist (700016), authenticate
// (7000215 / 7000222 / 7000218 / 7000xx for assertions) and have a service principal in the
// tenant (7000229); a tenant's injected TokenError wins after that.
func (s *Service) clientCredentials(r *http.Request, base string, tenant tenantRef) (*tokenResponse, *aadError) {
	if tenant.Meta != "" {
		return nil, aad(50059, errCtx{})
	}
	clientID := r.PostForm.Get("client_id")
	if clientID == "" {
		if id, _, ok := r.BasicAuth(); ok {
			clientID = id
		}
	}
	ctx := errCtx{App: clientID, Tenant: tenant.ID, TenantName: tenant.Name}
	if clientID == "" {
		return nil, aad(900144, errCtx{Detail: "client_id"})
	}
	app, ok := s.dir.App(clientID)
	if !ok {
		return nil, aad(700016, ctx)
	}
	ctx.AppName = app.DisplayName
	if _, e := s.authenticateClient(r, &app, tenant, true); e != nil {
		return nil, e
	}
	sp, e := s.servicePrincipal(tenant, &app)
	if e != nil {
		return nil, e
	}
	if tenant.T != nil {
		if code, ok := aadCode(tenant.T.Faults.TokenError); ok {
			return nil, aad(code, ctx)
		}
	}
	scope := r.PostForm.Get("scope")
	if scope == "" {
		return nil, aad(900144, errCtx{Detail: "scope"})
	}
	sr, e := parseScopes(scope, app.AppID, ctx)
	if e != nil {
		return nil, e
	}
	if !sr.HasResource {
		return nil, aad(1002012, errCtx{Detail: scope})
	}
	for _, p := range sr.Perms {
		if p != ".default" {
			return nil, aad(1002012, errCtx{Detail: scope})
		}
	}
	c := token.Claims{TenantID: tenant.ID, ObjectID: sp.ObjectID, AppID: app.AppID, AZP: app.AppID, IDType: "app"}
	c.Issuer = base + "/" + tenant.ID + "/v2.0"
	c.Subject = sp.ObjectID
	c.Audience = jwt.ClaimStrings{sr.Resource.Aud}
	if sr.Resource.Aud == scenario.GraphAudience {
		c.Roles = append([]string(nil), sp.Roles...)
	}
	at, err := s.iss.Sign(c, accessTokenLifetime)
	if err != nil {
		return nil, aad(9002313, errCtx{Detail: err.Error()})
	}
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: int(accessTokenLifetime / time.Second),
		ExtExpiresIn: int(accessTokenLifetime / time.Second), AccessToken: at}, nil
}

// servicePrincipal is the app's service principal in tenant. In the app's home (partner) tenant
// registering the app creates it, so it is created on first use if the directory lacks it.
func (s *Service) servicePrincipal(tenant tenantRef, app *directory.Application) (directory.ServicePrincipal, *aadError) {
	if sp, ok := s.dir.ServicePrincipal(tenant.ID, app.AppID); ok {
		return sp, nil
	}
	if tenant.Partner {
		if sp, _, err := s.dir.Grant(tenant.ID, app.AppID, "home"); err == nil {
			return sp, nil
		}
	}
	return directory.ServicePrincipal{}, aad(7000229, errCtx{App: app.AppID, AppName: app.DisplayName, Tenant: tenant.ID, TenantName: tenant.Name})
}

// authCodeGrant redeems an authorization code: single use, 10 minutes, bound to client,
// redirect URI, tenant and (PKCE) code challenge; a registered app must authenticate.
func (s *Service) authCodeGrant(r *http.Request, base string, tenant tenantRef) (*tokenResponse, *aadError) {
	code, e := required(r, "code")
	if e != nil {
		return nil, e
	}
	clientID, e := required(r, "client_id")
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	ac, ok := s.codes[code]
	var c authCode
	if ok {
		c = *ac
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, aad(70000, errCtx{Detail: "The provided value for the 'code' parameter is not valid."})
	case c.Used:
		return nil, aad(54005, errCtx{})
	case s.now().After(c.Expires):
		return nil, aad(70008, errCtx{})
	case !strings.EqualFold(c.ClientID, clientID):
		return nil, aad(70000, errCtx{Detail: "The code was issued to a different client."})
	case tenant.Meta == "" && tenant.ID != c.TenantID:
		return nil, aad(700005, errCtx{})
	}
	redirectURI, e := required(r, "redirect_uri")
	if e != nil {
		return nil, e
	}
	if redirectURI != c.RedirectURI {
		return nil, aad(500112, errCtx{Detail: redirectURI})
	}
	if c.Challenge != "" {
		verifier, e := required(r, "code_verifier")
		if e != nil {
			return nil, e
		}
		if !verifyPKCE(c.Method, c.Challenge, verifier) {
			return nil, aad(501481, errCtx{})
		}
	}
	cl, _ := s.client(clientID)
	authenticated := false
	if cl.App != nil {
		// The assertion's aud is the token endpoint the client called (tenant as in the path).
		if authenticated, e = s.authenticateClient(r, cl.App, tenant, true); e != nil {
			return nil, e
		}
	}
	s.mu.Lock()
	if ac.Used { // lost a race with a concurrent redemption
		s.mu.Unlock()
		return nil, aad(54005, errCtx{})
	}
	ac.Used = true
	s.mu.Unlock()

	sess := &session{User: c.User, MFA: c.MFA, AuthTime: c.AuthTime, ClientID: cl.ID, AppName: cl.Name, Confidential: authenticated, Gen: c.Gen}
	scope := r.PostForm.Get("scope")
	if scope == "" {
		scope = c.Scope
	}
	granted, _ := parseScopes(c.Scope, cl.ID, errCtx{})
	return s.issueDelegated(r, base, sess, s.tenantByID(c.TenantID), scope, granted.Offline, c.Nonce)
}

// refreshGrant redeems a refresh token, possibly for another resource or (a partner user
// through GDAP) another tenant, and always answers with a new refresh token.
func (s *Service) refreshGrant(r *http.Request, base string, tenant tenantRef) (*tokenResponse, *aadError) {
	raw, e := required(r, "refresh_token")
	if e != nil {
		return nil, e
	}
	clientID, e := required(r, "client_id")
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	rt, ok := s.refresh[raw]
	var cp refreshToken
	var rv revocation
	if ok {
		cp = *rt
		rv = s.revoked[rt.Session.User.ID]
	}
	s.mu.Unlock()
	if !ok {
		return nil, aad(9002313, errCtx{Detail: "The refresh token is malformed or was not issued by this authority."})
	}
	sess := cp.Session
	if !strings.EqualFold(sess.ClientID, clientID) {
		return nil, aad(70000, errCtx{Detail: "The refresh token was issued to a different client."})
	}
	target := tenant
	if tenant.Meta != "" {
		target = s.tenantByID(cp.TenantID)
	}
	if cl, _ := s.client(clientID); sess.Confidential && cl.App != nil {
		if _, e := s.authenticateClient(r, cl.App, tenant, true); e != nil {
			return nil, e
		}
	}
	now := s.now()
	if now.Sub(cp.LastUsed) > refreshInactivity {
		return nil, aad(700082, errCtx{Issued: cp.Issued})
	}
	if rv.gen > sess.Gen {
		return nil, aad(50173, errCtx{Issued: cp.Issued, ValidFrom: rv.at})
	}
	// The user's current state decides (an injected sign-in error applies to refreshes too).
	u, ok := s.lookupUser(sess.User.ID)
	if !ok {
		u, ok = s.lookupUser(sess.User.UPN)
	}
	if !ok {
		return nil, aad(50034, errCtx{UPN: sess.User.UPN, TenantName: target.Name})
	}
	scope := r.PostForm.Get("scope")
	if scope == "" {
		scope = cp.Scope
	}
	sr, e := parseScopes(scope, clientID, errCtx{App: clientID, AppName: sess.AppName, Tenant: target.ID, TenantName: target.Name})
	if e != nil {
		return nil, e
	}
	if e := s.checkSignIn(u, target, clientID, sess.AppName, sr.audience().Aud); e != nil {
		return nil, e
	}
	s.mu.Lock()
	rt.LastUsed = now
	s.mu.Unlock()
	return s.issueDelegated(r, base, sess, target, scope, true, "")
}

// issueDelegated answers a delegated grant: access token for the scope's resource, id_token
// when openid was asked for, refresh token when offline access was granted, client_info when
// the client asked for it (MSAL builds the account's home id from it).
func (s *Service) issueDelegated(r *http.Request, base string, sess *session, tenant tenantRef, scope string, offline bool, nonce string) (*tokenResponse, *aadError) {
	sr, e := parseScopes(scope, sess.ClientID, errCtx{App: sess.ClientID, AppName: sess.AppName, Tenant: tenant.ID, TenantName: tenant.Name})
	if e != nil {
		return nil, e
	}
	u := sess.User
	issuer := base + "/" + tenant.ID + "/v2.0"
	sub := pairwiseSubject(u.ID, sess.ClientID)
	amr := []string{"pwd"}
	if sess.MFA {
		amr = append(amr, "mfa")
	}
	scopes := sr.delegatedScopes()
	var wids []string
	if u.Partner && tenant.T != nil {
		// A partner user in a customer tenant acts through GDAP: the roles are those of the active
		// relationships' access assignments for a group the user is in, carried in "wids"
		// (https://learn.microsoft.com/graph/api/resources/delegatedadminaccessassignment).
		if u.GDAPAgent {
			wids = tenant.T.AgentRoles(s.now())
		}
		// The delegated scopes are those the tenant granted the app (Partner Center consent's
		// oauth2PermissionGrant), not the app's configuration in the partner tenant.
		if sp, ok := s.dir.ServicePrincipal(tenant.ID, sess.ClientID); ok && sp.DelegatedScopes != nil && sr.audience().AppID == scenario.GraphAppID {
			scopes = grantedScopes(sr, sp.DelegatedScopes)
		}
	} else if u.Partner && sr.audience().AppID == scenario.GraphAppID {
		// In the partner tenant the app's delegated scopes include what an admin granted there
		// (tenantsync register's oauth2PermissionGrant: Mail.Send for the consent mails).
		if sp, ok := s.dir.ServicePrincipal(tenant.ID, sess.ClientID); ok && len(sp.DelegatedScopes) > 0 {
			scopes = unionScopes(scopes, grantedScopes(sr, sp.DelegatedScopes))
		}
	}
	c := token.Claims{TenantID: tenant.ID, ObjectID: u.ID, AppID: sess.ClientID, AZP: sess.ClientID,
		Scope: strings.Join(scopes, " "), AMR: amr, UPN: u.UPN, Username: u.UPN, Name: u.Name, Wids: wids}
	c.Issuer, c.Subject = issuer, sub
	c.Audience = jwt.ClaimStrings{sr.audience().Aud}
	at, err := s.iss.Sign(c, accessTokenLifetime)
	if err != nil {
		return nil, aad(9002313, errCtx{Detail: err.Error()})
	}
	resp := &tokenResponse{TokenType: "Bearer", Scope: strings.Join(sr.Requested, " "), ExpiresIn: int(accessTokenLifetime / time.Second),
		ExtExpiresIn: int(accessTokenLifetime / time.Second), AccessToken: at}
	if sr.OpenID {
		idc := token.Claims{TenantID: tenant.ID, ObjectID: u.ID, Username: u.UPN, Name: u.Name, Nonce: nonce}
		groupClaims(&idc, u, base)
		idc.Issuer, idc.Subject = issuer, sub
		idc.Audience = jwt.ClaimStrings{sess.ClientID}
		if resp.IDToken, err = s.iss.Sign(idc, time.Hour); err != nil {
			return nil, aad(9002313, errCtx{Detail: err.Error()})
		}
	}
	if offline {
		resp.RefreshToken = s.newRefreshToken(sess, tenant.ID, scope)
	}
	if r.PostForm.Get("client_info") == "1" {
		b, _ := json.Marshal(map[string]string{"uid": u.ID, "utid": u.HomeTenant})
		resp.ClientInfo = base64.RawURLEncoding.EncodeToString(b)
	}
	return resp, nil
}

func (s *Service) newRefreshToken(sess *session, tenantID, scope string) string {
	v := "1.A" + randomString(96)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh[v] = &refreshToken{Session: sess, TenantID: tenantID, Scope: scope, Issued: now, LastUsed: now}
	return v
}

// pairwiseSubject is sub as Entra makes it: stable per user and app, different across apps.
func pairwiseSubject(userID, clientID string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(userID) + "|" + strings.ToLower(clientID)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// randomString is n characters of base64url randomness.
func randomString(n int) string {
	b := make([]byte, (n*3+3)/4)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// passwordGrant is the resource owner password flow (azidentity's UsernamePasswordCredential).
// Scenario users have no passwords, so any non-empty one is accepted; the sign-in cannot
// include MFA (amr is ["pwd"]) and fails like any other with the user's injected error.
func (s *Service) passwordGrant(r *http.Request, base string, tenant tenantRef) (*tokenResponse, *aadError) {
	upn, e := required(r, "username")
	if e != nil {
		return nil, e
	}
	if _, e := required(r, "password"); e != nil {
		return nil, e
	}
	clientID, e := required(r, "client_id")
	if e != nil {
		return nil, e
	}
	cl, ok := s.client(clientID)
	if !ok {
		return nil, aad(700016, errCtx{App: clientID, TenantName: tenantLabel(tenant)})
	}
	authenticated := false
	if cc, _ := presentedCredential(r); cc.present() && cl.App != nil {
		if authenticated, e = s.authenticateClient(r, cl.App, tenant, true); e != nil {
			return nil, e
		}
	}
	u, ok := s.lookupUser(upn)
	if !ok {
		return nil, aad(50034, errCtx{UPN: upn, TenantName: tenantLabel(tenant)})
	}
	landed := s.signInTenant(u, tenant)
	scope := r.PostForm.Get("scope")
	sr, e := parseScopes(scope, cl.ID, errCtx{App: cl.ID, AppName: cl.Name, Tenant: landed.ID, TenantName: landed.Name})
	if e != nil {
		return nil, e
	}
	if e := s.checkSignIn(u, landed, cl.ID, cl.Name, sr.audience().Aud); e != nil {
		return nil, e
	}
	s.mu.Lock()
	gen := s.revoked[u.ID].gen
	s.mu.Unlock()
	sess := &session{User: u, AuthTime: s.now(), ClientID: cl.ID, AppName: cl.Name, Confidential: authenticated, Gen: gen}
	return s.issueDelegated(r, base, sess, landed, scope, sr.Offline, "")
}

// maxTokenGroups is how many groups Entra puts in a JWT; beyond it the token carries the groups
// overage claim pointing at Graph instead ("Groups overage claim" in the ID token claims
// reference, https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference).
// The simulator emits groups for every partner user who has any; in Entra the sign-in app
// registration's groupMembershipClaims setting decides (it must include security groups).
const maxTokenGroups = 200

func groupClaims(c *token.Claims, u user, base string) {
	if len(u.Groups) == 0 {
		return
	}
	if len(u.Groups) > maxTokenGroups {
		c.ClaimNames = map[string]string{"groups": "src1"}
		c.ClaimSources = map[string]any{"src1": map[string]string{"endpoint": base + "/" + u.HomeTenant + "/users/" + u.ID + "/getMemberObjects"}}
		return
	}
	c.Groups = append([]string(nil), u.Groups...)
}

// grantedScopes is scp for a tenant whose consent is an oauth2PermissionGrant: `.default` asks for
// every granted scope, a named scope is issued only when granted.
func grantedScopes(sr scopeRequest, granted []string) []string {
	var out []string
	for _, p := range sr.Perms {
		if p == ".default" {
			return append([]string(nil), granted...)
		}
		if slices.Contains(granted, p) {
			out = append(out, p)
		}
	}
	return out
}

func unionScopes(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.ContainsFunc(out, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}
