// Package devenv starts the local stand-ins tenantsync runs against on a developer machine and in
// tests: Azurite for Table Storage (installed by npm into the repository's node_modules).
package devenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// AzuriteAccountKey is Azurite's well-known development key (public, documented by Microsoft).
const AzuriteAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// Azurite is a running Azurite table service.
type Azurite struct {
	Port int
	cmd  *exec.Cmd
	done chan struct{}
}

// RepoRoot finds the repository root (the directory holding go.mod) from the working directory
// upwards, so tests in any package find node_modules.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod) not found above the working directory")
		}
		dir = parent
	}
}

// StartAzurite starts azurite-table on a free loopback port. With dir empty, data is kept in
// memory; otherwise it persists under dir. Output goes to log (nil discards it).
func StartAzurite(ctx context.Context, dir string, log io.Writer) (*Azurite, error) {
	return startAzurite(ctx, dir, log, nil)
}

// startAzurite starts azurite-table with extra environment (AZURITE_ACCOUNTS for more accounts).
func startAzurite(ctx context.Context, dir string, log io.Writer, env []string) (*Azurite, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "node_modules", ".bin", "azurite-table")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("azurite is not installed at %s: run `make deps` (npm ci) first", bin)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--tableHost", "127.0.0.1", "--tablePort", strconv.Itoa(port), "--disableTelemetry", "--skipApiVersionCheck"}
	if dir == "" {
		args = append(args, "--inMemoryPersistence")
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "--location", dir)
	}
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	// Own process group (stopped as a whole), and killed if this process dies without stopping
	// it: otherwise an orphaned Azurite keeps inherited pipes open (a fuzz worker's, a CI job's).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start azurite: %w", err)
	}
	a := &Azurite{Port: port, cmd: cmd, done: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if log != nil {
				fmt.Fprintln(log, "azurite: "+line)
			}
			if !signalled && strings.Contains(line, "successfully started") {
				signalled = true
				close(started)
			}
		}
		_ = cmd.Wait()
		close(a.done)
	}()
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	select {
	case <-started:
		return a, nil
	case <-a.done:
		return nil, fmt.Errorf("azurite exited during start-up (port %d)", port)
	case <-wait.Done():
		a.Stop()
		return nil, fmt.Errorf("azurite did not start: %w", wait.Err())
	}
}

// ConnectionString is the aztables connection string for this instance.
func (a *Azurite) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;", AzuriteAccountKey, a.Port)
}

// Stop terminates Azurite and waits for it to exit.
func (a *Azurite) Stop() {
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-a.done
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) { return freePort() }
