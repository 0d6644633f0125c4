package pcclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/pcclient"
)

// The client's rules run against an httptest TLS server (its own CA, verified by srv.Client()):
// the request it sends and how it reads Partner Center's answers. The answer shapes follow
// "Get a list of customers" (https://learn.microsoft.com/partner-center/developer/get-a-list-of-customers):
// a page of items and links.next with the MS-ContinuationToken header to send back.

type recorded struct {
	method, uri string
	header      http.Header
	body        []byte
}

// pcServer answers each request with answer and records it.
type pcServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int)) *pcServer {
	t.Helper()
	s := &pcServer{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, recorded{r.Method, r.URL.RequestURI(), r.Header.Clone(), b})
		n := len(s.reqs)
		s.mu.Unlock()
		answer(w, r, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *pcServer) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

func client(s *pcServer, token string) *pcclient.Client {
	return &pcclient.Client{BaseURL: s.URL + "/", HTTP: s.Client(), Token: func(context.Context) (string, error) { return token, nil }}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func customer(id, name, domain string) map[string]any {
	return map[string]any{"id": id, "companyProfile": map[string]any{"tenantId": id, "domain": domain, "companyName": name}, "relationshipToPartner": "reseller"}
}

// Customers follows links.next until a page has none, sending back the continuation header the
// page named and resolving a next URI without a leading slash under /v1/; every request carries
// the bearer token and fresh MS-RequestId / MS-CorrelationId GUIDs.
func TestCustomersFollowsContinuationLinks(t *testing.T) {
	a, b, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 1:
			writeJSON(w, 200, map[string]any{"totalCount": 1, "items": []any{customer(a, "Alpha", "alpha.onmicrosoft.com")},
				"links": map[string]any{"next": map[string]any{"uri": "/v1/customers?size=500&seekOperation=Next", "method": "GET",
					"headers": []any{map[string]any{"key": "MS-ContinuationToken", "value": "page-2"}}}}})
		case 2:
			writeJSON(w, 200, map[string]any{"totalCount": 1, "items": []any{customer(b, "Beta", "beta.onmicrosoft.com")},
				"links": map[string]any{"next": map[string]any{"uri": "customers?size=500&seekOperation=Next",
					"headers": []any{map[string]any{"key": "MS-ContinuationToken", "value": "page-3"}}}}})
		default:
			writeJSON(w, 200, map[string]any{"totalCount": 1, "items": []any{customer(c, "Gamma", "gamma.onmicrosoft.com")}, "links": map[string]any{}})
		}
	})
	got, err := client(s, "tok-123").Customers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != a || got[1].CompanyProfile.CompanyName != "Beta" || got[2].CompanyProfile.Domain != "gamma.onmicrosoft.com" ||
		got[0].CompanyProfile.TenantID != a || got[0].RelationshipToPartner != "reseller" {
		t.Fatalf("customers %+v, want Alpha, Beta, Gamma in page order", got)
	}
	reqs := s.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	wantURI := []string{"/v1/customers?size=500", "/v1/customers?size=500&seekOperation=Next", "/v1/customers?size=500&seekOperation=Next"}
	wantToken := []string{"", "page-2", "page-3"}
	ids := map[string]bool{}
	for i, r := range reqs {
		if r.method != http.MethodGet || r.uri != wantURI[i] {
			t.Errorf("request %d: %s %s, want GET %s", i, r.method, r.uri, wantURI[i])
		}
		if got := r.header.Get("MS-ContinuationToken"); got != wantToken[i] {
			t.Errorf("request %d: continuation %q, want %q", i, got, wantToken[i])
		}
		if got := r.header.Get("Authorization"); got != "Bearer tok-123" {
			t.Errorf("request %d: Authorization %q", i, got)
		}
		if r.header.Get("Accept") != "application/json" || r.header.Get("Content-Type") != "" {
			t.Errorf("request %d: Accept %q Content-Type %q, want JSON accepted and no body type on a GET", i, r.header.Get("Accept"), r.header.Get("Content-Type"))
		}
		for _, h := range []string{"MS-RequestId", "MS-CorrelationId"} {
			v := r.header.Get(h)
			if _, err := uuid.Parse(v); err != nil || ids[v] {
				t.Errorf("request %d: %s %q, want a fresh GUID", i, h, v)
			}
			ids[v] = true
		}
	}
}

