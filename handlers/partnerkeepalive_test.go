package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/partner"
	"github.com/tenantsync/tenantsync/shared/store"
)

// PartnerKeepAlive, invoked as the host fires the timer: before the partner account is connected
// it fails saying to connect it; connected, it redeems and rotates the refresh token in Key
// Vault; a payload without the timer binding fails without redeeming; after 90 days of
// inactivity (AADSTS700082) it fails saying to reconnect, and GET /api/partner says why. Every
// failure is in the log, and no token is in any answer or log line. Against the simulator's
// Entra ID and Key Vault (partnerEnv).
func TestPartnerKeepAlive(t *testing.T) {
	e := newPartnerEnv(t)
	var answers []string
	keep := func(r *httptest.ResponseRecorder) *httptest.ResponseRecorder {
		answers = append(answers, r.Body.String())
		return r
	}
	if err := e.store.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := keep(e.serve("POST", "/PartnerKeepAlive", nil, timerInvocation))
	if r.Code != http.StatusInternalServerError || !strings.Contains(r.Body.String(), "partner account not connected") {
		t.Errorf("not connected: %d %s", r.Code, r.Body.String())
	}
	var st store.PartnerConnection
	r = keep(e.serve("GET", "/api/partner", nil, ""))
	if json.Unmarshal(r.Body.Bytes(), &st) != nil || st.Connected || st.ErrorCode != partner.CodeNotConnected {
		t.Errorf("GET /api/partner before connecting: %s", r.Body.String())
	}

	answers = append(answers, e.connectPartner(t)...)
	rt1, err := e.vault.Get(context.Background(), identity.PartnerRefreshTokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	// Not a timer payload: fails before anything is redeemed.
	r = keep(e.serve("POST", "/PartnerKeepAlive", nil, serviceBusInvocation([]byte("{}"), "m1", 1)))
	if rt, _ := e.vault.Get(context.Background(), identity.PartnerRefreshTokenSecret); r.Code != http.StatusInternalServerError ||
		!strings.Contains(r.Body.String(), `binding \"timer\": not present`) || rt != rt1 {
		t.Errorf("without a timer binding: %d %s (token rotated: %v)", r.Code, r.Body.String(), rt != rt1)
	}

	// The keep-alive timer rotates the refresh token.
	r = keep(e.serve("POST", "/PartnerKeepAlive", nil, timerInvocation))
	rt2, _ := e.vault.Get(context.Background(), identity.PartnerRefreshTokenSecret)
	if r.Code != http.StatusOK || rt2 == rt1 || rt2 == "" || !strings.Contains(r.Body.String(), "partner refresh token renewed") {
		t.Errorf("PartnerKeepAlive: %d %s (rotated: %v)", r.Code, r.Body.String(), rt2 != rt1)
	}
	// 90 days of inactivity: the timer fails and says to reconnect; the record says why.
	e.sim.Entra.AgeRefreshTokens(91 * 24 * time.Hour)
	r = keep(e.serve("POST", "/PartnerKeepAlive", nil, timerInvocation))
	if r.Code != http.StatusInternalServerError || !strings.Contains(r.Body.String(), "reconnect the partner account") || !strings.Contains(r.Body.String(), "AADSTS700082") {
		t.Errorf("PartnerKeepAlive with an expired refresh token: %d %s", r.Code, r.Body.String())
	}
	if !strings.Contains(e.logs.String(), "AADSTS700082") {
		t.Error("the failure is not in the log")
	}
	r = keep(e.serve("GET", "/api/partner", nil, ""))
	if json.Unmarshal(r.Body.Bytes(), &st) != nil || st.Connected || st.ErrorCode != "AADSTS700082" || !strings.Contains(st.Remediation, "reconnect the partner account (/api/connect)") {
		t.Errorf("GET /api/partner after AADSTS700082: %s", r.Body.String())
	}
	e.noTokens(t, answers, rt1, rt2)
}
