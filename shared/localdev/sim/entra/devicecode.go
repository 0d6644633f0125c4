package entra

import (
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// deviceAuth is one device authorization (RFC 8628) in progress.
type deviceAuth struct {
	DeviceCode, UserCode string
	ClientID, AppName    string
	Tenant               tenantRef // as the device asked (may be organizations)
	Scope                string
	Expires              time.Time
	Status               string // pending, approved, declined, failed, redeemed
	User                 user
	MFA                  bool
	AuthTime             time.Time
	Gen                  int
	Landed               tenantRef // the tenant the user signed in to
	Err                  *aadError // the failed sign-in (Status failed)
}

const (
	devicePending  = "pending"
	deviceApproved = "approved"
	deviceDeclined = "declined"
	deviceFailed   = "failed"
	deviceRedeemed = "redeemed"
)

// deviceCode serves POST /{tenant}/oauth2/v2.0/devicecode. The device may be any registered
// app (the simulator treats them as allowing public client flows) or a first-party public
// client.
func (s *Service) deviceCode(w http.ResponseWriter, r *http.Request) {
	ids := newReqIDs(r, s.now())
	base := baseURL(r)
	seg := r.PathValue("tenant")
	observe(r, strings.ToLower(seg), "POST /devicecode")
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	_ = r.ParseForm()
	tenant, aerr := s.resolveTenant(seg)
	if aerr != nil {
		writeAADError(w, ids, base, aerr)
		return
	}
	if tenant.ID != "" {
		observe(r, tenant.ID, "")
	}
	clientID, aerr := required(r, "client_id")
	if aerr != nil {
		writeAADError(w, ids, base, aerr)
		return
	}
	cl, ok := s.client(clientID)
	if !ok {
		writeAADError(w, ids, base, aad(700016, errCtx{App: clientID, TenantName: tenantLabel(tenant)}))
		return
	}
	scope, aerr := required(r, "scope")
	if aerr != nil {
		writeAADError(w, ids, base, aerr)
		return
	}
	if _, aerr := parseScopes(scope, cl.ID, errCtx{App: cl.ID, AppName: cl.Name, Tenant: tenant.ID, TenantName: tenantLabel(tenant)}); aerr != nil {
		writeAADError(w, ids, base, aerr)
		return
	}
	now := s.now()
	d := &deviceAuth{DeviceCode: "DAQABAAEAAAD" + randomString(160), UserCode: newUserCode(), ClientID: cl.ID, AppName: cl.Name,
		Tenant: tenant, Scope: scope, Expires: now.Add(deviceCodeLifetime), Status: devicePending}
	s.mu.Lock()
	for s.userCode[d.UserCode] != "" {
		d.UserCode = newUserCode()
	}
	s.devices[d.DeviceCode] = d
	s.userCode[d.UserCode] = d.DeviceCode
	s.pruneLocked()
	s.mu.Unlock()
	uri := base + "/devicelogin"
	writeJSON(w, ids, http.StatusOK, map[string]any{
		"user_code":        d.UserCode,
		"device_code":      d.DeviceCode,
		"verification_uri": uri,
		"expires_in":       int(deviceCodeLifetime / time.Second),
		"interval":         5,
		"message":          fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", uri, d.UserCode),
	})
}

// newUserCode is 9 characters from an alphabet without look-alikes, like Entra's codes.
func newUserCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func normUserCode(c string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(c), "-", ""), " ", ""))
}

// deviceCodeGrant serves grant_type=urn:ietf:params:oauth:grant-type:device_code: MSAL polls
// while the answer is authorization_pending (400) and stops on anything else.
func (s *Service) deviceCodeGrant(r *http.Request, base string, tenant tenantRef) (*tokenResponse, *aadError) {
	dc := r.PostForm.Get("device_code")
	if dc == "" {
		dc = r.PostForm.Get("code")
	}
	if dc == "" {
		return nil, aad(900144, errCtx{Detail: "device_code"})
	}
	clientID, e := required(r, "client_id")
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	d, ok := s.devices[dc]
	var cp deviceAuth
	if ok {
		cp = *d
		if cp.Status == deviceApproved && !s.now().After(cp.Expires) && strings.EqualFold(cp.ClientID, clientID) {
			d.Status = deviceRedeemed
		}
	}
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, aad(70000, errCtx{Detail: "The provided value for the input parameter 'device_code' is not valid."})
	case !strings.EqualFold(cp.ClientID, clientID):
		return nil, aad(70000, errCtx{Detail: "The device code was issued to a different client."})
	case s.now().After(cp.Expires):
		return nil, aad(70019, errCtx{})
	}
	switch cp.Status {
	case devicePending:
		return nil, aad(70016, errCtx{})
	case deviceDeclined:
		return nil, aad(70020, errCtx{})
	case deviceFailed:
		return nil, cp.Err
	case deviceRedeemed:
		return nil, aad(70000, errCtx{Detail: "The device code has already been redeemed."})
	}
	sess := &session{User: cp.User, MFA: cp.MFA, AuthTime: cp.AuthTime, ClientID: cp.ClientID, AppName: cp.AppName, Gen: cp.Gen}
	granted, _ := parseScopes(cp.Scope, cp.ClientID, errCtx{})
	return s.issueDelegated(r, base, sess, cp.Landed, cp.Scope, granted.Offline, "")
}