// A token failure stops the call before anything is sent.
func TestTokenFailureSendsNothing(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
		writeJSON(w, 200, map[string]any{"items": []any{}})
	})
	boom := errors.New("no refresh token: connect the partner account")
	c := &pcclient.Client{BaseURL: s.URL, HTTP: s.Client(), Token: func(context.Context) (string, error) { return "", boom }}
	if _, err := c.Customers(context.Background()); !errors.Is(err, boom) {
		t.Errorf("Customers error %v, want the token error", err)
	}
	if _, err := c.ApplicationConsent(context.Background(), uuid.NewString(), uuid.NewString(), nil); !errors.Is(err, boom) {
		t.Errorf("ApplicationConsent error %v, want the token error", err)
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent without a token", n)
	}
}

// Partner Center's error answers become *pcclient.Error with the status, code and description;
// a body that is not Partner Center's JSON error becomes the description as text; a 429's
// Retry-After (seconds, fractional seconds or an HTTP date) is kept for the caller's back-off.
func TestErrorAnswers(t *testing.T) {
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name        string
		status      int
		retryAfter  string
		body        string
		wantCode    any
		wantDesc    string
		minWait     time.Duration
		maxWait     time.Duration
		wantWaitSet bool
	}{
		{name: "json error", status: 403, body: `{"code":900,"description":"Access denied","errorName":"Forbidden"}`, wantCode: float64(900), wantDesc: "Access denied"},
		{name: "string code", status: 400, body: `{"code":"InvalidInput","description":"Invalid request input"}`, wantCode: "InvalidInput", wantDesc: "Invalid request input"},
		{name: "text body", status: 502, body: "  Bad Gateway from the front door \n", wantDesc: "Bad Gateway from the front door"},
		{name: "json without description", status: 500, body: `{"code":1}`, wantCode: float64(1), wantDesc: `{"code":1}`},
		{name: "retry after seconds", status: 429, retryAfter: "2", body: `{"code":429,"description":"Rate limit"}`, wantCode: float64(429), wantDesc: "Rate limit", minWait: 2 * time.Second, maxWait: 2 * time.Second},
		{name: "retry after fraction", status: 429, retryAfter: "0.5", body: `{"description":"Rate limit"}`, wantDesc: "Rate limit", minWait: 500 * time.Millisecond, maxWait: 500 * time.Millisecond},
		{name: "retry after date", status: 429, retryAfter: future, body: `{"description":"Rate limit"}`, wantDesc: "Rate limit", minWait: 50 * time.Minute, maxWait: time.Hour},
		{name: "retry after past date", status: 429, retryAfter: past, body: `{"description":"Rate limit"}`, wantDesc: "Rate limit"},
		{name: "retry after garbage", status: 429, retryAfter: "soon", body: `{"description":"Rate limit"}`, wantDesc: "Rate limit"},
		{name: "retry after negative", status: 429, retryAfter: "-3", body: `{"description":"Rate limit"}`, wantDesc: "Rate limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			_, err := client(s, "t").Customers(context.Background())
			var pe *pcclient.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want *pcclient.Error", err, err)
			}
			if pe.Status != tc.status || pe.Description != tc.wantDesc || fmt.Sprint(pe.Code) != fmt.Sprint(tc.wantCode) {
				t.Errorf("error %+v, want status %d code %v description %q", pe, tc.status, tc.wantCode, tc.wantDesc)
			}
			if pe.RetryAfter < tc.minWait || pe.RetryAfter > tc.maxWait {
				t.Errorf("RetryAfter %v, want within [%v, %v]", pe.RetryAfter, tc.minWait, tc.maxWait)
			}
			if msg := pe.Error(); !strings.Contains(msg, fmt.Sprint(tc.status)) || !strings.Contains(msg, tc.wantDesc) {
				t.Errorf("Error() %q should name the status and the description", msg)
			}
			if n := len(s.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (the client does not retry on its own)", n)
			}
		})
	}
}

