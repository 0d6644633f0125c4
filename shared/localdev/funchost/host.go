package funchost

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/funchost/sbqueue"
)

// Options configures a local host.
type Options struct {
	// Root is the function app root (host.json, functions/).
	Root string
	// Settings are the app settings (local.settings.json Values plus overrides); the handler gets
	// them as environment variables, on top of the host's own environment.
	Settings map[string]string
	// Listen is the HTTP address, default 127.0.0.1:7071. Port 0 picks a free port.
	Listen string
	// Executable overrides host.json's defaultExecutablePath (relative paths are from Root).
	Executable string
	// Key is the local function and master key; empty generates one.
	Key string
	// StateDir keeps timer schedule status across restarts (the host's schedule monitor);
	// empty keeps it in memory.
	StateDir string
	// Queue options for every embedded queue (MaxDeliveryCount, LockDuration, ...).
	Queue sbqueue.Options
	// ReadyTimeout bounds the wait for the handler's first answer (default 30s, as the host).
	ReadyTimeout time.Duration
	// DisableTimers stops timers from firing on schedule (they can still be fired by the admin API).
	DisableTimers bool
	// Log receives the host's console lines; nil discards them.
	Log io.Writer
	// OnInvocation, if set, is called after every invocation (tests and tools observe with it).
	OnInvocation func(Invocation)
	// Env is the base environment for the handler; nil means os.Environ().
	Env []string
	// HTTPResponseLimit is how long an HTTP function may take to begin its answer (default 230 s,
	// Azure's; see httplimits.go).
	HTTPResponseLimit time.Duration
}

// Host is a running local Functions host.
type Host struct {
	opts   Options
	app    *App
	log    *hostLog
	worker *worker
	key    string

	ln  net.Listener
	srv *http.Server

	queues map[string]*sbqueue.Queue
	timers map[string]*timerRunner
	auth   *easyAuth // local App Service Authentication; nil when off

	mu      sync.Mutex
	history []Invocation

	ctx    context.Context // ends at Close; background work hangs off it
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// maxHistory bounds the invocation history kept for the admin API.
const maxHistory = 1000

// Start loads the app, starts the handler and waits for it to be ready, then serves HTTP and runs
// timers and queue triggers until Close.
func Start(opts Options) (*Host, error) {
	if opts.Root == "" {
		opts.Root = "."
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:7071"
	}
	app, err := LoadApp(opts.Root, opts.Settings)
	if err != nil {
		return nil, err
	}
	h := &Host{opts: opts, app: app, log: &hostLog{w: opts.Log}, key: opts.Key, queues: map[string]*sbqueue.Queue{}, timers: map[string]*timerRunner{}}
	if h.auth, err = newEasyAuth(opts.Settings); err != nil {
		return nil, err
	}
	if h.auth != nil && h.auth.unavailable != nil {
		h.log.errorf("local App Service Authentication: %v", h.auth.unavailable)
	}
	if h.key == "" {
		var b [24]byte
		_, _ = rand.Read(b[:])
		h.key = base64.RawURLEncoding.EncodeToString(b[:])
	}
	for _, f := range app.Functions {
		if f.Trigger.Type == TriggerServiceBus {
			if _, ok := h.queues[f.Trigger.QueueName]; !ok {
				h.queues[f.Trigger.QueueName] = sbqueue.New(f.Trigger.QueueName, opts.Queue)
			}
		}
	}

	exe := opts.Executable
	if exe == "" {
		exe = app.Host.Executable
	}
	if !filepath.IsAbs(exe) {
		exe = filepath.Join(opts.Root, exe)
	}
	if _, err := os.Stat(exe); err != nil {
		return nil, fmt.Errorf("custom handler executable: %w (build it first, e.g. make build)", err)
	}
	dir := opts.Root
	if app.Host.WorkingDir != "" {
		dir = filepath.Join(opts.Root, app.Host.WorkingDir)
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	for k, v := range opts.Settings {
		env = append(env, k+"="+v)
	}
	absRoot, _ := filepath.Abs(opts.Root)
	h.worker = newWorker(exe, app.Host.Arguments, dir, absRoot, env, opts.ReadyTimeout, h.log)

	ctx, cancel := context.WithCancel(context.Background())
	h.ctx, h.cancel = ctx, cancel
	h.background(h.worker.run)

	readyCtx, readyCancel := context.WithTimeout(ctx, h.worker.readyFor+time.Second)
	_, err = h.worker.acquire(readyCtx)
	readyCancel()
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("the custom handler did not start: %w (see the log lines above)", err)
	}

	if h.ln, err = net.Listen("tcp", opts.Listen); err != nil {
		h.Close()
		return nil, fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	h.srv = &http.Server{Handler: h.front(), ReadHeaderTimeout: 30 * time.Second}
	h.wg.Add(1)
	go func() { defer h.wg.Done(); _ = h.srv.Serve(h.ln) }()

	for _, f := range app.Functions {
		switch f.Trigger.Type {
		case TriggerTimer:
			t := h.newTimer(f)
			h.timers[f.Name] = t
			if !opts.DisableTimers {
				h.background(t.run)
			}
		case TriggerServiceBus:
			q := h.queues[f.Trigger.QueueName]
			for range app.Host.ServiceBus.MaxConcurrentCalls {
				h.background(func(ctx context.Context) { h.consume(ctx, f, q) })
			}
		}
	}
	h.printFunctions()
	return h, nil
}

// background runs f until it returns; Close cancels its context and waits for it.
func (h *Host) background(f func(ctx context.Context)) {
	h.wg.Add(1)
	go func() { defer h.wg.Done(); f(h.ctx) }()
}

// Close stops triggers, the HTTP server and the handler.
func (h *Host) Close() {
	if h.srv != nil {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = h.srv.Shutdown(shutdown)
		cancel()
	}
	h.cancel()
	h.wg.Wait()
}

// URL is the host's base URL, e.g. http://127.0.0.1:7071.
func (h *Host) URL() string { return "http://" + h.ln.Addr().String() }

// Key is the local function and master key.
func (h *Host) Key() string { return h.key }

// Queue returns the embedded queue called name, or nil.
func (h *Host) Queue(name string) *sbqueue.Queue { return h.queues[name] }

// HandlerStarts reports how many handler processes were started (1 unless it was restarted).
func (h *Host) HandlerStarts() int { return h.worker.startCount() }

// Invocations returns the recorded invocations, oldest first.
func (h *Host) Invocations() []Invocation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Invocation(nil), h.history...)
}

