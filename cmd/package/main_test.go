package main

import (
	"archive/zip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The deployment zip has host.json, the executable handler (0755) and one folder per function at
// its root, and nothing else (local.settings.json is never deployed).
func TestPackageLayout(t *testing.T) {
	dir := t.TempDir()
	// A stand-in for the handler: cross-compiling the real one statically rebuilds every dependency
	// (minutes); `make package` does that, this test checks the packaging.
	handler := filepath.Join(dir, "handler")
	if err := os.WriteFile(handler, []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "functionapp.zip")
	if err := build("../..", handler, out); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		switch {
		case f.Name == "handler":
			if f.Mode().Perm() != 0o755 {
				t.Errorf("handler mode %v, want 0755", f.Mode().Perm())
			}
		case f.Name == "host.json":
		case strings.HasSuffix(f.Name, "/function.json") && strings.Count(f.Name, "/") == 1:
		default:
			t.Errorf("unexpected entry %q", f.Name)
		}
	}
	fns, _ := filepath.Glob("../../functions/*/function.json")
	if len(names) != len(fns)+2 {
		sort.Strings(names)
		t.Errorf("zip has %v; want host.json, handler and %d function folders", names, len(fns))
	}
	// The handler is carried byte for byte.
	for _, f := range zr.File {
		if f.Name != "handler" {
			continue
		}
		rc, _ := f.Open()
		head := make([]byte, 20)
		_, _ = rc.Read(head)
		rc.Close()
		if string(head[:4]) != "\x7fELF" || head[18] != 0x3e {
			t.Errorf("handler is not a linux/amd64 ELF (header %x)", head)
		}
	}
}
