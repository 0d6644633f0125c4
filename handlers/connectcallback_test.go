package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/store"
)

func TestPartnerConnectThroughHandlers(t *testing.T) {
	e := newPartnerEnv(t)
	var answers []string
	keep := func(r *httptest.ResponseRecorder) *httptest.ResponseRecorder {
		answers = append(answers, r.Header().Get("Location")+"\n"+r.Body.String())
		return r
	}

	// /api/connect: a 302 to the partner tenant's authorize endpoint; the state names who asked.
	r := keep(e.serve("GET", "/api/connect", nil, ""))
	loc := r.Header().Get("Location")
	if r.Code != http.StatusFound || !strings.HasPrefix(loc, strings.TrimRight(e.ep.AuthorityHost, "/")+"/"+e.ep.PartnerTenantID+"/oauth2/v2.0/authorize?") {
		t.Fatalf("GET /api/connect: %d to %q", r.Code, loc)
	}
	if _, c := stateOf(t, loc); c.By != domain.AutomationCaller {
		t.Errorf("state by %q, want %q (no principal)", c.By, domain.AutomationCaller)
	}
	r = keep(e.serve("GET", "/api/connect", http.Header{"X-Ms-Client-Principal": {principal("alice@contosomsp.onmicrosoft.com", adminGroup)}}, ""))
	if _, c := stateOf(t, r.Header().Get("Location")); r.Code != http.StatusFound || c.By != "alice@contosomsp.onmicrosoft.com" {
		t.Errorf("admin principal: %d, by %q", r.Code, c.By)
	}
	if r := e.serve("GET", "/api/connect", http.Header{"X-Ms-Client-Principal": {principal("bob", "other-group")}}, ""); r.Code != http.StatusForbidden {
		t.Errorf("non-admin principal: %d, want 403", r.Code)
	}
	// Without App Service Authentication (WEBSITE_AUTH_ENABLED off) the header is anybody's: a
	// forged principal is ignored and the state names automation, not the forged name.
	on := e.mux
	e.mux = New(Deps{Store: e.store, Partner: e.svc, Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Now: time.Now, AdminGroupID: adminGroup})
	for _, forged := range []string{principal("mallory", adminGroup), principal("mallory", "other-group")} {
		r := keep(e.serve("GET", "/api/connect", http.Header{"X-Ms-Client-Principal": {forged}, "X-Ms-Client-Principal-Name": {"mallory"}}, ""))
		if _, c := stateOf(t, r.Header().Get("Location")); r.Code != http.StatusFound || c.By != domain.AutomationCaller {
			t.Errorf("forged principal, App Service Authentication off: %d, by %q, want %q", r.Code, c.By, domain.AutomationCaller)
		}
	}
	e.mux = on

	// The sign-in and the callback page.
	back := e.signIn(t, loc, scenario.DemoServiceAccountUPN)
	r = keep(e.serve("GET", back, nil, ""))
	if r.Code != http.StatusOK || !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(r.Body.String(), "connected") || !strings.Contains(r.Body.String(), scenario.DemoServiceAccountUPN) {
		t.Fatalf("callback: %d %s\n%s", r.Code, r.Header().Get("Content-Type"), r.Body.String())
	}
	if r.Header().Get("Cache-Control") != "no-store" || r.Header().Get("Referrer-Policy") != "no-referrer" || !strings.Contains(r.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("callback page headers: %v", r.Header())
	}
	// Replayed: 400 with the reason.
	r = keep(e.serve("GET", back, nil, ""))
	if r.Code != http.StatusBadRequest || !strings.Contains(r.Body.String(), "already used") {
		t.Errorf("replayed callback: %d\n%s", r.Code, r.Body.String())
	}

	// /api/partner: the record, never the token.
	r = keep(e.serve("GET", "/api/partner", nil, ""))
	var st store.PartnerConnection
	if r.Code != http.StatusOK || json.Unmarshal(r.Body.Bytes(), &st) != nil || !st.Connected || st.ConnectedBy != scenario.DemoServiceAccountUPN {
		t.Errorf("GET /api/partner: %d %s", r.Code, r.Body.String())
	}

	// The keep-alive timer rotates the refresh token.
	rt1, err := e.vault.Get(context.Background(), identity.PartnerRefreshTokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	timer := `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{}}`
	r = keep(e.serve("POST", "/PartnerKeepAlive", nil, timer))
	rt2, _ := e.vault.Get(context.Background(), identity.PartnerRefreshTokenSecret)
	if r.Code != http.StatusOK || rt2 == rt1 || rt2 == "" {
		t.Errorf("PartnerKeepAlive: %d %s (rotated: %v)", r.Code, r.Body.String(), rt2 != rt1)
	}
	// 90 days of inactivity: the timer fails and says to reconnect; the record says why.
	e.sim.Entra.AgeRefreshTokens(91 * 24 * time.Hour)
	r = keep(e.serve("POST", "/PartnerKeepAlive", nil, timer))
	if r.Code != http.StatusInternalServerError || !strings.Contains(r.Body.String(), "reconnect the partner account") || !strings.Contains(r.Body.String(), "AADSTS700082") {
		t.Errorf("PartnerKeepAlive with an expired refresh token: %d %s", r.Code, r.Body.String())
	}
	r = keep(e.serve("GET", "/api/partner", nil, ""))
	if json.Unmarshal(r.Body.Bytes(), &st) != nil || st.Connected || st.ErrorCode != "AADSTS700082" || !strings.Contains(st.Remediation, "reconnect the partner account (/api/connect)") {
		t.Errorf("GET /api/partner after AADSTS700082: %s", r.Body.String())
	}

	// An Entra error with a valid state is shown escaped and recorded.
	r = e.serve("GET", "/api/connect", nil, "")
	state, _ := stateOf(t, r.Header().Get("Location"))
	q := url.Values{"error": {"access_denied"}, "error_description": {`<script>alert("x")</script> & more`}, "state": {state}}
	r = keep(e.serve("GET", "/api/connect/callback?"+q.Encode(), nil, ""))
	body := r.Body.String()
	if r.Code != http.StatusBadRequest || strings.Contains(body, "<script") || !strings.Contains(body, "&lt;script&gt;") || !strings.Contains(body, "access_denied") {
		t.Errorf("Entra error page: %d\n%s", r.Code, body)
	}
	r = keep(e.serve("GET", "/api/partner", nil, ""))
	if json.Unmarshal(r.Body.Bytes(), &st) != nil || st.ErrorCode != "access_denied" {
		t.Errorf("record after access_denied: %s", r.Body.String())
	}

	// No token in any answer or log line.
	for i, a := range append(answers, e.logs.String()) {
		for _, tok := range []string{rt1, rt2} {
			if strings.Contains(a, tok) {
				t.Errorf("answer %d contains a refresh token", i)
			}
		}
		if m := tokenShapes.FindString(a); m != "" {
			t.Errorf("answer %d contains something token-shaped (%d chars)", i, len(m))
		}
	}
}
