package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// statusKB reads a "Name:   N kB" field of /proc/<pid>/status (VmHWM is the peak resident set
// size, VmRSS the current one; proc(5)).
func statusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// hwmWatch samples the VmHWM of whatever process pid() names until stopped and keeps the highest
// (the handler can be restarted by the host; each process's peak counts).
type hwmWatch struct {
	mu   sync.Mutex
	peak int64 // kB
	pids map[int]bool
	stop chan struct{}
	done chan struct{}
}

func watchHWM(pid func() int) *hwmWatch {
	w := &hwmWatch{pids: map[int]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			w.sample(pid())
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *hwmWatch) sample(pid int) {
	if pid == 0 {
		return
	}
	kb, err := statusKB(pid, "VmHWM")
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pids[pid] = true
	w.peak = max(w.peak, kb)
}

// end takes a last sample and returns the peak in MB and how many processes were seen.
func (w *hwmWatch) end(pid int) (float64, int) {
	w.sample(pid)
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return float64(w.peak) / 1024, len(w.pids)
}

// handlerReady starts bin/handler n times with the host's settings and measures the time from
// exec to its first HTTP answer on FUNCTIONS_CUSTOMHANDLER_PORT (what the host waits for before
// sending invocations), polling every 0.5 ms.
func handlerReady(ctx context.Context, root string, settings map[string]string, n int) ([]float64, error) {
	exe := filepath.Join(root, "bin", "handler")
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var out []float64
	for i := 0; i < n; i++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, exe)
		cmd.Dir = root
		cmd.Env = os.Environ()
		for k, v := range settings {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		p := strconv.Itoa(port)
		cmd.Env = append(cmd.Env, "FUNCTIONS_CUSTOMHANDLER_PORT="+p, "FUNCTIONS_APP_ROOT_PATH="+root)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		ready := time.Duration(0)
		for time.Since(start) < 10*time.Second {
			if resp, err := client.Get("http://127.0.0.1:" + p + "/"); err == nil {
				resp.Body.Close()
				ready = time.Since(start)
				break
			}
			time.Sleep(500 * time.Microsecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if ready == 0 {
			return nil, fmt.Errorf("bin/handler did not answer on its port within 10 s")
		}
		out = append(out, float64(ready.Microseconds())/1000)
	}
	return out, nil
}

// percentile is the nearest-rank percentile p (0..100) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(k, len(s)-1))]
}

// machine describes where the numbers were measured.
type machine struct {
	CPU        string  `json:"cpu"`
	Cores      int     `json:"cores"`
	MemoryGB   float64 `json:"memoryGB"`
	GoVersion  string  `json:"goVersion"`
	LoadStart  string  `json:"loadAverageAtStart"`
	LoadEnd    string  `json:"loadAverageAtEnd"`
	Commit     string  `json:"commit"`
	Dirty      bool    `json:"uncommittedChanges"`
	StartedUTC string  `json:"startedUtc"`
}

func describeMachine(root string) machine {
	m := machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadAvg(), StartedUTC: time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if kb, err := statusMem("MemTotal"); err == nil {
		m.MemoryGB = float64(kb) / (1 << 20)
	}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		m.Dirty = len(strings.TrimSpace(string(out))) > 0
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func statusMem(field string) (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/meminfo", field)
}
