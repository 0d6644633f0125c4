package e2e

// HTTP input handling through the local host and the real handler binary (issue 9, "What was
// measured" 7): a 70 MB body got a reset connection and the host's empty 500; /api/Tenants got
// the handler's 404 although the host matched it.

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// publicBaseURL is the stack's PUBLIC_BASE_URL: its own address when localPublicURL is set,
// else the sample settings' value.
func (s *stack) publicBaseURL() string {
	if s.public != "" {
		return s.public
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "local.settings.sample.json"))
	if err != nil {
		s.t.Fatal(err)
	}
	var ls struct{ Values map[string]string }
	if err := json.Unmarshal(b, &ls); err != nil {
		s.t.Fatal(err)
	}
	return strings.TrimRight(ls.Values[config.SettingPublicBaseURL], "/")
}

// spaces is a body of n spaces, produced as it is read.
type spaces struct{ left int64 }

func (z *spaces) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), z.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	z.left -= n
	return int(n), nil
}

func TestInputsThroughTheHost(t *testing.T) {
	s := startStack(t)
	s.discover(t)
	tenant := "/api/tenants/" + scenario.DemoContosoDental

	for _, chunked := range []bool{false, true} {
		const size = 70 << 20
		req, err := http.NewRequest("PATCH", s.url+tenant, &spaces{left: size})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		if chunked {
			req.ContentLength = -1
		}
		req.Header.Set("x-functions-key", s.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("70 MB PATCH (chunked %v): %v", chunked, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error struct{ Code, Message string }
		}
		// With a length the body reaches the handler, which answers 413. Chunked, the host forwards
		// no body at all (it copies the body only when Content-Length > 0, as Azure's host does:
		// shared/funchost/httplimits.go), so the handler refuses an empty body; either way nothing
		// changes and the caller gets the API's error shape, never a reset connection.
		want, code := http.StatusRequestEntityTooLarge, "PayloadTooLarge"
		if chunked {
			want, code = http.StatusBadRequest, "BadRequest"
		}
		if resp.StatusCode != want || json.Unmarshal(b, &e) != nil || e.Error.Code != code {
			t.Errorf("70 MB PATCH (chunked %v): %d %q, want %d %s", chunked, resp.StatusCode, b, want, code)
		}
	}
	for _, c := range []struct{ method, path, body, has string }{
		{"GET", "/api/Tenants", "", `"tenantId":"` + scenario.DemoContosoDental + `"`},
		{"GET", "/API/TENANTS/" + strings.ToUpper(scenario.DemoContosoDental), "", `"tenantId":"` + scenario.DemoContosoDental + `"`},
		{"PATCH", "/api/Tenants/" + scenario.DemoContosoDental, `{"excluded":false}`, `"excluded":false`},
	} {
		if status, b := s.do(t, c.method, c.path, c.body); status != http.StatusOK || !strings.Contains(string(b), c.has) {
			t.Errorf("%s %s: %d %s", c.method, c.path, status, b)
		}
	}
	wantAPIError(t, s, "PATCH", tenant, `{"excluded":true} garbage`, http.StatusBadRequest)
	wantAPIError(t, s, "GET", tenant+"/users?$top=%2B5", "", http.StatusBadRequest)
}
