package entra

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// authCode is an issued authorization code.
type authCode struct {
	ClientID          string
	RedirectURI       string
	TenantID          string // the tenant the user signed in to
	User              user
	MFA               bool
	Scope             string
	Nonce             string
	Challenge, Method string
	AuthTime, Expires time.Time
	Gen               int
	Used              bool
}

// verifyPKCE checks a code_verifier against the code_challenge (RFC 7636): S256 compares
// BASE64URL(SHA256(verifier)), plain compares the strings.
func verifyPKCE(method, challenge, verifier string) bool {
	var got string
	switch strings.ToUpper(method) {
	case "S256":
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	case "", "PLAIN":
		got = verifier
	default:
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// authorizeError is the OAuth error value the authorize endpoint redirects with for a failed
// sign-in (the token endpoint says invalid_grant for the same codes).
func authorizeError(e *aadError) *aadError {
	switch e.Code {
	case 50076, 50079, 50173, 70043:
		return e.as("interaction_required")
	case 65001:
		return e.as("consent_required")
	case 53003, 65004:
		return e.as("access_denied")
	case 50058:
		return e
	}
	return e.as("invalid_request")
}

// authorize serves GET/POST /{tenant}/oauth2/v2.0/authorize (response_type=code). Without
// sim_user it shows a sign-in page (choose a partner user, MFA or not) that posts back here.
// Errors before the redirect URI is validated are shown as a page, after that they go back to
// the client as ?error=&error_description=&state=.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request) {
	ids := newReqIDs(r, s.now())
	seg := r.PathValue("tenant")
	observe(r, strings.ToLower(seg), r.Method+" /authorize")
	_ = r.ParseForm()
	q := r.Form
	tenant, aerr := s.resolveTenant(seg)
	if aerr != nil {
		errorPageFor(w, ids, aerr)
		return
	}
	if tenant.ID != "" {
		observe(r, tenant.ID, "")
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		errorPageFor(w, ids, aad(900144, errCtx{Detail: "client_id"}))
		return
	}
	cl, ok := s.client(clientID)
	if !ok {
		errorPageFor(w, ids, aad(700016, errCtx{App: clientID, TenantName: tenantLabel(tenant)}))
		return
	}
	redirectURI, ok := cl.redirect(q.Get("redirect_uri"))
	if !ok {
		errorPageFor(w, ids, aad(50011, errCtx{App: cl.ID, Detail: q.Get("redirect_uri")}))
		return
	}
	mode := q.Get("response_mode")
	if mode == "" {
		mode = "query"
	}
	state := q.Get("state")
	fail := func(e *aadError) { redirectError(w, r, redirectURI, mode, state, ids, e) }

	if rt := q.Get("response_type"); rt != "code" {
		fail(&aadError{Code: 700054, Err: "unsupported_response_type", Status: 400,
			Message: "response_type '" + rt + "' is not enabled for the application."})
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" && method == "" {
		method = "plain"
	}
	if m := strings.ToUpper(method); m != "" && m != "S256" && m != "PLAIN" {
		fail(aad(9002313, errCtx{Detail: "Invalid code_challenge_method."}))
		return
	}
	scope := q.Get("scope")
	if scope == "" {
		fail(aad(900144, errCtx{Detail: "scope"}))
		return
	}
	sr, e := parseScopes(scope, cl.ID, errCtx{App: cl.ID, AppName: cl.Name, Tenant: tenant.ID, TenantName: tenantLabel(tenant)})
	if e != nil {
		fail(e)
		return
	}

	upn, mfaChoice := q.Get("sim_user"), q.Get("sim_mfa")
	if r.Method == http.MethodPost {
		if q.Get("action") == "cancel" {
			fail(aad(65004, errCtx{}).as("access_denied"))
			return
		}
		// The free-text account wins over the list (it is empty unless someone typed).
		upn = strings.TrimSpace(q.Get("user"))
		if upn == "" {
			upn = q.Get("login")
		}
		mfaChoice = "false"
		if q.Get("mfa") != "" {
			mfaChoice = "true"
		}
	}
	if upn == "" {
		if q.Get("prompt") == "none" {
			fail(aad(50058, errCtx{}))
			return
		}
		s.signInPage(w, r, cl, tenant, q.Get("login_hint"))
		return
	}
	u, ok := s.lookupUser(upn)
	if !ok {
		fail(aad(50034, errCtx{UPN: upn, TenantName: tenantLabel(tenant)}).as("invalid_request"))
		return
	}
	mfa := u.MFA
	switch strings.ToLower(mfaChoice) {
	case "false", "0", "no":
		mfa = false
	case "true", "1", "yes":
		mfa = true
	}
	landed := s.signInTenant(u, tenant)
	if e := s.checkSignIn(u, landed, cl.ID, cl.Name, sr.audience().Aud); e != nil {
		fail(authorizeError(e))
		return
	}
	now := s.now()
	code := "1.A" + randomString(120)
	s.mu.Lock()
	s.codes[code] = &authCode{ClientID: cl.ID, RedirectURI: redirectURI, TenantID: landed.ID, User: u, MFA: mfa,
		Scope: scope, Nonce: q.Get("nonce"), Challenge: challenge, Method: method, AuthTime: now,
		Expires: now.Add(authCodeLifetime), Gen: s.revoked[u.ID].gen}
	s.pruneLocked()
	s.mu.Unlock()
	v := url.Values{}
	v.Set("code", code)
	if state != "" {
		v.Set("state", state)
	}
	v.Set("session_state", pairwiseSubject(u.ID, "session")[:36])
	respond(w, redirectURI, mode, v)
}

func tenantLabel(t tenantRef) string {
	if t.Name != "" {
		return t.Name
	}
	return t.Segment
}

var signInTmpl = template.Must(template.New("signin").Parse(`
<p>to continue to <b>{{.App}}</b>{{if .Tenant}} in <b>{{.Tenant}}</b>{{end}}</p>
<form method="POST" action="{{.Action}}">
<label for="login">Account</label>
<select id="login" name="login" onchange="document.getElementById('mfa').checked=this.selectedOptions[0].dataset.mfa==='true'">
{{range .Users}}<option value="{{.UPN}}" data-mfa="{{.MFA}}"{{if .Selected}} selected{{end}}>{{.Name}} ({{.UPN}}){{if .Err}} - sign-in fails: AADSTS{{.Err}}{{end}}</option>
{{end}}</select>
<label class="small">or another account (a customer tenant's user)</label>
<input type="text" name="user" placeholder="someone@customer.onmicrosoft.com">
<label><input type="checkbox" id="mfa" name="mfa" value="true"{{if .MFA}} checked{{end}}> Complete multi-factor authentication (Microsoft Authenticator)</label>
<button class="primary" type="submit" name="action" value="signin">Sign in</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form>`))

type userOption struct {
	UPN, Name, Err string
	MFA, Selected  bool
}

func (s *Service) userOptions(hint string) ([]userOption, bool) {
	var opts []userOption
	mfa := false
	for i, u := range s.partnerUsers() {
		sel := strings.EqualFold(u.UPN, hint) || (hint == "" && i == 0)
		if sel {
			mfa = u.MFA
		}
		opts = append(opts, userOption{UPN: u.UPN, Name: u.Name, Err: u.SignInError, MFA: u.MFA, Selected: sel})
	}
	return opts, mfa
}

func (s *Service) signInPage(w http.ResponseWriter, r *http.Request, cl client, tenant tenantRef, hint string) {
	users, mfa := s.userOptions(hint)
	page(w, http.StatusOK, "Sign in", render(signInTmpl, struct {
		App, Tenant, Action string
		Users               []userOption
		MFA                 bool
	}{cl.Name, tenant.Name, r.URL.RequestURI(), users, mfa}))
}
