package funchost

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/funchost/sbqueue"
	"github.com/tenantsync/tenantsync/shared/localdev/testkit"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/queue/localqueue"
)

// fixture is a function app on disk served by a local host whose handler is the fake handler.
type fixture struct {
	t      *testing.T
	host   *Host
	record string
	log    *testkit.LogBuffer
	events chan Invocation
}

const testHostJSON = `{
  "version": "2.0",
  "functionTimeout": "%TIMEOUT%",
  "customHandler": {"description": {"defaultExecutablePath": "handler", "workingDirectory": "", "arguments": []}, "enableForwardingHttpRequest": true},
  "extensions": {"serviceBus": {"maxConcurrentCalls": 4, "autoCompleteMessages": true, "maxAutoLockRenewalDuration": "00:05:00"}}
}`

var testFunctions = map[string]string{
	"Timer1":        `{"bindings":[{"name":"timer","type":"timerTrigger","direction":"in","schedule":"%TIMER_SCHEDULE%"}]}`,
	"Startup":       `{"bindings":[{"name":"myTimer","type":"timerTrigger","direction":"in","schedule":"0 0 0 1 1 *","runOnStartup":true}]}`,
	"SbOk":          `{"bindings":[{"name":"msg","type":"serviceBusTrigger","direction":"in","queueName":"ok-queue","connection":"ServiceBusConnection","dataType":"binary"}]}`,
	"SbFail":        `{"bindings":[{"name":"msg","type":"serviceBusTrigger","direction":"in","queueName":"fail-queue","connection":"ServiceBusConnection","dataType":"binary"}]}`,
	"SbString":      `{"bindings":[{"name":"msg","type":"serviceBusTrigger","direction":"in","queueName":"string-queue","connection":"ServiceBusConnection"}]}`,
	"Crash":         `{"bindings":[{"name":"timer","type":"timerTrigger","direction":"in","schedule":"0 0 0 1 1 *"}]}`,
	"Deaf":          `{"bindings":[{"name":"timer","type":"timerTrigger","direction":"in","schedule":"0 0 0 1 1 *"}]}`,
	"Slow":          `{"bindings":[{"name":"timer","type":"timerTrigger","direction":"in","schedule":"0 0 0 1 1 *"}]}`,
	"NoContentType": `{"bindings":[{"name":"timer","type":"timerTrigger","direction":"in","schedule":"0 0 0 1 1 *"}]}`,
	"Empty":         `{"bindings":[{"name":"timer","type":"timerTrigger","direction":"in","schedule":"0 0 0 1 1 *"}]}`,
	"Cookies":       `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in","authLevel":"anonymous","methods":["get","post"],"route":"cookies"},{"name":"res","type":"http","direction":"out"}]}`,
	"Redirect":      `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in","authLevel":"anonymous","route":"redirect"},{"name":"res","type":"http","direction":"out"}]}`,
	"Tenant":        `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in","methods":["get"],"route":"tenants/{tenantId:guid}/{collection?}"},{"name":"res","type":"http","direction":"out"}]}`,
	"TenantList":    `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in","methods":["get"],"route":"tenants/list"},{"name":"res","type":"http","direction":"out"}]}`,
	"Payload":       `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in","authLevel":"anonymous","route":"payload/{id:int}"},{"name":"res","type":"http","direction":"out"},{"name":"extra","type":"blob","direction":"in"}]}`,
	"SlowHTTP":      `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in","authLevel":"anonymous","route":"slow"},{"name":"res","type":"http","direction":"out"}]}`,
}

type fixtureOpts struct {
	timeout       string
	schedule      string
	disableTimers bool
	maxDelivery   int
	stateDir      string
	readyTimeout  time.Duration
	responseLimit time.Duration // Options.HTTPResponseLimit (0: Azure's 230 s)
}

