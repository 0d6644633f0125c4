package funchost

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// Readiness polling as the host does it (WorkerConstants): every 25 ms, any HTTP answer counts.
const (
	readyPollInterval = 25 * time.Millisecond
	defaultReadyWait  = 30 * time.Second
)

// worker supervises the custom handler process: start on a free port, wait for readiness,
// restart when it exits or when an invocation times out.
type worker struct {
	exe      string
	args     []string
	dir      string
	appRoot  string
	env      []string
	readyFor time.Duration
	log      *hostLog
	client   *http.Client

	mu      sync.Mutex
	cur     *process      // ready process, nil while (re)starting
	readyCh chan struct{} // closed when cur becomes ready
	starts  int
	changed chan struct{} // closed and replaced on every state change (tests wait on it)
}

type process struct {
	cmd    *exec.Cmd
	port   int
	base   string
	exited chan struct{}
}

func newWorker(exe string, args []string, dir, appRoot string, env []string, readyFor time.Duration, log *hostLog) *worker {
	if readyFor == 0 {
		readyFor = defaultReadyWait
	}
	return &worker{
		exe: exe, args: args, dir: dir, appRoot: appRoot, env: env, readyFor: readyFor, log: log,
		readyCh: make(chan struct{}),
		changed: make(chan struct{}),
		client: &http.Client{
			// Like the host's HttpClient for forwarding: no redirects followed, no cookie jar,
			// no transparent decompression (bodies are relayed as the handler wrote them).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				Proxy:               nil,
				DisableCompression:  true,
				MaxIdleConnsPerHost: 64,
				DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			},
		},
	}
}

// run keeps a handler process alive until ctx ends. It returns after the last process exited.
func (w *worker) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		p, err := w.start()
		if err != nil {
			w.log.errorf("Failed to start custom handler %s: %v", w.exe, err)
		} else {
			started := time.Now()
			if err := w.waitReady(ctx, p); err != nil {
				w.log.errorf("Custom handler did not become ready: %v", err)
				w.kill(p)
			} else {
				w.setReady(p)
			}
			select {
			case <-p.exited:
			case <-ctx.Done():
				w.stop(p)
				<-p.exited
			}
			w.setNotReady(p)
			if ctx.Err() != nil {
				return
			}
			w.log.errorf("Language Worker Process exited. Pid=%d, exit code %d. Restarting.", p.cmd.Process.Pid, p.cmd.ProcessState.ExitCode())
			if time.Since(started) > 10*time.Second {
				backoff = 100 * time.Millisecond // it ran fine for a while: restart promptly
			}
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
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

func (w *worker) start() (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.starts++
	w.notifyLocked()
	id := uuid.NewString()
	w.mu.Unlock()
	cmd := exec.Command(w.exe, w.args...)
	cmd.Dir = w.dir
	ps := strconv.Itoa(port)
	cmd.Env = append(append([]string{}, w.env...),
		"FUNCTIONS_CUSTOMHANDLER_PORT="+ps, "FUNCTIONS_HTTPWORKER_PORT="+ps,
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID="+id, "FUNCTIONS_HTTPWORKER_ID="+id,
		"FUNCTIONS_APP_ROOT_PATH="+w.appRoot)
	// Own process group, so stopping the host stops anything the handler started too; and on
	// Linux the handler dies with the host however the host ends (see handlerProcAttr).
	cmd.SysProcAttr = handlerProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, port: port, base: "http://127.0.0.1:" + ps, exited: make(chan struct{})}
	w.log.infof("Starting custom handler %s (Pid=%d, port %d)", w.exe, cmd.Process.Pid, port)
	var pipes sync.WaitGroup
	pipes.Add(2)
	go func() { defer pipes.Done(); w.pipe(stdout, false) }()
	go func() { defer pipes.Done(); w.pipe(stderr, true) }()
	go func() {
		pipes.Wait() // Wait must follow the pipe readers (os/exec rule)
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// pipe relays handler output: stdout lines are Information logs, stderr lines Error logs.
func (w *worker) pipe(r io.Reader, isErr bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if isErr {
			w.log.handlerErr(sc.Text())
		} else {
			w.log.handlerOut(sc.Text())
		}
	}
}

func (w *worker) waitReady(ctx context.Context, p *process) error {
	deadline := time.NewTimer(w.readyFor)
	defer deadline.Stop()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/", nil)
		if resp, err := w.client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-tick.C:
		case <-p.exited:
			return fmt.Errorf("process exited with code %d before listening on FUNCTIONS_CUSTOMHANDLER_PORT", p.cmd.ProcessState.ExitCode())
		case <-deadline.C:
			return fmt.Errorf("no HTTP answer on port %d within %s", p.port, w.readyFor)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (w *worker) setReady(p *process) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cur = p
	close(w.readyCh)
	w.notifyLocked()
	w.log.infof("Custom handler ready (Pid=%d)", p.cmd.Process.Pid)
}

func (w *worker) setNotReady(p *process) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur == p {
		w.cur = nil
		w.readyCh = make(chan struct{})
		w.notifyLocked()
	}
}

