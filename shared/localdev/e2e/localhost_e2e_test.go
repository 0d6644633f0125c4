package e2e

// The local host's process handling, through the real funchost and handler binaries: the handler
// dies with the host, and secrets missing from local.settings.json stay missing.

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
)

// becomeSubreaper makes this test process adopt orphaned descendants (Linux prctl
// PR_SET_CHILD_SUBREAPER), so the test can wait for the handler once funchost is gone.
func becomeSubreaper(t *testing.T) {
	t.Helper()
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
	t.Cleanup(func() { _, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 0, 0) })
}

// The host is killed abruptly (SIGKILL: no chance to stop its handler). The handler must die with
// it instead of staying orphaned and listening.
func TestHandlerDiesWithTheHost(t *testing.T) {
	becomeSubreaper(t)
	s := startStack(t)
	pid := s.handlerPid(t)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.exited // funchost reaped: its orphans are this process's children now
	done := make(chan error, 1)
	go func() {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waiting for the handler %d: %v", pid, err)
		}
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("the handler (pid %d) still ran 60s after its host was killed", pid)
	}
}

// local.settings.json lacks the secrets STATE_SIGNING_KEY and APP_CLIENT_SECRET. funchost must
// not fill them from the committed sample: the handler refuses to start and names them.
func TestMissingSecretsAreNotFilledFromTheSample(t *testing.T) {
	bin := t.TempDir()
	handler := build(t, bin, "./cmd/handler")
	funchost := build(t, bin, "./cmd/funchost")
	root, _ := filepath.Abs("../../..")
	raw, err := os.ReadFile(filepath.Join(root, "local.settings.sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ls map[string]any
	if err := json.Unmarshal(raw, &ls); err != nil {
		t.Fatal(err)
	}
	values := ls["Values"].(map[string]any)
	delete(values, "STATE_SIGNING_KEY")
	delete(values, "APP_CLIENT_SECRET")
	b, _ := json.Marshal(ls)
	settings := filepath.Join(bin, "local.settings.json")
	if err := os.WriteFile(settings, b, 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(funchost, "-root", root, "-settings", settings, "-handler", handler,
		"-listen", "127.0.0.1:"+strconv.Itoa(port), "-key", "k", "-state", filepath.Join(bin, "state"), "-no-timers")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		for range lines {
		}
		_ = cmd.Wait()
	}()
	want := map[string]bool{"setting STATE_SIGNING_KEY is missing": false, "setting APP_CLIENT_SECRET is missing": false}
	var seen []string
	deadline := time.After(60 * time.Second)
	for missing := len(want); missing > 0; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("funchost ended; output:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, "using local.settings.sample.json's values") && (strings.Contains(l, "STATE_SIGNING_KEY") || strings.Contains(l, "APP_CLIENT_SECRET")) {
				t.Errorf("funchost filled a secret from the sample: %s", l)
			}
			for w, done := range want {
				if !done && strings.Contains(l, w) {
					want[w] = true
					missing--
				}
			}
		case <-deadline:
			t.Fatalf("no 'setting ... is missing' error from the handler within 60s; output:\n%s", strings.Join(seen, "\n"))
		}
	}
}
