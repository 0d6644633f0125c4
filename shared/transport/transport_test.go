package transport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The same CA file always gives the same transport (one connection pool per process); a CA file
// that is missing or holds no certificate is an error up front, not at the first request.
func TestForSharesOneTransportAndChecksTheCAFile(t *testing.T) {
	a, err := For("")
	if err != nil {
		t.Fatal(err)
	}
	b, err := For("")
	if err != nil || a != b {
		t.Fatalf("For twice: %p %p %v, want the same transport", a, b, err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := For(bad); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad CA file: %v, want an error naming it", err)
	}
	if _, err := For(filepath.Join(dir, "missing.pem")); err == nil || !strings.Contains(err.Error(), "CA file") {
		t.Fatalf("missing CA file: %v, want an error", err)
	}
	if c := a.Client(0); c.Transport != a {
		t.Fatal("Client does not use the shared transport")
	}
	if tc := a.TLSConfig(); tc.InsecureSkipVerify || tc.RootCAs == nil {
		t.Fatalf("TLS config %+v: want verification against a root pool", tc)
	}
}
