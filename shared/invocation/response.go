package invocation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/tenantsync/tenantsync/shared/crash"
)

// Response is the handler's answer to a non-HTTP invocation.
type Response struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// HTTPOutput is the payload-mode answer for an http output binding (Outputs.res).
type HTTPOutput struct {
	StatusCode int               `json:"statusCode"`
	Body       string            `json:"body"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// Write sends resp with the given status. It always writes an object with Outputs and Logs set,
// and always sets Content-Type explicitly: the host throws without it and hangs until
// functionTimeout on a null or empty body.
func Write(w http.ResponseWriter, status int, resp *Response) {
	if resp == nil {
		resp = &Response{}
	}
	out := *resp
	if out.Outputs == nil {
		out.Outputs = map[string]any{}
	}
	if out.Logs == nil {
		out.Logs = []string{}
	}
	body, err := json.Marshal(out)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(Response{Outputs: map[string]any{}, Logs: []string{"encoding the invocation response failed: " + err.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Func handles one decoded invocation. Returning an error fails the invocation (500), which for a
// Service Bus trigger abandons the message so it is redelivered and eventually dead-lettered.
type Func func(ctx context.Context, req *Request) (*Response, error)

// maxBody bounds what a handler reads from the host; Service Bus messages are at most 256 KB
// (Standard) and our payloads are far smaller, so 4 MiB is generous without being unbounded.
const maxBody = 4 << 20

// Handler adapts f to the host's POST /{FunctionName} contract.
func Handler(name string, log *slog.Logger, f Func) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			Write(w, http.StatusMethodNotAllowed, &Response{Logs: []string{name + ": the host invokes functions with POST"}})
			return
		}
		start := time.Now()
		invocationID := r.Header.Get("X-Azure-Functions-InvocationId")
		l := log.With("function", name, "invocationId", invocationID)
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err == nil && len(body) > maxBody {
			err = fmt.Errorf("invocation body larger than %d bytes", maxBody)
		}
		var req *Request
		if err == nil {
			req, err = Decode(body)
		}
		if err != nil {
			l.Error("rejected invocation", "error", err.Error())
			Write(w, http.StatusBadRequest, &Response{Logs: []string{err.Error()}})
			return
		}
		req.FunctionName = name
		req.InvocationID = invocationID
		resp, err := call(WithLogger(r.Context(), l), f, req)
		var ce *crash.Error
		if errors.As(err, &ce) {
			// The stack goes to the log only; the host gets a plain failure (and, for a Service
			// Bus trigger, redelivers the message) instead of a dropped connection.
			l.Error("invocation panicked", "panic", fmt.Sprint(ce.Value), "stack", string(ce.Stack))
			Write(w, http.StatusInternalServerError, &Response{Logs: []string{name + ": internal error (see the function logs for invocation " + invocationID + ")"}})
			return
		}
		if err != nil {
			l.Error("invocation failed", "error", err.Error(), "durationMs", time.Since(start).Milliseconds())
			logs := []string{err.Error()}
			if resp != nil {
				logs = append(resp.Logs, logs...)
			}
			Write(w, http.StatusInternalServerError, &Response{Logs: logs})
			return
		}
		l.Info("invocation succeeded", "durationMs", time.Since(start).Milliseconds())
		Write(w, http.StatusOK, resp)
	})
}

// call runs f, turning a panic into a *crash.Error: net/http would otherwise drop the host's
// connection, and the host would see no answer at all.
func call(ctx context.Context, f Func, req *Request) (resp *Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = nil, crash.From(v)
		}
	}()
	return f(ctx, req)
}

type loggerKey struct{}

// WithLogger returns ctx carrying l, so the function's logic logs with the invocation's fields.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the logger carried by ctx, or slog.Default.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
