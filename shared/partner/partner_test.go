package partner_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/partner"
	"github.com/tenantsync/tenantsync/shared/pcclient"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/secrets"
)

// Connect end to end: /api/connect's URL → the simulator's authorize page as the MFA service
// account → the 302 back → Callback. Then Token for Partner Center (used against the simulated
// Partner Center), refresh-token rotation, caching, KeepAlive, and the secret scan.
func TestConnectEndToEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()

	// The authorize URL: every parameter of the auth code + PKCE request.
	start := time.Now()
	raw := h.connectURL()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimRight(h.ep.AuthorityHost, "/") + "/" + h.ep.PartnerTenantID + "/oauth2/v2.0/authorize"; u.Scheme+"://"+u.Host+u.Path != want {
		t.Errorf("authorize endpoint %s, want %s", u.Scheme+"://"+u.Host+u.Path, want)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"client_id": scenario.DemoAppID, "response_type": "code", "redirect_uri": publicBaseURL + "/api/connect/callback",
		"response_mode": "query", "scope": "https://api.partnercenter.microsoft.com/user_impersonation offline_access openid profile",
		"prompt": "login", "code_challenge_method": "S256",
	} {
		if q.Get(k) != want {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), want)
		}
	}
	sc := stateClaims(t, q.Get("state"))
	if _, err := h.signer.Verify(q.Get("state"), oauthstate.PurposeConnect); err != nil {
		t.Errorf("state does not verify: %v", err)
	}
	if sc.Purpose != oauthstate.PurposeConnect || sc.By != "admin@contosomsp.onmicrosoft.com" ||
		sc.Expires.Before(start.Add(9*time.Minute)) || sc.Expires.After(time.Now().Add(10*time.Minute+time.Second)) {
		t.Errorf("state claims %+v: want purpose connect, by the admin, ~10 minutes", sc)
	}
	if q.Get("code_challenge") != oauthstate.PKCEChallenge(h.signer.PKCEVerifier(sc.Nonce)) {
		t.Error("code_challenge is not the S256 challenge of the verifier derived from the state's nonce")
	}

	// The sign-in and the callback.
	back := h.authorize(raw, scenario.DemoServiceAccountUPN, nil)
	if back.Get("code") == "" || back.Get("state") != q.Get("state") {
		t.Fatalf("Entra's redirect carries code=%v and the same state=%v", back.Get("code") != "", back.Get("state") == q.Get("state"))
	}
	before := time.Now()
	rec, err := h.callback(back)
	if err != nil {
		t.Fatalf("callback: %v", err)
	}
	if !rec.Connected || rec.ConnectedBy != scenario.DemoServiceAccountUPN || rec.ConnectedAt.Before(before.Add(-time.Second)) || rec.ErrorCode != "" {
		t.Errorf("record after connect: %+v", rec)
	}
	// The refresh token is in the simulator's Key Vault (read back through azsecrets) and the
	// Partner table names the user.
	rt1, err := h.refreshToken()
	if err != nil || rt1 == "" {
		t.Fatalf("refresh token in Key Vault: %v", err)
	}
	rows := h.tableRows()["Partner"]
	if len(rows) != 1 || !strings.Contains(rows[0], scenario.DemoServiceAccountUPN) {
		t.Errorf("Partner table rows: %v", rows)
	}
	if got := h.record(); got.ConnectedBy != rec.ConnectedBy || !got.Connected {
		t.Errorf("stored record %+v", got)
	}

	// Token: a delegated Partner Center token with MFA, accepted by Partner Center; the
	// redemption rotated the stored refresh token.
	tok, err := h.token(cloud.PartnerCenterScope)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	claims := jwtPayload(t, tok)
	if claims["aud"] != "https://api.partnercenter.microsoft.com" || !strings.EqualFold(claims["tid"].(string), h.ep.PartnerTenantID) ||
		!slices.Contains(anyStrings(claims["amr"]), "mfa") || claims["upn"] != scenario.DemoServiceAccountUPN {
		t.Errorf("Partner Center token claims: aud=%v tid=%v amr=%v upn=%v", claims["aud"], claims["tid"], claims["amr"], claims["upn"])
	}
	hc, _ := h.ep.HTTPClient()
	pc := &pcclient.Client{BaseURL: h.ep.PartnerCenterURL, HTTP: hc, Token: func(ctx context.Context) (string, error) { return h.token(cloud.PartnerCenterScope) }}
	customers, err := pc.Customers(ctx)
	if err != nil || len(customers) == 0 {
		t.Fatalf("Partner Center with the delegated token: %d customers, %v", len(customers), err)
	}
	rt2, _ := h.refreshToken()
	if rt2 == "" || rt2 == rt1 {
		t.Error("Token did not store the rotated refresh token")
	}
	// Cached: the same token again, no redemption.
	n := h.redeems.token.Load()
	if again, err := h.token(cloud.PartnerCenterScope); err != nil || again != tok || h.redeems.token.Load() != n {
		t.Errorf("second Token: same=%v err=%v redemptions=%d: want the cached token", again == tok, err, h.redeems.token.Load()-n)
	}
	// Near expiry (the token lives ~1 h; renewed 5 minutes early) it is redeemed again.
	h.clock.Advance(56 * time.Minute)
	tok2, err := h.token(cloud.PartnerCenterScope)
	if err != nil || tok2 == tok || h.redeems.token.Load() != n+1 {
		t.Errorf("Token near expiry: new=%v err=%v", tok2 != tok, err)
	}
	rt3, _ := h.refreshToken()
	if rt3 == rt2 {
		t.Error("the second redemption did not rotate the refresh token")
	}
	// Another scope is cached separately.
	if g, err := h.token(cloud.GraphScope); err != nil || jwtPayload(t, g)["aud"] != "https://graph.microsoft.com" {
		t.Errorf("Graph token: %v", err)
	}

	// KeepAlive rotates and records LastRefreshAt.
	h.clock.Advance(24 * time.Hour)
	rtBefore, _ := h.refreshToken()
	if err := h.svc.KeepAlive(ctx); err != nil {
		t.Fatalf("KeepAlive: %v", err)
	}
	rtAfter, _ := h.refreshToken()
	if rtAfter == "" || rtAfter == rtBefore {
		t.Error("KeepAlive did not rotate the refresh token")
	}
	if got := h.record(); !got.Connected || got.LastRefreshAt.Before(h.clock.Now().Add(-time.Minute)) || got.ConnectedBy != scenario.DemoServiceAccountUPN {
		t.Errorf("record after KeepAlive: %+v (LastRefreshAt must be the keep-alive's time)", got)
	}
	if v := h.refreshTokenVersions(); len(v) < 5 {
		t.Errorf("vault holds %d versions; connect, three redemptions and the keep-alive each stored one", len(v))
	}
	h.scanForSecrets()
}

func anyStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// Forged, tampered, wrong-purpose, malformed, expired and replayed states are refused with a
// clear message, before the code is redeemed, and nothing is stored.
func TestCallbackRejectsBadStates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	// A forger with another key builds the whole request, PKCE included, and gets a real code
	// from Entra for the service account: the state still gives it away.
	forger, _ := oauthstate.NewSigner([]byte("ffffffffffffffffffffffffffffffffffffffff"), nil)
	forged, _ := forger.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConnect, Nonce: "forged-nonce", Expires: time.Now().Add(time.Hour)})
	u, _ := url.Parse(h.connectURL())
	q := u.Query()
	q.Set("state", forged)
	q.Set("code_challenge", oauthstate.PKCEChallenge(forger.PKCEVerifier("forged-nonce")))
	u.RawQuery = q.Encode()
	forgedBack := h.authorize(u.String(), scenario.DemoServiceAccountUPN, nil)

	// A genuine answer whose state is then altered (the payload re-encoded with another nonce
	// and requester, the signature kept).
	genuine := h.authorize(h.connectURL(), scenario.DemoServiceAccountUPN, nil)
	payload, sig, _ := strings.Cut(genuine.Get("state"), ".")
	other, _ := h.signer.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConnect, Nonce: "other", Expires: time.Now().Add(time.Hour), By: "mallory"})
	otherPayload, _, _ := strings.Cut(other, ".")
	tampered := cloneQuery(genuine)
	tampered.Set("state", otherPayload+"."+sig)
	flipped := cloneQuery(genuine)
	flipped.Set("state", payload+"."+flipLast(sig))

	// A state for another purpose (an admin-consent link), signed with the right key.
	consentState, _ := h.signer.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConsent, TenantID: scenario.DemoContosoDental, Expires: time.Now().Add(time.Hour)})
	wrongPurpose := cloneQuery(genuine)
	wrongPurpose.Set("state", consentState)

	cases := []struct {
		name  string
		query url.Values
		code  string
		cause error
		words string
	}{
		{"forged", forgedBack, "StateForged", oauthstate.ErrSignature, "forged or altered"},
		{"tampered payload", tampered, "StateForged", oauthstate.ErrSignature, "forged or altered"},
		{"tampered signature", flipped, "StateForged", oauthstate.ErrSignature, "forged or altered"},
		{"other purpose", wrongPurpose, "StateWrongPurpose", oauthstate.ErrPurpose, "other than connecting"},
		{"no state", url.Values{"code": {genuine.Get("code")}}, "StateMalformed", oauthstate.ErrMalformed, "no state tenantsync issued"},
		{"garbage state", url.Values{"code": {genuine.Get("code")}, "state": {"not.a.state.at.all"}}, "StateMalformed", oauthstate.ErrMalformed, "no state tenantsync issued"},
		{"repeated state", url.Values{"code": {genuine.Get("code")}, "state": {genuine.Get("state"), forged}}, "MalformedCallback", nil, "repeats a parameter"},
	}
	for _, c := range cases {
		n := h.redeems.token.Load()
		rec, err := h.callback(c.query)
		var pe *domain.Problem
		if !errors.As(err, &pe) || pe.Code != c.code || !strings.Contains(pe.Message, c.words) || pe.Remediation == "" ||
			(c.cause != nil && !errors.Is(err, c.cause)) || rec.Connected {
			t.Errorf("%s: got %v (record %+v), want %s mentioning %q", c.name, err, rec, c.code, c.words)
		}
		h.assertNothingStored(n, false)
	}

	// Expired: a genuine answer presented after the state's 10 minutes (the signer's clock).
	late := h.authorize(h.connectURL(), scenario.DemoServiceAccountUPN, nil)
	h.clock.Advance(partner.StateTTL + time.Second)
	n := h.redeems.token.Load()
	_, err := h.callback(late)
	var pe *domain.Problem
	if !errors.As(err, &pe) || pe.Code != "StateExpired" || !errors.Is(err, oauthstate.ErrExpired) || !strings.Contains(pe.Message, "expired") {
		t.Errorf("expired: %v", err)
	}
	h.assertNothingStored(n, false)
	h.clock.Advance(-partner.StateTTL - time.Second)

	// Replayed: the untouched genuine answer connects once; presenting it again is refused
	// before redemption and changes nothing.
	if _, err := h.callback(genuine); err != nil {
		t.Fatalf("the genuine answer: %v", err)
	}
	versions := h.refreshTokenVersions()
	recBefore := h.record()
	n = h.redeems.token.Load()
	_, err = h.callback(genuine)
	if !errors.As(err, &pe) || pe.Code != "StateReplayed" || !errors.Is(err, oauthstate.ErrReplayed) || !strings.Contains(pe.Message, "already used") {
		t.Errorf("replayed: %v", err)
	}
	if h.redeems.token.Load() != n || len(h.refreshTokenVersions()) != len(versions) || h.record() != recBefore {
		t.Error("a replayed answer redeemed a code or changed the vault or the record")
	}
	h.scanForSecrets()
}

func cloneQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func flipLast(s string) string {
	if s == "" {
		return "A"
	}
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}

// A sign-in without MFA is refused and nothing is stored: the MFA service account skipping MFA
// (sim_mfa=false) and the technician who has none.
func TestCallbackRejectsSignInWithoutMFA(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, c := range []struct {
		upn   string
		extra url.Values
	}{
		{scenario.DemoServiceAccountUPN, url.Values{"sim_mfa": {"false"}}},
		{scenario.DemoNoMFAUPN, nil},
	} {
		back := h.authorize(h.connectURL(), c.upn, c.extra)
		n := h.redeems.token.Load()
		rec, err := h.callback(back)
		var pe *domain.Problem
		if !errors.As(err, &pe) || pe.Code != "MFARequired" || !strings.Contains(pe.Message, "multi-factor") ||
			!strings.Contains(pe.Message, "Nothing was stored") || rec.Connected {
			t.Errorf("%s without MFA: %v", c.upn, err)
		}
		h.assertNothingStored(n, true)
	}
	// The same state cannot be retried after the rejection.
	back := h.authorize(h.connectURL(), scenario.DemoNoMFAUPN, nil)
	_, _ = h.callback(back)
	if _, err := h.callback(back); !errors.Is(err, oauthstate.ErrReplayed) {
		t.Errorf("retrying a rejected answer: %v", err)
	}
	h.assertNothingStored(0, true)
}