func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	root := t.TempDir()
	if o.timeout == "" {
		o.timeout = "00:00:30"
	}
	if o.schedule == "" {
		o.schedule = "0 0 0 1 1 *"
	}
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "host.json"), strings.ReplaceAll(testHostJSON, "%TIMEOUT%", o.timeout))
	for name, fj := range testFunctions {
		write(filepath.Join(root, "functions", name, "function.json"), fj)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, record: filepath.Join(root, "record.jsonl"), log: &testkit.LogBuffer{}, events: make(chan Invocation, 1000)}
	h, err := Start(Options{
		Root:              root,
		Settings:          map[string]string{"TIMER_SCHEDULE": o.schedule, "SOME_SETTING": "from-settings"},
		Listen:            "127.0.0.1:0",
		Executable:        exe,
		Key:               "test-key",
		StateDir:          o.stateDir,
		ReadyTimeout:      o.readyTimeout,
		Queue:             sbqueue.Options{MaxDeliveryCount: o.maxDelivery},
		DisableTimers:     o.disableTimers,
		HTTPResponseLimit: o.responseLimit,
		Log:               f.log,
		OnInvocation:      func(inv Invocation) { f.events <- inv },
		Env:               append(os.Environ(), "FUNCHOST_FAKE_HANDLER=1", "FAKE_RECORD="+filepath.Join(root, "record.jsonl")),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.host = h
	t.Cleanup(func() {
		h.Close()
		if t.Failed() {
			t.Logf("host log:\n%s", f.log.String())
		}
	})
	return f
}

// next waits for the next invocation of function (others are skipped); the deadline only
// bounds a broken test, the wait itself is event-driven.
func (f *fixture) next(function string) Invocation {
	f.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case inv := <-f.events:
			if inv.Function == function {
				return inv
			}
		case <-deadline:
			f.t.Fatalf("no invocation of %s within 20s", function)
		}
	}
}

