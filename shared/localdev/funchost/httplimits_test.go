package funchost

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// onlyReader hides strings.Reader's length, so net/http sends the body chunked (no Content-Length).
type onlyReader struct{ io.Reader }

// The real host passes a request body on only with a positive Content-Length: a chunked body reaches
// the handler empty, forwarded or in payload mode; a body with Content-Length arrives whole.
func TestHTTPBodyForwardedOnlyWithContentLength(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	f.do(http.MethodPost, "/api/cookies?n=1", strings.NewReader(`{"tenantIds":["x"]}`), nil)
	f.do(http.MethodPost, "/api/cookies?n=2", onlyReader{strings.NewReader(`{"tenantIds":["x"]}`)}, nil)
	got := map[string]recorded{}
	for _, r := range f.requests("/api/cookies") {
		got[r.Query] = r
	}
	if r := got["n=1"]; r.Body != `{"tenantIds":["x"]}` || r.Headers["Content-Length"][0] != "19" {
		t.Errorf("body with Content-Length arrived as %q (headers %v)", r.Body, r.Headers)
	}
	if r, ok := got["n=2"]; !ok || r.Body != "" || len(r.Headers["Transfer-Encoding"]) != 0 {
		t.Errorf("chunked body arrived as %q (headers %v), want no body as in Azure", r.Body, r.Headers)
	}

	resp := f.do(http.MethodPost, "/api/payload/7", onlyReader{strings.NewReader("chunked!")}, nil)
	if b, _ := io.ReadAll(resp.Body); string(b) != "POST:" {
		t.Errorf("payload mode with a chunked body answered %q, want the body absent", b)
	}
	data, _ := decodeInvocation(t, f.requests("/Payload")[0])
	var req map[string]json.RawMessage
	if err := json.Unmarshal(data["req"], &req); err != nil {
		t.Fatal(err)
	}
	if _, ok := req["Body"]; ok {
		t.Errorf("Data.req carries Body %s for a chunked request", req["Body"])
	}
}

// An HTTP function that does not begin its answer within the response limit (Azure: 230 s) gets 504
// saying why, as the caller would lose the answer in Azure. The limit is shortened for the test; the
// handler never answers, so the outcome does not depend on timing.
func TestHTTPResponseLimit(t *testing.T) {
	if HTTPResponseLimit != 230*time.Second {
		t.Errorf("HTTPResponseLimit = %s, want Azure's 230 s", HTTPResponseLimit)
	}
	f := newFixture(t, fixtureOpts{disableTimers: true, responseLimit: 200 * time.Millisecond})
	resp := f.do(http.MethodGet, "/api/slow", nil, nil)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(b), "230 s") {
		t.Errorf("slow function: %d %q, want 504 naming the 230 s limit", resp.StatusCode, b)
	}
	if !strings.Contains(f.log.String(), "Azure ends HTTP responses at 230 s") {
		t.Errorf("host log lacks the explanation:\n%s", f.log.String())
	}
}
