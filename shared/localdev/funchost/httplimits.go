package funchost

// Two limits of Azure that the local host reproduces, so the local stack fails where Azure would.
//
// The request body: the real host copies a request's body to the custom handler only when the request
// declares a positive Content-Length. Forwarded requests: "if (request.ContentLength != null &&
// request.ContentLength > 0) { httpRequest.Content = new StreamContent(request.Body); ... }"
// (HttpRequestExtensions.ToHttpRequestMessage); payload mode: "if (request.Body != null &&
// request.ContentLength > 0)" before setting Body (GetRequestAsJObject); both in
// src/WebJobs.Script/Extensions/HttpRequestExtensions.cs of Azure/azure-functions-host, commit
// 89dc438d4765. A chunked request (Transfer-Encoding: chunked, no Content-Length) therefore reaches the
// handler without a body.
//
// The response time: "Regardless of the function app timeout setting, 230 seconds is the maximum
// amount of time that an HTTP triggered function can take to respond to a request. This is because of
// the default idle timeout of Azure Load Balancer" (Azure Functions docs,
// includes/functions-timeout-duration.md). The invocation itself goes on until functionTimeout; only
// the caller's answer is lost. What status the front end then answers is not documented there; the
// local host answers 504 with a message naming the limit.

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// HTTPResponseLimit is Azure's limit on an HTTP-triggered function's answer.
const HTTPResponseLimit = 230 * time.Second

// forwardedBody is the body the real host would pass on: r.Body only with a positive Content-Length.
func forwardedBody(r *http.Request) (io.Reader, int64) {
	if r.ContentLength > 0 {
		return r.Body, r.ContentLength
	}
	return http.NoBody, 0
}

// limitWriter passes writes through until the limit fires; after that, writes are dropped, like an
// answer that reaches a connection the load balancer has already closed.
type limitWriter struct {
	w       http.ResponseWriter
	mu      sync.Mutex
	started bool // the handler began its answer in time
	expired bool
}

func (l *limitWriter) Header() http.Header { return l.w.Header() }

func (l *limitWriter) begin() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expired {
		return false
	}
	l.started = true
	return true
}

func (l *limitWriter) WriteHeader(status int) {
	if l.begin() {
		l.w.WriteHeader(status)
	}
}

func (l *limitWriter) Write(b []byte) (int, error) {
	if !l.begin() {
		return len(b), nil
	}
	return l.w.Write(b)
}

// expire stops the writer unless an answer is already under way; it reports whether it stopped it.
func (l *limitWriter) expire() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started {
		return false
	}
	l.expired = true
	return true
}

// withResponseLimit serves an HTTP function with Azure's response limit: when serve has not begun
// its answer within limit, the caller gets 504 and serve's answer, whenever it comes, is dropped.
// serve's request keeps running (detached from the caller), as the invocation does in Azure.
func (h *Host) withResponseLimit(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter, *http.Request)) {
	limit := h.opts.HTTPResponseLimit
	if limit <= 0 {
		limit = HTTPResponseLimit
	}
	lw := &limitWriter{w: w}
	done := make(chan struct{})
	inner := r.WithContext(context.WithoutCancel(r.Context()))
	go func() {
		defer close(done)
		serve(lw, inner)
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	if !lw.expire() {
		<-done // the answer is being written: let it finish
		return
	}
	h.log.errorf("%s %s: no answer within %s: Azure ends HTTP responses at 230 s (run long work from a queue and answer 202)", r.Method, r.URL.Path, limit)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusGatewayTimeout)
	_, _ = io.WriteString(w, "the function did not answer within "+limit.String()+" (Azure's HTTP response limit is 230 s)\n")
}