// requests returns what the fake handler recorded for path.
func (f *fixture) requests(path string) []recorded {
	f.t.Helper()
	file, err := os.Open(f.record)
	if err != nil {
		f.t.Fatal(err)
	}
	defer file.Close()
	var out []recorded
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r recorded
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			f.t.Fatal(err)
		}
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (f *fixture) do(method, path string, body io.Reader, header map[string]string) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.host.URL()+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func decodeInvocation(t *testing.T, r recorded) (map[string]json.RawMessage, map[string]json.RawMessage) {
	t.Helper()
	var p struct {
		Data     map[string]json.RawMessage
		Metadata map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil {
		t.Fatalf("invocation body is not the host's payload: %v: %s", err, r.Body)
	}
	return p.Data, p.Metadata
}

func TestStartupEnvironmentAndLogs(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	if err := f.host.Fire(context.Background(), "Timer1", ""); err != nil {
		t.Fatal(err)
	}
	r := f.requests("/Timer1")[0]
	// The fake handler listened on FUNCTIONS_CUSTOMHANDLER_PORT, or this request never arrived.
	if got := r.Headers["User-Agent"]; len(got) != 1 || !strings.HasPrefix(got[0], "Azure-Functions-Host/") {
		t.Errorf("User-Agent = %v", got)
	}
	log := f.log.String()
	for _, want := range []string{"fake handler starting", "ERROR: handler: fake handler stderr line", "Executing 'Functions.Timer1'", "Executed 'Functions.Timer1' (Succeeded", "ok from Timer1"} {
		if !strings.Contains(log, want) {
			t.Errorf("host log lacks %q", want)
		}
	}
}

func TestTimerInvocationShape(t *testing.T) {
	f := newFixture(t, fixtureOpts{schedule: "*/1 * * * * *"})
	inv := f.next("Timer1")
	if !inv.Succeeded {
		t.Fatalf("invocation failed: %+v", inv)
	}
	r := f.requests("/Timer1")[0]
	if r.Method != http.MethodPost || r.Headers["Content-Type"][0] != "application/json; charset=utf-8" {
		t.Errorf("method %s content type %v", r.Method, r.Headers["Content-Type"])
	}
	if got := r.Headers["X-Azure-Functions-Invocationid"]; len(got) != 1 || got[0] != inv.ID {
		t.Errorf("X-Azure-Functions-InvocationId = %v, want %s", got, inv.ID)
	}
	if len(r.Headers["Traceparent"]) != 1 || len(r.Headers["X-Azure-Functions-Hostversion"]) != 1 {
		t.Errorf("traceparent/host version headers missing: %v", r.Headers)
	}
	data, md := decodeInvocation(t, r)
	var timer struct {
		Schedule       map[string]bool
		ScheduleStatus map[string]string
		IsPastDue      *bool
	}
	if err := json.Unmarshal(data["timer"], &timer); err != nil {
		t.Fatal(err)
	}
	if !timer.Schedule["AdjustForDST"] || timer.IsPastDue == nil || *timer.IsPastDue {
		t.Errorf("timer payload %s", data["timer"])
	}
	// Every-second schedules are not monitored (as in the host): ScheduleStatus is null.
	if string(data["timer"]) != "" && timer.ScheduleStatus != nil {
		t.Errorf("ScheduleStatus = %v, want null for a sub-minute schedule", timer.ScheduleStatus)
	}
	var sys map[string]string
	if err := json.Unmarshal(md["sys"], &sys); err != nil || sys["MethodName"] != "Timer1" || sys["UtcNow"] == "" || sys["RandGuid"] == "" {
		t.Errorf("Metadata.sys = %s", md["sys"])
	}
	if len(md) != 1 {
		t.Errorf("timer Metadata has keys beyond sys: %s", r.Body)
	}
}

func TestTimerRunOnStartupAndMonitorStatus(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	inv := f.next("Startup")
	if !inv.Succeeded || !strings.Contains(inv.Reason, "runOnStartup") {
		t.Fatalf("startup invocation %+v", inv)
	}
	data, _ := decodeInvocation(t, f.requests("/Startup")[0])
	var timer struct {
		ScheduleStatus *struct{ Last, Next, LastUpdated string }
	}
	if err := json.Unmarshal(data["myTimer"], &timer); err != nil || timer.ScheduleStatus == nil {
		t.Fatalf("ScheduleStatus missing for a monitored schedule: %s", data["myTimer"])
	}
	if timer.ScheduleStatus.Last != "0001-01-01T00:00:00" || !strings.HasPrefix(timer.ScheduleStatus.Next, "20") || !strings.HasSuffix(timer.ScheduleStatus.Next, "-01-01T00:00:00.0000000+00:00") {
		t.Errorf("ScheduleStatus = %+v", timer.ScheduleStatus)
	}
}

func TestTimerPastDueAfterMissedOccurrence(t *testing.T) {
	state := t.TempDir()
	// A monitor record whose next occurrence passed while the host was down.
	status := `{"Last":"2020-01-01T00:00:00Z","Next":"2021-01-01T00:00:00Z","LastUpdated":"2020-01-01T00:00:00Z"}`
	if err := os.MkdirAll(filepath.Join(state, "timers"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "timers", "Crash.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "timers", "Timer1.json"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOpts{stateDir: state, schedule: "0 0 0 1 1 *"})
	inv := f.next("Timer1")
	if !strings.Contains(inv.Reason, "past due") {
		t.Errorf("reason %q", inv.Reason)
	}
	data, _ := decodeInvocation(t, f.requests("/Timer1")[0])
	if !strings.Contains(string(data["timer"]), `"IsPastDue":true`) || !strings.Contains(string(data["timer"]), `"Next":"2021-01-01T00:00:00.0000000+00:00"`) {
		t.Errorf("timer payload %s", data["timer"])
	}
	// The monitor moved on and persisted the new status (saved after the invocation; Close waits
	// for the timer loop).
	f.host.Close()
	b, err := os.ReadFile(filepath.Join(state, "timers", "Timer1.json"))
	if err != nil || !strings.Contains(string(b), `"Last":"2021-01-01T00:00:00Z"`) {
		t.Errorf("persisted status %s, %v", b, err)
	}
}

func TestServiceBusInvocationShape(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	body := `{"tenantId":"abc","attempt":2,"nested":{"x":1}}`
	res, err := f.host.Queue("ok-queue").Send(sbqueue.Message{
		MessageID: "tenant-abc", Body: []byte(body), ContentType: "application/json", CorrelationID: "run-1",
		Subject: "sync", ApplicationProperties: map[string]any{"runId": "run-1"},
	})
	if err != nil || len(res.SequenceNumbers) != 1 {
		t.Fatal(res, err)
	}
	if inv := f.next("SbOk"); !inv.Succeeded || inv.Reason != "New ServiceBus message detected on 'ok-queue'." {
		t.Fatalf("%+v", inv)
	}
	data, md := decodeInvocation(t, f.requests("/SbOk")[0])
	var b64 string
	if err := json.Unmarshal(data["msg"], &b64); err != nil {
		t.Fatal(err)
	}
	if raw, _ := base64.StdEncoding.DecodeString(b64); string(raw) != body {
		t.Errorf("binary body = %q, want base64 of the message body", raw)
	}
	want := map[string]string{
		"DeliveryCount":  `"1"`,
		"MessageId":      `"\"tenant-abc\""`,
		"ContentType":    `"\"application/json\""`,
		"CorrelationId":  `"\"run-1\""`,
		"Subject":        `"\"sync\""`,
		"SequenceNumber": `"1"`,
		"tenantId":       `"\"abc\""`, // the JSON body's top-level scalars
		"attempt":        `"2"`,
	}
	for k, v := range want {
		if string(md[k]) != v {
			t.Errorf("Metadata.%s = %s, want %s", k, md[k], v)
		}
	}
	if _, ok := md["nested"]; ok {
		t.Error("a nested object of the body was merged into Metadata")
	}
	if _, ok := md["SessionId"]; ok {
		t.Error("null-valued key SessionId present; the host omits nulls")
	}
	var enq string
	_ = json.Unmarshal(md["EnqueuedTimeUtc"], &enq)
	if _, err := time.Parse("2006-01-02T15:04:05", enq); err != nil {
		t.Errorf("EnqueuedTimeUtc %q is not a zone-less DateTime", enq)
	}
	var lock string
	_ = json.Unmarshal(md["LockToken"], &lock)
	if !strings.HasPrefix(lock, `"`) || len(lock) != 38 {
		t.Errorf("LockToken = %s, want a JSON-encoded GUID string", md["LockToken"])
	}
	if string(md["ApplicationProperties"]) != `{"runId":"run-1"}` {
		t.Errorf("ApplicationProperties = %s, want a real object", md["ApplicationProperties"])
	}
	if err := f.host.Queue("ok-queue").WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := f.host.Queue("ok-queue").Stats(); s.Completed != 1 {
		t.Errorf("message not auto-completed: %+v", s)
	}
}

func TestServiceBusWithoutBinaryIsDoubleEncoded(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	if _, err := f.host.Queue("string-queue").Send(sbqueue.Message{MessageID: "m", Body: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	f.next("SbString")
	data, _ := decodeInvocation(t, f.requests("/SbString")[0])
	if string(data["msg"]) != `"\"{\\\"a\\\":1}\""` {
		t.Errorf("Data.msg = %s, want the body JSON-encoded twice", data["msg"])
	}
}

func TestFailureRedeliversThenDeadLetters(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true, maxDelivery: 3})
	q := f.host.Queue("fail-queue")
	if _, err := q.Send(sbqueue.Message{MessageID: "poison", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if inv := f.next("SbFail"); inv.Succeeded || inv.Status != 500 {
			t.Fatalf("delivery %d: %+v", i+1, inv)
		}
	}
	if err := q.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests("/SbFail")
	if len(reqs) != 3 {
		t.Fatalf("%d deliveries, want exactly MaxDeliveryCount=3", len(reqs))
	}
	for i, r := range reqs {
		_, md := decodeInvocation(t, r)
		if want := `"` + string(rune('1'+i)) + `"`; string(md["DeliveryCount"]) != want {
			t.Errorf("delivery %d DeliveryCount = %s, want %s", i+1, md["DeliveryCount"], want)
		}
	}
	dl := q.DeadLetters()
	if len(dl) != 1 || dl[0].DeadLetterReason != "MaxDeliveryCountExceeded" || dl[0].MessageID != "poison" {
		t.Fatalf("dead letters %+v", dl)
	}
	if !strings.Contains(f.log.String(), "simulated failure") {
		t.Error("the failed invocation's Logs were not shown")
	}
	// Resubmitting through the admin API brings it back for another round of deliveries.
	resp := f.do(http.MethodPost, "/admin/queues/fail-queue/deadletter/resubmit", nil, map[string]string{"x-functions-key": "test-key"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resubmit: %s", resp.Status)
	}
	if inv := f.next("SbFail"); inv.Succeeded {
		t.Fatal("resubmitted message should fail again")
	}
}

func TestDuplicateMessageIDDropped(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	send := func() map[string][]any {
		resp := f.do(http.MethodPost, "/admin/queues/ok-queue/messages", strings.NewReader(`[{"messageId":"tenant-1:20261122T0600Z","body":"e30="}]`), nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("send: %s", resp.Status)
		}
		var out map[string][]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	first, second := send(), send()
	if len(first["sequenceNumbers"]) != 1 || len(second["duplicates"]) != 1 || len(second["sequenceNumbers"]) != 0 {
		t.Fatalf("first %v second %v", first, second)
	}
	f.next("SbOk")
	if err := f.host.Queue("ok-queue").WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.requests("/SbOk")); n != 1 {
		t.Errorf("%d deliveries of a duplicated MessageId, want 1", n)
	}
}

func TestScheduledMessageNotDeliveredEarly(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	at := time.Now().Add(1500 * time.Millisecond)
	if _, err := f.host.Queue("ok-queue").Send(sbqueue.Message{MessageID: "later", Body: []byte("{}"), ScheduledEnqueueTime: at}); err != nil {
		t.Fatal(err)
	}
	if s := f.host.Queue("ok-queue").Stats(); s.Scheduled != 1 || s.Active != 0 {
		t.Fatalf("stats after scheduling: %+v", s)
	}
	inv := f.next("SbOk")
	if inv.Start.Before(at) {
		t.Errorf("delivered at %s, before its scheduled time %s", inv.Start, at)
	}
	_, md := decodeInvocation(t, f.requests("/SbOk")[0])
	var enq string
	_ = json.Unmarshal(md["EnqueuedTimeUtc"], &enq)
	if enq != at.UTC().Format("2006-01-02T15:04:05") {
		t.Errorf("EnqueuedTimeUtc %s, want the scheduled time %s", enq, at.UTC().Format("2006-01-02T15:04:05"))
	}
}

func TestHandlerCrashRestarts(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	if err := f.host.Fire(context.Background(), "Crash", ""); err == nil {
		t.Fatal("invocation of a crashing handler succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.host.worker.awaitReadyStart(ctx, 2); err != nil {
		t.Fatalf("handler was not restarted: %v", err)
	}
	if err := f.host.Fire(context.Background(), "Timer1", ""); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if n := f.host.HandlerStarts(); n != 2 {
		t.Errorf("handler started %d times, want 2", n)
	}
	crash, after := f.requests("/Crash")[0], f.requests("/Timer1")[0]
	if crash.Pid == after.Pid {
		t.Error("the invocation after the crash was served by the crashed process")
	}
	if !strings.Contains(f.log.String(), "Language Worker Process exited") {
		t.Error("the crash was not logged")
	}
}

// An invocation right after a crash waits for the restarted handler instead of being sent to the
// dead one's port (which fails at once and, for a queue message, burns a delivery attempt), as
// the real host holds invocations while its worker restarts.
func TestInvocationAfterCrashWaitsForRestart(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	for i := 1; i <= 3; i++ {
		if err := f.host.Fire(context.Background(), "Crash", ""); err == nil {
			t.Fatal("invocation of a crashing handler succeeded")
		}
		// No waiting here: the host must do it.
		if err := f.host.Fire(context.Background(), "Timer1", ""); err != nil {
			t.Fatalf("invocation right after crash %d: %v", i, err)
		}
	}
	if n := f.host.HandlerStarts(); n != 4 {
		t.Errorf("handler started %d times, want 4 (one restart per crash)", n)
	}
}

// A handler that drops a connection and then stops answering (alive, listener closed) is
// restarted once it fails the readiness probe, instead of holding every invocation forever.
func TestDeafHandlerIsRestarted(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true, readyTimeout: 5 * time.Second})
	if err := f.host.Fire(context.Background(), "Deaf", ""); err == nil {
		t.Fatal("invocation of a handler that dropped its connection succeeded")
	}
	if err := f.host.Fire(context.Background(), "Timer1", ""); err != nil {
		t.Fatalf("invocation after the handler went deaf: %v", err)
	}
	if n := f.host.HandlerStarts(); n != 2 {
		t.Errorf("handler started %d times, want 2", n)
	}
	if !strings.Contains(f.log.String(), "does not answer") {
		t.Error("the restart of the deaf handler was not logged")
	}
}

func TestFunctionTimeoutRestartsHandler(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true, timeout: "00:00:01"})
	err := f.host.Fire(context.Background(), "Slow", "")
	if err == nil || !strings.Contains(err.Error(), "timeout value of 1s was exceeded") {
		t.Fatalf("err = %v", err)
	}
	if err := f.host.Fire(context.Background(), "Timer1", ""); err != nil {
		t.Fatal(err)
	}
	if n := f.host.HandlerStarts(); n != 2 {
		t.Errorf("handler started %d times after a timeout, want 2 (the host restarts it)", n)
	}
}

func TestBadAnswersFailTheInvocation(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	for fn, want := range map[string]string{"NoContentType": "Content-Type", "Empty": "hang until functionTimeout"} {
		err := f.host.Fire(context.Background(), fn, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want mention of %q", fn, err, want)
		}
	}
}

func TestHTTPForwardingRelaysUnchanged(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	resp := f.do(http.MethodPost, "/api/cookies?x=1&x=2", strings.NewReader("hello"), map[string]string{"X-Test": "v", "Content-Type": "text/plain"})
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status %d, want 201", resp.StatusCode)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
		t.Errorf("Set-Cookie = %v, want both cookies", got)
	}
	if resp.Header.Get("X-Custom") != "yes" {
		t.Error("custom header not relayed")
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "made" {
		t.Errorf("body %q", b)
	}
	r := f.requests("/api/cookies")[0]
	if r.Method != http.MethodPost || r.Query != "x=1&x=2" || r.Body != "hello" || r.Headers["X-Test"][0] != "v" {
		t.Errorf("forwarded request %+v", r)
	}
	if !strings.HasPrefix(r.Host, "127.0.0.1:") || r.Host == "" {
		t.Errorf("Host %q: the original Host header must be kept", r.Host)
	}
	if len(r.Headers["X-Azure-Functions-Invocationid"]) != 1 {
		t.Error("forwarded request lacks X-Azure-Functions-InvocationId")
	}

	resp = f.do(http.MethodGet, "/api/redirect", nil, nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/api/elsewhere?x=1" {
		t.Errorf("redirect relayed as %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := len(f.requests("/api/elsewhere")); n != 0 {
		t.Error("the host followed the handler's redirect")
	}
}

func TestHTTPRoutesAndKeys(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	guid := "0b6f6c3e-6a1e-4c43-9a53-6d1a3f0e1a01"
	cases := []struct {
		method, path string
		key          string
		status       int
		handlerPath  string
	}{
		{"GET", "/api/tenants/" + guid, "", 401, ""},
		{"GET", "/api/tenants/" + guid + "?code=wrong", "", 401, ""},
		{"GET", "/api/tenants/" + guid + "?code=test-key", "", 200, "/api/tenants/" + guid},
		{"GET", "/api/tenants/" + guid + "/users", "test-key", 200, "/api/tenants/" + guid + "/users"},
		{"GET", "/api/TENANTS/list", "test-key", 200, "/api/TENANTS/list"}, // literal beats {tenantId:guid}
		{"GET", "/api/tenants/not-a-guid", "test-key", 404, ""},            // constraint
		{"POST", "/api/tenants/" + guid, "test-key", 404, ""},              // method not in "methods"
		{"GET", "/api/nothing", "test-key", 404, ""},
	}
	for _, c := range cases {
		h := map[string]string{}
		if c.key != "" {
			h["x-functions-key"] = c.key
		}
		resp := f.do(c.method, c.path, nil, h)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		if c.handlerPath != "" && len(f.requests(c.handlerPath)) == 0 {
			t.Errorf("%s %s did not reach the handler", c.method, c.path)
		}
	}
	if n := len(f.requests("/api/tenants/" + guid)); n != 1 {
		t.Errorf("unauthorised requests reached the handler: %d", n)
	}
	// The admin API needs the key too.
	if resp := f.do(http.MethodPost, "/admin/functions/Timer1", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("admin without key: %d", resp.StatusCode)
	}
	if resp := f.do(http.MethodPost, "/admin/functions/Timer1", strings.NewReader(`{"input":""}`), map[string]string{"x-functions-key": "test-key"}); resp.StatusCode != http.StatusAccepted {
		t.Errorf("admin fire: %d, want 202", resp.StatusCode)
	}
	f.next("Timer1")
}

func TestHTTPPayloadMode(t *testing.T) {
	// Payload has a third binding, so it is not forwarded: Data.req in, Outputs.res out.
	f := newFixture(t, fixtureOpts{disableTimers: true})
	resp := f.do(http.MethodPost, "/api/payload/42?a=1&a=2", strings.NewReader("body!"), map[string]string{"Content-Type": "text/plain"})
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 207 || resp.Header.Get("X-Echo") != "42" || string(b) != "POST:body!" {
		t.Errorf("answer %d %q %q", resp.StatusCode, resp.Header.Get("X-Echo"), b)
	}
	data, md := decodeInvocation(t, f.requests("/Payload")[0])
	var req struct {
		URL     string `json:"Url"`
		Query   map[string]string
		Headers map[string][]string
		Params  map[string]string
	}
	if err := json.Unmarshal(data["req"], &req); err != nil {
		t.Fatal(err)
	}
	if req.Query["a"] != "1,2" || req.Params["id"] != "42" || !strings.HasSuffix(req.URL, "/api/payload/42?a=1&a=2") || req.Headers["Content-Type"][0] != "text/plain" {
		t.Errorf("Data.req = %s", data["req"])
	}
	if string(md["id"]) != `"\"42\""` {
		t.Errorf("route parameter metadata = %s", md["id"])
	}
}

// The handler's local queue sender (shared/queue/localqueue) and the host's admin API agree on the
// wire format: every field a sender sets arrives in the delivery.
func TestLocalQueueSenderReachesEmbeddedQueue(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	sender := localqueue.New(f.host.URL(), "ok-queue")
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	err := sender.Send(context.Background(), []queue.Message{{ID: "id-1", Body: []byte(`{"x":1}`), ContentType: "application/json",
		CorrelationID: "corr", Subject: "subj", Properties: map[string]any{"p": "v"}, ScheduledEnqueueTime: at}})
	if err != nil {
		t.Fatal(err)
	}
	peek := f.host.Queue("ok-queue").Peek(10)
	if len(peek) != 1 {
		t.Fatalf("queue holds %d messages", len(peek))
	}
	m := peek[0]
	if m.MessageID != "id-1" || string(m.Body) != `{"x":1}` || m.ContentType != "application/json" || m.CorrelationID != "corr" ||
		m.Subject != "subj" || m.ApplicationProperties["p"] != "v" || !m.EnqueuedTime.Equal(at) {
		t.Errorf("delivered %+v", m)
	}
	if err := localqueue.New(f.host.URL(), "no-such-queue").Send(context.Background(), []queue.Message{{ID: "x"}}); err == nil || !strings.Contains(err.Error(), "no queue named") {
		t.Errorf("sending to an unknown queue: %v", err)
	}
}
