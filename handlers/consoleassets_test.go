package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/console"
)

// ConsoleAssets: the console's embedded stylesheet and script are served anonymously (no
// principal) byte for byte with their content type, cached for five minutes and with the
// console's security headers; any other name, a path that climbs out, or a method other than GET
// is not served. No storage is touched (Deps holds none).
func TestConsoleAssets(t *testing.T) {
	mux := New(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
		ConsoleSettings: ConsoleSettings{Auth: console.AuthSettings{Enabled: true, AdminGroupID: consoleTestGroup}, CSRFKey: consoleTestKey}})
	get := func(method, target string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		return rec
	}
	for file, ct := range map[string]string{"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"} {
		want, err := os.ReadFile("../shared/console/assets/" + file)
		if err != nil {
			t.Fatal(err)
		}
		// The host matches the route's literal case-insensitively ("/STATIC/"); the file name is
		// the route value and is matched exactly.
		for _, path := range []string{"/static/" + file, "/STATIC/" + file} {
			rec := get("GET", path)
			if rec.Code != http.StatusOK || rec.Body.String() != string(want) {
				t.Errorf("GET %s: %d, %d bytes, want the %d bytes of %s", path, rec.Code, rec.Body.Len(), len(want), file)
			}
			h := rec.Header()
			if h.Get("Content-Type") != ct || h.Get("Cache-Control") != "public, max-age=300" || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("Content-Security-Policy") != console.ContentSecurityPolicy {
				t.Errorf("GET %s headers: %v", path, h)
			}
		}
	}
	for _, path := range []string{"/static/nope.css", "/static/Console.css", "/static/render.go", "/static/..%2Fconsole.css",
		"/static/assets%2Fconsole.css", "/static/", "/static/console.css/x"} {
		rec := get("GET", path)
		if rec.Code != http.StatusNotFound || rec.Header().Get("Cache-Control") == "public, max-age=300" {
			t.Errorf("GET %s: %d %v, want 404 and not cacheable", path, rec.Code, rec.Header())
		}
	}
	if rec := get("POST", "/static/console.css"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}