// A code from a customer tenant (the same client, redirect URI and PKCE challenge, signed in at
// the customer's authorize endpoint) presented with a valid state is refused; nothing stored.
func TestCallbackRejectsCodeFromAnotherTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ours := h.connectURL()
	u, _ := url.Parse(ours)
	u.Path = strings.Replace(u.Path, "/"+h.ep.PartnerTenantID+"/", "/"+scenario.DemoContosoDental+"/", 1)
	if !strings.Contains(u.Path, scenario.DemoContosoDental) {
		t.Fatalf("could not point %s at the customer tenant", u.Path)
	}
	back := h.authorize(u.String(), scenario.DemoServiceAccountUPN, nil)
	if back.Get("code") == "" {
		t.Fatalf("the customer tenant's authorize gave no code: %v", back)
	}
	n := h.redeems.token.Load()
	rec, err := h.callback(back)
	var pe *domain.Problem
	if !errors.As(err, &pe) || pe.Code != "WrongTenant" || !strings.Contains(pe.Message, "not the partner tenant") || rec.Connected {
		t.Errorf("code from a customer tenant: %v", err)
	}
	h.assertNothingStored(n, true)
}

// Entra's error redirect (?error=&error_description=&state=) is recorded on the partner record
// with the remedy code and fix; without a valid state it is not.
func TestCallbackRecordsEntraError(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// A literal access_denied, as Entra sends when the user cancels.
	state := mustQuery(t, h.connectURL()).Get("state")
	_, err := h.callback(url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: User declined to consent to access the app.\r\nTrace ID: x"}, "state": {state}})
	var pe *domain.Problem
	if !errors.As(err, &pe) || pe.Code != "AADSTS65004" || !strings.Contains(pe.Message, "declined") || !strings.Contains(pe.Remediation, "/api/connect") {
		t.Fatalf("access_denied: %v", err)
	}
	rec := h.record()
	if rec.Connected || rec.ErrorCode != "AADSTS65004" || !strings.Contains(rec.ErrorMessage, "declined") || rec.Remediation == "" {
		t.Errorf("record after access_denied: %+v", rec)
	}
	if v := h.refreshTokenVersions(); len(v) != 0 {
		t.Error("a refresh token was stored after an Entra error")
	}
	// Without a description: the OAuth error value is the code.
	state = mustQuery(t, h.connectURL()).Get("state")
	if _, err := h.callback(url.Values{"error": {"access_denied"}, "state": {state}}); !errors.As(err, &pe) || pe.Code != "access_denied" {
		t.Errorf("bare access_denied: %v", err)
	}
	if rec := h.record(); rec.ErrorCode != "access_denied" {
		t.Errorf("record: %+v", rec)
	}

	// The simulator's own error redirect: a user blocked by Conditional Access (53003).
	back := h.authorize(h.connectURL(), scenario.DemoBlockedUPN, nil)
	if back.Get("error") != "access_denied" {
		t.Fatalf("blocked user: Entra answered %v", back)
	}
	if _, err := h.callback(back); !errors.As(err, &pe) || pe.Code != "AADSTS53003" || !strings.Contains(pe.Remediation, "Conditional Access") {
		t.Errorf("blocked user: %v", err)
	}
	if rec := h.record(); rec.ErrorCode != "AADSTS53003" || rec.Connected {
		t.Errorf("record after the blocked sign-in: %+v", rec)
	}

	// An error with a forged state is not recorded (anyone can call the anonymous callback).
	before := h.record()
	if _, err := h.callback(url.Values{"error": {"access_denied"}, "error_description": {"<script>alert(1)</script>"}, "state": {"x.y"}}); !errors.Is(err, oauthstate.ErrMalformed) && !errors.Is(err, oauthstate.ErrSignature) {
		t.Errorf("forged error callback: %v", err)
	}
	if h.record() != before {
		t.Error("an error callback with a forged state changed the record")
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// A dead refresh token surfaces as "reconnect the partner account" with the reason, and marks the
// connection not connected: inactivity (AADSTS700082) through KeepAlive, revocation (AADSTS50173)
// through Token. Reconnecting recovers.
func TestRefreshFailuresAskToReconnect(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	h.connect(scenario.DemoServiceAccountUPN)
	if _, err := h.token(cloud.PartnerCenterScope); err != nil {
		t.Fatal(err)
	}

	// 90 days unused.
	h.sim.Entra.AgeRefreshTokens(91 * 24 * time.Hour)
	err := h.svc.KeepAlive(ctx)
	h.answer(err)
	checkReconnect(t, err, "AADSTS700082")
	rec := h.record()
	if rec.Connected || rec.ErrorCode != "AADSTS700082" || !strings.Contains(rec.Remediation, "reconnect the partner account (/api/connect)") ||
		!strings.Contains(rec.ErrorMessage, "inactivity") || rec.ConnectedBy != scenario.DemoServiceAccountUPN {
		t.Errorf("record after AADSTS700082: %+v", rec)
	}
	// Cached tokens went with the connection.
	_, err = h.token(cloud.PartnerCenterScope)
	checkReconnect(t, err, "AADSTS700082")

	// Reconnect; then the user's sessions are revoked (password reset).
	h.clock.Advance(time.Minute)
	h.connect(scenario.DemoServiceAccountUPN)
	if rec := h.record(); !rec.Connected || rec.ErrorCode != "" {
		t.Errorf("record after reconnecting: %+v", rec)
	}
	if _, err := h.token(cloud.PartnerCenterScope); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Entra.RevokeUserSessions(scenario.DemoServiceAccountUPN); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour) // past the cached token
	_, err = h.token(cloud.PartnerCenterScope)
	checkReconnect(t, err, "AADSTS50173")
	rec = h.record()
	if rec.Connected || rec.ErrorCode != "AADSTS50173" || !strings.Contains(rec.Remediation, "reconnect the partner account (/api/connect)") || !strings.Contains(rec.ErrorMessage, "revoked") {
		t.Errorf("record after AADSTS50173: %+v", rec)
	}
	// remedy.Classify (what other flows use to report failures) sees the same classification.
	if p := remedy.Classify(err); p.Code != "AADSTS50173" || !strings.Contains(p.Remediation, "reconnect the partner account") {
		t.Errorf("remedy.Classify: %+v", p)
	}
	h.scanForSecrets()
}

func checkReconnect(t *testing.T, err error, code string) {
	t.Helper()
	var pe *domain.Problem
	if !errors.As(err, &pe) || pe.Code != code || !errors.Is(err, partner.ErrNotConnected) ||
		!strings.Contains(err.Error(), "reconnect the partner account") || !strings.Contains(err.Error(), "partner account not connected") {
		t.Errorf("want %s asking to reconnect the partner account, got %v", code, err)
	}
}

// Without a stored refresh token, Token and KeepAlive say the partner account is not connected.
func TestTokenWithoutConnection(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, err := h.token(cloud.PartnerCenterScope)
	checkReconnect(t, err, partner.CodeNotConnected)
	if err := h.svc.KeepAlive(context.Background()); !errors.Is(err, partner.ErrNotConnected) {
		t.Errorf("KeepAlive without a connection: %v", err)
	}
	if _, err := h.refreshToken(); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("vault: %v", err)
	}
	rec := h.record()
	if rec.Connected || rec.ErrorCode != partner.CodeNotConnected || !strings.Contains(rec.Remediation, "reconnect the partner account (/api/connect)") {
		t.Errorf("record: %+v", rec)
	}
	if h.redeems.token.Load() != 0 {
		t.Error("the token endpoint was called without a refresh token")
	}
}

// Concurrent Token calls on a cold cache redeem the refresh token once.
func TestTokenConcurrentCallersRedeemOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.connect(scenario.DemoServiceAccountUPN)
	n := h.redeems.token.Load()
	errs := make(chan error, 8)
	toks := make(chan string, 8)
	for range 8 {
		go func() {
			tok, err := h.token(cloud.PartnerCenterScope)
			errs <- err
			toks <- tok
		}()
	}
	first := ""
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
		tok := <-toks
		if first == "" {
			first = tok
		} else if tok != first {
			t.Error("concurrent callers got different tokens")
		}
	}
	if got := h.redeems.token.Load() - n; got != 1 {
		t.Errorf("%d redemptions for 8 concurrent callers, want 1", got)
	}
}