func (w *worker) notifyLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// awaitReadyStart waits until the n-th process has started and is ready.
func (w *worker) awaitReadyStart(ctx context.Context, n int) error {
	for {
		w.mu.Lock()
		ok, ch := w.starts >= n && w.cur != nil, w.changed
		w.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// acquire waits until a handler process is ready and returns it.
func (w *worker) acquire(ctx context.Context) (*process, error) {
	for {
		w.mu.Lock()
		p, ch := w.cur, w.readyCh
		w.mu.Unlock()
		if p != nil {
			return p, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("custom handler not ready: %w", ctx.Err())
		}
	}
}

// suspect takes p out of service after a request to it failed at the connection level. A dead
// process must not get the redeliveries that follow before the supervisor notices its exit (each
// would fail at once and burn a delivery attempt). The real host does the same: when its HTTP
// worker errors, HttpFunctionInvocationDispatcher.DisposeAndRestartWorkerChannel sets the state
// WorkerProcessRestarting, and WorkerFunctionInvoker.InvokeCore holds every invocation
// (DelayUntilFunctionDispatcherInitializedOrShutdown) until the restarted worker is initialized
// (Azure/azure-functions-host, src/WebJobs.Script/Workers/Http/HttpFunctionInvocationDispatcher.cs
// and src/WebJobs.Script/Description/Workers/WorkerFunctionInvoker.cs). A process that still
// answers (only a connection dropped) is put back once it answers the readiness probe.
func (w *worker) suspect(p *process) {
	w.mu.Lock()
	if w.cur != p {
		w.mu.Unlock()
		return
	}
	w.cur = nil
	w.readyCh = make(chan struct{})
	w.notifyLocked()
	w.mu.Unlock()
	w.log.errorf("Custom handler (Pid=%d) dropped a connection: no invocations until it answers again or is restarted", p.cmd.Process.Pid)
	go func() {
		if err := w.waitReady(context.Background(), p); err != nil {
			select {
			case <-p.exited: // it died: run restarts it
			default: // alive but not answering: restart it rather than wait forever
				w.log.errorf("Custom handler (Pid=%d) does not answer (%v): restarting it", p.cmd.Process.Pid, err)
				w.kill(p)
			}
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		select {
		case <-p.exited:
			return
		default:
		}
		if w.cur == nil {
			w.cur = p
			close(w.readyCh)
			w.notifyLocked()
		}
	}()
}

// restart kills p (if it is still the current process): used when an invocation times out,
// which in the real host restarts the worker and fails every in-flight invocation with it.
func (w *worker) restart(p *process, reason string) {
	w.log.errorf("Restarting custom handler (Pid=%d): %s", p.cmd.Process.Pid, reason)
	w.setNotReady(p) // no new invocation may reach the process being killed
	w.kill(p)
}

func (w *worker) kill(p *process) {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// stop asks the handler to shut down gracefully, then kills it.
func (w *worker) stop(p *process) {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		w.kill(p)
	}
}

// startCount reports how many processes were started (tests observe restarts with it).
func (w *worker) startCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.starts
}