// A page that is not JSON, or a next link that is not a URI, ends the listing with an error
// rather than a partial list.
func TestCustomersBadPages(t *testing.T) {
	cases := map[string]string{
		"not json": `<html>maintenance</html>`,
		"bad next": `{"items":[{"id":"x"}],"links":{"next":{"uri":"%zz"}}}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, body)
			})
			got, err := client(s, "t").Customers(context.Background())
			if err == nil || got != nil {
				t.Fatalf("customers %+v err %v, want an error and no customers", got, err)
			}
		})
	}
}

// ApplicationConsent posts the app id and its grants to the customer's applicationconsents
// (https://learn.microsoft.com/partner-center/developer/control-panel-vendor-apis); Partner Center's
// 409 "Permission entry already exists." means the consent is there (already, no error); any other
// error is returned as is.
func TestApplicationConsent(t *testing.T) {
	customerID, appID := uuid.NewString(), uuid.NewString()
	grants := []pcclient.ApplicationGrant{{EnterpriseApplicationID: "00000003-0000-0000-c000-000000000000", Scope: "Application.Read.All,AppRoleAssignment.ReadWrite.All"}}
	cases := []struct {
		name        string
		status      int
		body        string
		wantAlready bool
		wantErr     bool
	}{
		{"created", 201, `{"applicationId":"` + appID + `"}`, false, false},
		{"conflict", 409, `{"code":"Conflict","description":"Permission entry already exists."}`, true, false},
		{"already exists other status", 400, `{"code":600041,"description":"Permission entry already exists."}`, true, false},
		{"forbidden", 403, `{"code":"Forbidden","description":"The user does not hold the Admin Agent role."}`, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			already, err := client(s, "t").ApplicationConsent(context.Background(), customerID, appID, grants)
			if already != tc.wantAlready || (err != nil) != tc.wantErr {
				t.Fatalf("already %v err %v, want already %v error %v", already, err, tc.wantAlready, tc.wantErr)
			}
			if tc.wantErr && (pcclient.IsAlreadyExists(err) || !strings.Contains(err.Error(), "Admin Agent")) {
				t.Errorf("error %v should be Partner Center's and not 'already exists'", err)
			}
			reqs := s.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.uri != "/v1/customers/"+customerID+"/applicationconsents" || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s (%s)", r.method, r.uri, r.header.Get("Content-Type"))
			}
			var sent struct {
				ApplicationID     string                      `json:"applicationId"`
				ApplicationGrants []pcclient.ApplicationGrant `json:"applicationGrants"`
			}
			if err := json.Unmarshal(r.body, &sent); err != nil || sent.ApplicationID != appID || len(sent.ApplicationGrants) != 1 || sent.ApplicationGrants[0] != grants[0] {
				t.Errorf("body %s (%v), want the app id and its grants", r.body, err)
			}
		})
	}
}

// IsAlreadyExists recognises Partner Center's answer only, whatever wraps it.
func TestIsAlreadyExists(t *testing.T) {
	if !pcclient.IsAlreadyExists(fmt.Errorf("consent: %w", &pcclient.Error{Status: 409})) {
		t.Error("a wrapped 409 is 'already exists'")
	}
	if !pcclient.IsAlreadyExists(&pcclient.Error{Status: 400, Description: "Permission entry Already Exists."}) {
		t.Error("the description decides whatever the status")
	}
	if pcclient.IsAlreadyExists(&pcclient.Error{Status: 404, Description: "Customer not found"}) || pcclient.IsAlreadyExists(errors.New("already exists")) || pcclient.IsAlreadyExists(nil) {
		t.Error("other errors are not 'already exists'")
	}
}