// ErrDeviceCode is returned by ApproveDeviceCode / DeclineDeviceCode for a code that is
// unknown, expired or already answered.
var ErrDeviceCode = errors.New("entra: unknown, expired or already used device user code")

// ApproveDeviceCode signs upn in on the verification page for userCode, with or without MFA.
// A sign-in the directory refuses (the user's injected SignInError, no GDAP access to the
// tenant, a disabled account) is not an error here: the device's next poll receives it, as
// with Entra. Errors are for an unknown user or a code that cannot be approved.
func (s *Service) ApproveDeviceCode(userCode, upn string, mfa bool) error {
	u, ok := s.lookupUser(upn)
	if !ok {
		return errUnknownUser(upn)
	}
	s.mu.Lock()
	d := s.devices[s.userCode[normUserCode(userCode)]]
	if d == nil || d.Status != devicePending || s.now().After(d.Expires) {
		s.mu.Unlock()
		return ErrDeviceCode
	}
	cp := *d
	gen := s.revoked[u.ID].gen
	s.mu.Unlock()

	landed := s.signInTenant(u, cp.Tenant)
	sr, _ := parseScopes(cp.Scope, cp.ClientID, errCtx{})
	aerr := s.checkSignIn(u, landed, cp.ClientID, cp.AppName, sr.audience().Aud)

	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Status != devicePending {
		return ErrDeviceCode
	}
	if aerr != nil {
		d.Status, d.Err = deviceFailed, aerr
		return nil
	}
	d.Status, d.User, d.MFA, d.AuthTime, d.Landed, d.Gen = deviceApproved, u, mfa, s.now(), landed, gen
	return nil
}

// DeclineDeviceCode answers "No, cancel" on the verification page: the device's next poll gets
// authorization_declined.
func (s *Service) DeclineDeviceCode(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[s.userCode[normUserCode(userCode)]]
	if d == nil || d.Status != devicePending || s.now().After(d.Expires) {
		return ErrDeviceCode
	}
	d.Status = deviceDeclined
	return nil
}

var deviceLoginTmpl = template.Must(template.New("dl").Parse(`
<p>Enter the code displayed on your app or device, then choose the account to sign in with.</p>
<form method="POST" action="/devicelogin">
<label for="otc">Code</label>
<input type="text" id="otc" name="otc" value="{{.Code}}" autocomplete="off">
<label for="login">Account</label>
<select id="login" name="login" onchange="document.getElementById('mfa').checked=this.selectedOptions[0].dataset.mfa==='true'">
{{range .Users}}<option value="{{.UPN}}" data-mfa="{{.MFA}}"{{if .Selected}} selected{{end}}>{{.Name}} ({{.UPN}}){{if .Err}} - sign-in fails: AADSTS{{.Err}}{{end}}</option>
{{end}}</select>
<label class="small">or another account (a customer tenant's user)</label>
<input type="text" name="user" placeholder="someone@customer.onmicrosoft.com">
<label><input type="checkbox" id="mfa" name="mfa" value="true"{{if .MFA}} checked{{end}}> Complete multi-factor authentication</label>
<button class="primary" type="submit" name="action" value="approve">Continue</button>
<button type="submit" name="action" value="decline">No, cancel</button>
</form>`))

var deviceDoneTmpl = template.Must(template.New("dd").Parse(`<p>{{.}}</p>`))

// deviceLogin is the verification page (verification_uri): enter the code, pick the account.
func (s *Service) deviceLogin(w http.ResponseWriter, r *http.Request) {
	observe(r, "", r.Method+" /devicelogin")
	_ = r.ParseForm()
	if r.Method == http.MethodGet {
		users, mfa := s.userOptions("")
		page(w, http.StatusOK, "Enter code", render(deviceLoginTmpl, struct {
			Code  string
			Users []userOption
			MFA   bool
		}{r.Form.Get("otc"), users, mfa}))
		return
	}
	code := r.PostForm.Get("otc")
	if r.PostForm.Get("action") == "decline" {
		if err := s.DeclineDeviceCode(code); err != nil {
			page(w, http.StatusBadRequest, "Enter code", render(deviceDoneTmpl, "That code didn't work. Check the code and try again."))
			return
		}
		page(w, http.StatusOK, "Sign-in cancelled", render(deviceDoneTmpl, "You declined to sign in. You may now close this window."))
		return
	}
	upn := strings.TrimSpace(r.PostForm.Get("user"))
	if upn == "" {
		upn = r.PostForm.Get("login")
	}
	if err := s.ApproveDeviceCode(code, upn, r.PostForm.Get("mfa") != ""); err != nil {
		page(w, http.StatusBadRequest, "Enter code", render(deviceDoneTmpl, err.Error()))
		return
	}
	s.mu.Lock()
	d := s.devices[s.userCode[normUserCode(code)]]
	var msg string
	if d != nil && d.Err != nil {
		msg = d.Err.Error()
	} else if d != nil {
		msg = "You have signed in to the " + d.AppName + " application on your device. You may now close this window."
	}
	s.mu.Unlock()
	page(w, http.StatusOK, "Device sign-in", render(deviceDoneTmpl, msg))
}
