package graphclient

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// RetryHandler replaces kiota's RetryHandler. Measured reason: kiota computes
// time.Duration(retryAfterSeconds) * time.Second, so Graph's fractional Retry-After values
// ("0.5", "2.128") are truncated (0.5 → retry at once), which burns the retries inside a 429 storm.
// This one honours fractional and HTTP-date values, adds exponential backoff with full jitter when
// Graph gives no Retry-After, and bounds attempts and the total wait.
type RetryHandler struct {
	MaxRetries int           // attempts after the first (default 6)
	BaseDelay  time.Duration // first backoff without Retry-After (default 500ms)
	MaxDelay   time.Duration // cap for one wait (default 60s)
	// Sleep waits d or until ctx ends; tests replace it to observe delays without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Retries counts retries made (for logs and benchmarks); may be nil.
	Retries *atomic.Int64
}

// Retryable statuses: throttling and transient unavailability.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Intercept implements khttp.Middleware. Every attempt sends a fresh clone of the original
// request: middleware after this one (kiota's compression handler) rewrites the request it is
// given (gzip body, Content-Encoding, length), and replaying that mutated request would send a
// gzip header on a plain body. kiota also orders its default middleware by iterating a map, so
// this handler must not depend on running after compression.
func (h *RetryHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	maxRetries, base, maxDelay, sleep := h.MaxRetries, h.BaseDelay, h.MaxDelay, h.Sleep
	if maxRetries == 0 {
		maxRetries = 6
	}
	if base == 0 {
		base = 500 * time.Millisecond
	}
	if maxDelay == 0 {
		maxDelay = 60 * time.Second
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	// Buffer the body once so each attempt can get its own reader (kiota bodies are small JSON).
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.ContentLength = int64(len(body))
		}
		resp, err := p.Next(r, i)
		if err != nil || !retryable(resp.StatusCode) || attempt >= maxRetries {
			return resp, err
		}
		delay := RetryDelay(resp.Header.Get("Retry-After"), attempt, base, maxDelay, time.Now())
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := sleep(req.Context(), delay); err != nil {
			return nil, err
		}
		if h.Retries != nil {
			h.Retries.Add(1)
		}
	}
}

// RetryDelay is the wait before retry number attempt (0-based): Retry-After when given (seconds,
// fractional allowed, or an HTTP date), else exponential backoff with full jitter; capped at max.
func RetryDelay(retryAfter string, attempt int, base, limit time.Duration, now time.Time) time.Duration {
	if retryAfter != "" {
		if s, err := strconv.ParseFloat(retryAfter, 64); err == nil && s >= 0 {
			return min(time.Duration(s*float64(time.Second)), limit)
		}
		if t, err := http.ParseTime(retryAfter); err == nil {
			return min(max(t.Sub(now), 0), limit)
		}
	}
	backoff := base << min(attempt, 16)
	if backoff <= 0 || backoff > limit {
		backoff = limit
	}
	return time.Duration(rand.Int64N(int64(backoff)) + 1)
}
