package hostjson

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFunctionTimeout(t *testing.T) {
	dir := t.TempDir()
	noEnv := func(string) (string, bool) { return "", false }
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The repository's own host.json.
	if d, err := FunctionTimeout("../..", noEnv); err != nil || d != 10*time.Minute {
		t.Errorf("repository host.json: %v %v, want 10m", d, err)
	}
	write(`{"version":"2.0","functionTimeout":"01:30:00"}`)
	if d, err := FunctionTimeout(dir, noEnv); err != nil || d != 90*time.Minute {
		t.Errorf("01:30:00: %v %v", d, err)
	}
	override := func(k string) (string, bool) { return "00:05:00", k == "AzureFunctionsJobHost__functionTimeout" }
	if d, err := FunctionTimeout(dir, override); err != nil || d != 5*time.Minute {
		t.Errorf("app setting override: %v %v, want 5m", d, err)
	}
	for _, unlimited := range []string{`{"version":"2.0"}`, `{"version":"2.0","functionTimeout":"-1"}`} {
		write(unlimited)
		if d, err := FunctionTimeout(dir, noEnv); err != nil || d != 0 {
			t.Errorf("%s: %v %v, want 0 (no limit known)", unlimited, d, err)
		}
	}
	write(`{"version":"2.0","functionTimeout":"ten minutes"}`)
	if _, err := FunctionTimeout(dir, noEnv); err == nil {
		t.Error("a malformed functionTimeout accepted")
	}
	if _, err := FunctionTimeout(filepath.Join(dir, "missing"), noEnv); err == nil {
		t.Error("a missing host.json gave no error")
	}
}
