package handlers

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Over 1 MiB: 413 in the API's error shape, over a real connection (main reset it, and the host
// answered an empty 500), whether the length is declared or the body is chunked; a body of
// exactly 1 MiB is still read.
func TestBodyLimit(t *testing.T) {
	e := newInputsEnv(t)
	srv := httptest.NewServer(e.mux)
	t.Cleanup(srv.Close)
	send := func(method, path string, body io.Reader, length int64) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s with %d bytes: %v", method, path, length, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tenant := "/api/tenants/" + e.tenant
	for _, c := range []struct {
		method, path string
		size         int64
		chunked      bool
	}{
		{"PATCH", tenant, 70 << 20, false},
		{"PATCH", tenant, 70 << 20, true},
		{"PATCH", tenant, 1<<20 + 1, false},
		{"POST", tenant + "/consent-link", 2 << 20, false},
		{"POST", "/api/consent/cpv", 2 << 20, true},
		{"POST", tenant + "/sync", 2 << 20, true},
		{"POST", "/api/discovery", 2 << 20, false},
	} {
		length := c.size
		if c.chunked {
			length = -1
		}
		status, body := send(c.method, c.path, &zeros{left: c.size}, length)
		var got struct {
			Error struct{ Code, Message string }
		}
		if status != http.StatusRequestEntityTooLarge || json.Unmarshal([]byte(body), &got) != nil || got.Error.Code != "PayloadTooLarge" || !strings.Contains(got.Error.Message, "1 MiB") {
			t.Errorf("%s %s, %d bytes (chunked %v): %d %q, want 413 PayloadTooLarge", c.method, c.path, c.size, c.chunked, status, body)
		}
	}
	exact := `{"excluded":true}` + strings.Repeat(" ", 1<<20-len(`{"excluded":true}`))
	if status, body := send("PATCH", tenant, strings.NewReader(exact), int64(len(exact))); status != http.StatusOK {
		t.Errorf("a body of exactly 1 MiB: %d %s", status, body)
	}
}
