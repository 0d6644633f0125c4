// Command package builds the Functions deployment zip: host.json, the handler executable (mode
// 0755) and one folder per function holding its function.json, at the zip's root. It is a Go
// program rather than a zip command line so that a fresh machine needs nothing installed and the
// executable bit is set explicitly (zip tools differ in whether they keep it).
package main

import (
	"archive/zip"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

func main() {
	root := flag.String("root", ".", "function app root (host.json, functions/)")
	handler := flag.String("handler", "dist/handler", "the linux/amd64 handler executable")
	out := flag.String("o", "dist/functionapp.zip", "output zip")
	flag.Parse()
	if err := build(*root, *handler, *out); err != nil {
		fmt.Fprintln(os.Stderr, "package: "+err.Error())
		os.Exit(1)
	}
}

// Entries lists what goes into the zip: archive name → source file.
func Entries(root, handler string) (map[string]string, error) {
	files := map[string]string{"host.json": filepath.Join(root, "host.json"), "handler": handler}
	fns, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil {
		return nil, err
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("no functions/*/function.json under %s", root)
	}
	for _, f := range fns {
		name := filepath.Base(filepath.Dir(f))
		files[name+"/function.json"] = f
	}
	for name, src := range files {
		if _, err := os.Stat(src); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return files, nil
}

func build(root, handler, out string) error {
	files, err := Entries(root, handler)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		mode := fs.FileMode(0o644)
		if name == "handler" {
			mode = 0o755 // the host execs it: without the bit the app cannot start
		}
		if err := add(zw, name, files[name], mode); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d entries)\n", out, len(names))
	return os.Rename(tmp, out)
}

func add(zw *zip.Writer, name, src string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(mode)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, in)
	return err
}
