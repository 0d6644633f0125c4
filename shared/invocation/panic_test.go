package invocation

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A panicking function gets the host a 500 with the contract's JSON object (not a dropped
// connection), and the stack reaches the log only, never the answer.
func TestHandlerRecoversAPanic(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	var nilMap map[string]*string
	f := func(context.Context, *Request) (*Response, error) {
		return &Response{Logs: []string{*nilMap["message"]}}, nil // the nil dereference a Graph answer once caused
	}
	srv := httptest.NewServer(Handler("TenantSync", log, f))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/TenantSync", strings.NewReader(`{"Data":{},"Metadata":{}}`))
	req.Header.Set("X-Azure-Functions-InvocationId", "inv-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the handler dropped the connection: %v", err)
	}
	defer resp.Body.Close()
	var body Response
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d %q %+v %v, want 500 with the JSON object", resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
	}
	joined := strings.Join(body.Logs, "\n")
	if strings.Contains(joined, "goroutine") || strings.Contains(joined, ".go:") || !strings.Contains(joined, "inv-1") {
		t.Errorf("answer logs %q: want the invocation id and no stack", joined)
	}
	if l := logs.String(); !strings.Contains(l, "invocation panicked") || !strings.Contains(l, "panic_test.go") || !strings.Contains(l, "nil pointer dereference") {
		t.Errorf("log %s: want the panic with its stack", l)
	}
}
