package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/store"
)

func TestConnectCallback(t *testing.T) {
	e := newPartnerEnv(t)
	var answers []string
	keep := func(r *httptest.ResponseRecorder) *httptest.ResponseRecorder {
		answers = append(answers, r.Header().Get("Location")+"\n"+r.Body.String())
		return r
	}

	// The sign-in (GET /api/connect's redirect, connect_test.go) and the callback page.
	r := keep(e.serve("GET", "/api/connect", nil, ""))
	loc := r.Header().Get("Location")
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
	rt, err := e.vault.Get(context.Background(), identity.PartnerRefreshTokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	e.noTokens(t, answers, rt)
}
