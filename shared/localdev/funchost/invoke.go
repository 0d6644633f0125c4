package funchost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// HostVersion is what the local host reports in X-Azure-Functions-HostVersion.
const HostVersion = "4.1037.0-tenantsync-local"

// Invocation is the record of one function execution.
type Invocation struct {
	ID        string        `json:"id"`
	Function  string        `json:"function"`
	Trigger   string        `json:"trigger"`
	Reason    string        `json:"reason"`
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"durationNs"`
	Succeeded bool          `json:"succeeded"`
	Status    int           `json:"status,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// payload is the host's invocation body.
type payload struct {
	Data     map[string]any `json:"Data"`
	Metadata map[string]any `json:"Metadata"`
}

// sysMetadata is the host's SystemBindingData.
func sysMetadata(function string, now time.Time) map[string]any {
	return map[string]any{"MethodName": function, "UtcNow": now.UTC().Format("2006-01-02T15:04:05.0000000Z"), "RandGuid": uuid.NewString()}
}

// scalar encodes a value the way GetHttpScriptInvocationContextValue does for anything that is
// not a byte array, object or DateTime: JSON-serialised into a string.
func scalar(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// hostDateTime is DateTime.Parse(value.ToString()) re-serialised: second precision, no zone.
func hostDateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// hostDateTimeOffset is the same for DateTimeOffset values, which keep their offset.
func hostDateTimeOffset(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

// invokeResult is what the handler answered.
type invokeResult struct {
	Outputs     map[string]json.RawMessage `json:"Outputs"`
	Logs        []string                   `json:"Logs"`
	ReturnValue json.RawMessage            `json:"ReturnValue"`
}

// invoke posts a non-HTTP invocation to /{FunctionName} and applies the host's rules to the
// answer. extra carries Metadata additions (RetryContext).
func (h *Host) invoke(ctx context.Context, f *Function, reason string, p payload) (*invokeResult, *Invocation, error) {
	inv := h.begin(f, reason)
	body, err := json.Marshal(p)
	if err != nil {
		return nil, inv, h.end(inv, 0, err)
	}
	var res *invokeResult
	status, err := h.roundTrip(ctx, inv, func(proc *process) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, proc.base+"/"+f.Name, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		return req, nil
	}, func(resp *http.Response) error {
		if resp.StatusCode/100 != 2 {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			h.relayLogs(f, msg)
			return fmt.Errorf("handler answered %s", resp.Status)
		}
		r, err := decodeResult(resp)
		res = r
		return err
	})
	if res != nil {
		for _, l := range res.Logs {
			h.log.infof("%s", l)
		}
	}
	return res, inv, h.end(inv, status, err)
}

// relayLogs prints the Logs of a failed invocation's body, when it has any, so the cause shows.
func (h *Host) relayLogs(f *Function, body []byte) {
	var r invokeResult
	if json.Unmarshal(body, &r) == nil {
		for _, l := range r.Logs {
			h.log.errorf("%s: %s", f.Name, l)
		}
	}
}

// decodeResult applies the host's checks on a 2xx answer: it must declare JSON and be an object.
func decodeResult(resp *http.Response) (*invokeResult, error) {
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != "application/json" {
		return nil, fmt.Errorf("handler answered with Content-Type %q: the host requires application/json and throws otherwise", ct)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 || string(t) == "null" {
		return nil, errors.New("handler answered with an empty or null body: in Azure this invocation would hang until functionTimeout")
	}
	var r invokeResult
	if t[0] != '{' || json.Unmarshal(t, &r) != nil {
		return nil, fmt.Errorf("handler answer is not a JSON object: %.200s", t)
	}
	return &r, nil
}

// roundTrip sends one request to the handler under functionTimeout. On timeout the handler process
// is restarted, as the host does, failing every in-flight invocation with it.
func (h *Host) roundTrip(ctx context.Context, inv *Invocation, build func(*process) (*http.Request, error), handle func(*http.Response) error) (int, error) {
	if h.app.Host.FunctionTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.app.Host.FunctionTimeout)
		defer cancel()
	}
	var resp *http.Response
	for {
		proc, err := h.worker.acquire(ctx)
		if err != nil {
			return 0, err
		}
		req, err := build(proc)
		if err != nil {
			return 0, err
		}
		req = req.WithContext(ctx)
		req.Header.Set("X-Azure-Functions-HostVersion", HostVersion)
		req.Header.Set("X-Azure-Functions-InvocationId", inv.ID)
		req.Header.Set("traceparent", traceparent())
		ua := "Azure-Functions-Host/" + HostVersion
		if prev := req.Header.Get("User-Agent"); prev != "" {
			ua = prev + " " + ua
		}
		req.Header.Set("User-Agent", ua)
		resp, err = h.worker.client.Do(req)
		if err == nil {
			break
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			h.worker.restart(proc, fmt.Sprintf("Timeout value of %s exceeded by function '%s' (Id: '%s')", h.app.Host.FunctionTimeout, inv.Function, inv.ID))
			return 0, fmt.Errorf("timeout value of %s was exceeded by function %s", h.app.Host.FunctionTimeout, inv.Function)
		}
		// The connection failed: the handler may have died. It stops receiving invocations at
		// once; the real host likewise holds invocations while its worker restarts (see
		// worker.suspect). An invocation that never reached the handler (connection refused,
		// the request replayable) waits for the restarted handler instead of failing, so a
		// crash costs no delivery attempt to messages the crashed process never saw.
		h.worker.suspect(proc)
		if errors.Is(err, syscall.ECONNREFUSED) && (req.Body == nil || req.GetBody != nil) && ctx.Err() == nil {
			continue
		}
		return 0, fmt.Errorf("calling the custom handler: %w", err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, handle(resp)
}

func traceparent() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}

func (h *Host) begin(f *Function, reason string) *Invocation {
	inv := &Invocation{ID: uuid.NewString(), Function: f.Name, Trigger: f.Trigger.Type, Reason: reason, Start: time.Now()}
	h.log.infof("Executing 'Functions.%s' (Reason='%s', Id=%s)", f.Name, reason, inv.ID)
	return inv
}

func (h *Host) end(inv *Invocation, status int, err error) error {
	inv.Duration = time.Since(inv.Start)
	inv.Status = status
	inv.Succeeded = err == nil
	outcome := "Succeeded"
	if err != nil {
		inv.Error = err.Error()
		outcome = "Failed"
		h.log.errorf("Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms): %v", inv.Function, inv.ID, inv.Duration.Milliseconds(), err)
	} else {
		h.log.infof("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", inv.Function, outcome, inv.ID, inv.Duration.Milliseconds())
	}
	h.record(*inv)
	return err
}

// httpPayload builds the payload-mode Data.req object (GetRequestAsJObject).
func httpPayload(r *http.Request, body []byte, params map[string]string) map[string]any {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	headers := map[string][]string{}
	for k, v := range r.Header {
		headers[k] = v
	}
	if r.Host != "" {
		headers["Host"] = []string{r.Host}
	}
	req := map[string]any{
		"Url":        scheme + "://" + r.Host + r.URL.RequestURI(),
		"Method":     r.Method,
		"Query":      query,
		"Headers":    headers,
		"Params":     params,
		"Identities": []any{},
	}
	if len(body) > 0 {
		req["Body"] = string(body)
	}
	return req
}