func (h *Host) record(inv Invocation) {
	h.mu.Lock()
	h.history = append(h.history, inv)
	if len(h.history) > maxHistory {
		h.history = h.history[len(h.history)-maxHistory:]
	}
	h.mu.Unlock()
	if h.opts.OnInvocation != nil {
		h.opts.OnInvocation(inv)
	}
}

// Fire runs a timer or Service Bus function now, as POST /admin/functions/{name} does. For a
// Service Bus function input is the message body, delivered directly (not through the queue).
func (h *Host) Fire(ctx context.Context, name, input string) error {
	f := h.function(name)
	if f == nil {
		return fmt.Errorf("no function named %s", name)
	}
	switch f.Trigger.Type {
	case TriggerTimer:
		return h.timers[f.Name].fire(ctx, "This function was programmatically called via the host APIs.", false, time.Time{})
	case TriggerServiceBus:
		d := &sbqueue.Delivery{Message: sbqueue.Message{MessageID: strings.ReplaceAll(uuid.NewString(), "-", ""), Body: []byte(input)}, DeliveryCount: 1, EnqueuedTime: time.Now(), ExpiresAt: time.Now().Add(sbqueue.DefaultTimeToLive)}
		_, err := h.invokeServiceBus(ctx, f, d, "This function was programmatically called via the host APIs.")
		return err
	}
	return fmt.Errorf("function %s is an HTTP function: call its route instead", name)
}

func (h *Host) function(name string) *Function {
	for _, f := range h.app.Functions {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

func (h *Host) printFunctions() {
	var lines []string
	for _, f := range h.app.Functions {
		switch f.Trigger.Type {
		case TriggerHTTP:
			methods := "[GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS]"
			if len(f.Trigger.Methods) > 0 {
				methods = "[" + strings.ToUpper(strings.Join(f.Trigger.Methods, ",")) + "]"
			}
			lines = append(lines, fmt.Sprintf("        %s: %s %s/%s (authLevel %s)", f.Name, methods, h.URL(), f.route.text, strings.ToLower(f.Trigger.AuthLevel)))
		case TriggerTimer:
			lines = append(lines, fmt.Sprintf("        %s: timerTrigger (%s)", f.Name, f.schedule))
		case TriggerServiceBus:
			lines = append(lines, fmt.Sprintf("        %s: serviceBusTrigger (queue %s)", f.Name, f.Trigger.QueueName))
		}
	}
	sort.Strings(lines)
	h.log.infof("Functions:\n%s", strings.Join(lines, "\n"))
	h.log.infof("Host listening on %s; local function and master key: %s", h.URL(), h.key)
}
