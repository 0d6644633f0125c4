package cloud

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGraphHostHasNoPort(t *testing.T) {
	for u, want := range map[string]string{"https://127.0.0.1:7444/v1.0": "127.0.0.1", "https://Graph.Microsoft.com/v1.0": "graph.microsoft.com", "https://graph.microsoft.us": "graph.microsoft.us"} {
		if got := (Endpoints{GraphURL: u}).GraphHost(); got != want {
			t.Errorf("GraphHost(%s) = %q, want %q", u, got, want)
		}
	}
}

func TestCAFileErrors(t *testing.T) {
	if _, err := (Endpoints{CAFile: "/nonexistent.pem"}).TLSConfig(); err == nil {
		t.Error("missing CA file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not a certificate"), 0o644)
	if _, err := (Endpoints{CAFile: bad}).TLSConfig(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("garbage CA file: %v", err)
	}
	tc, err := (Endpoints{}).TLSConfig()
	if err != nil || tc.InsecureSkipVerify || tc.RootCAs == nil {
		t.Errorf("default TLS config %+v, %v: verification must stay on", tc, err)
	}
}
