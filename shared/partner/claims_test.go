package partner

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/remedy"
)

// The simulator itself refuses a customer tenant's code at the partner tenant's token endpoint
// (AADSTS700005), so the service's own claim checks are exercised here with tokens built to break
// exactly one rule each.

const (
	testPartner  = "5ce257ad-9315-420b-900a-9d770d9cda65"
	testCustomer = "8ed1aad4-3aba-443c-ab88-c01a25f66cd3"
	testClient   = "7d1f3b52-4c1e-4a6b-9f3e-2b8c6d0a9e11"
)

func fakeJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + ".c2ln"
}

func TestCheckSignIn(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := New(Options{PartnerTenantID: testPartner, ClientID: testClient, Endpoints: cloud.Endpoints{AuthorityHost: "https://login.example/"}})
	access := func(mod func(map[string]any)) string {
		c := map[string]any{"tid": testPartner, "amr": []string{"pwd", "mfa"}, "upn": "svc@msp", "aud": "https://api.partnercenter.microsoft.com", "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return fakeJWT(c)
	}
	idTok := func(mod func(map[string]any)) string {
		c := map[string]any{"tid": testPartner, "aud": testClient, "iss": "https://login.example/" + testPartner + "/v2.0", "preferred_username": "svc@msp"}
		if mod != nil {
			mod(c)
		}
		return fakeJWT(c)
	}
	good := tokenResponse{TokenType: "Bearer", AccessToken: access(nil), IDToken: idTok(nil), RefreshToken: "rt"}
	if id, err := s.checkSignIn(&good, now); err != nil || id.User != "svc@msp" {
		t.Fatalf("good sign-in: %+v %v", id, err)
	}
	noID := good
	noID.IDToken = ""
	if id, err := s.checkSignIn(&noID, now); err != nil || id.User != "svc@msp" {
		t.Fatalf("without id_token: %+v %v", id, err)
	}
	for _, c := range []struct {
		name string
		mod  func(tr *tokenResponse)
		code string
	}{
		{"access token of a customer tenant", func(tr *tokenResponse) { tr.AccessToken = access(func(m map[string]any) { m["tid"] = testCustomer }) }, "WrongTenant"},
		{"access token without tid", func(tr *tokenResponse) { tr.AccessToken = access(func(m map[string]any) { delete(m, "tid") }) }, "WrongTenant"},
		{"id_token of a customer tenant", func(tr *tokenResponse) { tr.IDToken = idTok(func(m map[string]any) { m["tid"] = testCustomer }) }, "WrongTenant"},
		{"id_token from another authority", func(tr *tokenResponse) {
			tr.IDToken = idTok(func(m map[string]any) { m["iss"] = "https://login.example/" + testCustomer + "/v2.0" })
		}, "WrongTenant"},
		{"id_token for another app", func(tr *tokenResponse) { tr.IDToken = idTok(func(m map[string]any) { m["aud"] = "someone-else" }) }, "UnexpectedToken"},
		{"no mfa in amr", func(tr *tokenResponse) {
			tr.AccessToken = access(func(m map[string]any) { m["amr"] = []string{"pwd"} })
		}, "MFARequired"},
		{"no amr", func(tr *tokenResponse) { tr.AccessToken = access(func(m map[string]any) { delete(m, "amr") }) }, "MFARequired"},
		{"expired access token", func(tr *tokenResponse) {
			tr.AccessToken = access(func(m map[string]any) { m["exp"] = now.Add(-time.Minute).Unix() })
		}, "UnexpectedToken"},
		{"opaque access token", func(tr *tokenResponse) { tr.AccessToken = "opaque" }, "UnexpectedToken"},
		{"garbage id_token", func(tr *tokenResponse) { tr.IDToken = "a.%%%.c" }, "UnexpectedToken"},
		{"no refresh token", func(tr *tokenResponse) { tr.RefreshToken = "" }, "NoRefreshToken"},
	} {
		tr := good
		c.mod(&tr)
		_, err := s.checkSignIn(&tr, now)
		if err == nil || err.Code != c.code || !strings.Contains(err.Message, "Nothing was stored") || err.Remediation == "" {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
		for _, secret := range []string{tr.AccessToken, tr.IDToken, tr.RefreshToken} {
			if len(secret) > 3 && strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the rejection quotes a token", c.name)
			}
		}
	}
}

func TestErrorClassification(t *testing.T) {
	ee := &EntraError{Status: 400, Err: "invalid_grant", Description: "AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.", Codes: []int{70043}}
	e, reconnect := refreshFailure(ee)
	if !reconnect || e.Code != "AADSTS70043" || !errors.Is(e, ErrNotConnected) || !errors.Is(e, error(ee)) || !strings.Contains(e.Remediation, "reconnect the partner account (/api/connect)") {
		t.Errorf("70043: %+v reconnect=%v", e, reconnect)
	}
	if p := remedy.Classify(e); p.Code != "AADSTS70043" || p.Remediation != e.Remediation {
		t.Errorf("remedy.Classify: %+v", p)
	}
	// A description without the AADSTS prefix still classifies by error_codes.
	e, reconnect = refreshFailure(&EntraError{Status: 400, Err: "invalid_grant", Description: "The refresh token has expired due to inactivity.", Codes: []int{700082}})
	if !reconnect || e.Code != "AADSTS700082" {
		t.Errorf("700082 by error_codes: %+v", e)
	}
	// A transient failure is not a reason to reconnect.
	if _, reconnect := refreshFailure(errors.New("dial tcp: connection refused")); reconnect {
		t.Error("a network error asked to reconnect")
	}
	// Entra callback errors: bounded, flattened, classified.
	ce := entraCallbackError("access_denied", "AADSTS53003: Access has been blocked by Conditional Access policies.\r\nTrace ID: 1")
	if ce.Code != "AADSTS53003" || strings.Contains(ce.Message, "Trace ID") {
		t.Errorf("53003: %+v", ce)
	}
	ce = entraCallbackError("<b>", strings.Repeat("x", 5000)+"\x00")
	if ce.Code != "invalid_request" || len(ce.Message) > 700 || strings.ContainsRune(ce.Message, 0) {
		t.Errorf("hostile error parameters: code %q, message of %d bytes", ce.Code, len(ce.Message))
	}
}
