package graphclient

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// RetryHandler replaces kiota's RetryHandler for every Graph request, the report download and
// the items of a JSON $batch. Microsoft's guidance (https://learn.microsoft.com/graph/throttling,
// "Best practices to handle throttling"): wait the seconds in Retry-After and retry; "if the
// request fails again with a 429 error code, you are still being throttled. Continue to use the
// recommended Retry-After delay and retry the request until it succeeds"; without Retry-After,
// back off exponentially. 503 and 504 are retried the same way, as kiota's own handler does
// (kiota-http-go retry_handler.go: 429, 503, 504). Measured reasons for not using kiota's own handler:
// it computes time.Duration(retryAfterSeconds) * time.Second, so Graph's fractional values
// ("0.5", "2.128") are truncated (0.5 → retry at once), and it gives up after 3 retries, which a
// storm outlasts (with 429 on every 2nd and 503 on every 3rd request two attempts in three fail).
//
// So the budget is per request and generous in count, bounded in time: one slow page waits
// instead of failing its tenant, and a real outage still ends well inside functionTimeout.
type RetryHandler struct {
	MaxRetries int           // attempts after the first, per request (default 30)
	MaxWait    time.Duration // total waiting one request may do across its retries (default 2 min)
	BaseDelay  time.Duration // first backoff without Retry-After (default 500ms)
	MaxDelay   time.Duration // cap for one wait (default 60s)
	// Sleep waits d or until ctx ends; tests replace it to observe delays without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Retries counts retries made, batch items included (for logs and benchmarks); may be nil.
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

// budget is one request's retry allowance.
type budget struct {
	h        *RetryHandler
	maxRetry int
	base     time.Duration
	maxDelay time.Duration
	left     time.Duration // waiting still allowed
	sleep    func(context.Context, time.Duration) error
}

func (h *RetryHandler) budget() *budget {
	b := &budget{h: h, maxRetry: h.MaxRetries, base: h.BaseDelay, maxDelay: h.MaxDelay, left: h.MaxWait, sleep: h.Sleep}
	if b.maxRetry == 0 {
		b.maxRetry = 30
	}
	if b.left == 0 {
		b.left = 2 * time.Minute
	}
	if b.base == 0 {
		b.base = 500 * time.Millisecond
	}
	if b.maxDelay == 0 {
		b.maxDelay = 60 * time.Second
	}
	if b.sleep == nil {
		b.sleep = sleepCtx
	}
	return b
}

// wait sleeps before retry number attempt (0-based) and reports whether to retry: false when
// the count or the time budget is spent, or ctx ended.
func (b *budget) wait(ctx context.Context, attempt int, retryAfter string) bool {
	if attempt >= b.maxRetry {
		return false
	}
	d := RetryDelay(retryAfter, attempt, b.base, b.maxDelay, time.Now())
	if d > b.left {
		return false
	}
	b.left -= d
	if b.sleep(ctx, d) != nil {
		return false
	}
	if b.h.Retries != nil {
		b.h.Retries.Add(1)
	}
	return true
}

// Intercept implements khttp.Middleware. Every attempt sends a fresh clone of the original
// request: middleware after this one (kiota's compression handler) rewrites the request it is
// given (gzip body, Content-Encoding, length), and replaying that mutated request would send a
// gzip header on a plain body. kiota also orders its default middleware by iterating a map, so
// this handler must not depend on running before or after compression.
func (h *RetryHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
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
	b := h.budget()
	resp, err := b.send(p, i, req, body)
	if err != nil || resp.StatusCode != http.StatusOK || req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/$batch") {
		return resp, err
	}
	return b.batchItems(p, i, req, body, resp)
}

// send is one request with its retries.
func (b *budget) send(p khttp.Pipeline, i int, req *http.Request, body []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.ContentLength = int64(len(body))
		}
		resp, err := p.Next(r, i)
		if err != nil || !retryable(resp.StatusCode) {
			return resp, err
		}
		// The body is drained before deciding so the connection can be reused; when the budget
		// is spent the caller gets the last answer with its body intact.
		last, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if !b.wait(req.Context(), attempt, resp.Header.Get("Retry-After")) {
			if err := req.Context().Err(); err != nil {
				return nil, err
			}
			resp.Body = io.NopCloser(bytes.NewReader(last))
			return resp, nil
		}
	}
}

// batchItem is the part of a $batch request or response item this handler reads; the rest is
// kept as sent or received.
type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// batchItems retries the items of a JSON batch that Graph answered 429/503/504. Each item carries
// its own status and headers, Retry-After included, and the SDKs do not retry items
// (https://learn.microsoft.com/graph/json-batching). Not verified
// against Microsoft's text here: that Graph evaluates each item against throttling limits on its
// own (the stored copy of the throttling page did not show its batching section). After the longest of their Retry-After values each such item is sent
// again as the plain request it stands for, with this handler's per-request retries, and its
// final answer replaces the item's: a request that is throttled again is then retried like any
// other, never stuck in a cycle of batch round trips. Batches with dependsOn are left alone:
// re-sending part of a chain would change what it means.
func (b *budget) batchItems(p khttp.Pipeline, i int, req *http.Request, body []byte, resp *http.Response) (*http.Response, error) {
	reqJSON, err := plainBody(body, req.Header.Get("Content-Encoding"))
	if err != nil {
		return resp, nil
	}
	var sent struct {
		Requests []batchItem `json:"requests"`
	}
	if json.Unmarshal(reqJSON, &sent) != nil {
		return resp, nil
	}
	requests := map[string]batchItem{}
	for _, it := range sent.Requests {
		if it.ID == "" || it.URL == "" || len(it.DependsOn) > 0 {
			return resp, nil
		}
		requests[it.ID] = it
	}
	got, answers, err := readBatch(resp)
	if err != nil || answers == nil {
		return got, err
	}
	retryAfter, throttled := "", []string{}
	for id, a := range answers {
		if _, ok := requests[id]; ok && retryable(a.item.Status) {
			throttled = append(throttled, id)
			retryAfter = longer(retryAfter, header(a.item.Headers, "Retry-After"))
		}
	}
	if len(throttled) == 0 {
		return got, nil
	}
	if !b.wait(req.Context(), 0, retryAfter) {
		if err := req.Context().Err(); err != nil {
			return nil, err
		}
		return got, nil
	}
	base := strings.TrimSuffix(req.URL.String(), "/$batch")
	for _, id := range throttled {
		raw, err := b.sendItem(p, i, req, base, requests[id])
		if err != nil {
			return nil, err
		}
		answers[id] = answer{raw: raw}
	}
	merged := make([]json.RawMessage, 0, len(answers))
	for _, a := range answers {
		merged = append(merged, a.raw)
	}
	out, _ := json.Marshal(map[string]any{"responses": merged})
	got.Body = io.NopCloser(bytes.NewReader(out))
	got.ContentLength = int64(len(out))
	got.Header.Del("Content-Encoding")
	got.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return got, nil
}

// sendItem sends one batch item as a plain request (the batch's own headers, Authorization
// included, plus the item's) with per-request retries, and returns its answer in the shape of a
// batch response item: JSON bodies as JSON, others base64, as Graph encodes them in batches
// (https://learn.microsoft.com/graph/json-batching).
func (b *budget) sendItem(p khttp.Pipeline, i int, batch *http.Request, base string, it batchItem) (json.RawMessage, error) {
	u := base + "/" + strings.TrimPrefix(it.URL, "/")
	r, err := http.NewRequestWithContext(batch.Context(), strings.ToUpper(it.Method), u, nil)
	if err != nil {
		return nil, err
	}
	r.Header = batch.Header.Clone()
	for _, k := range []string{"Content-Encoding", "Content-Length", "Content-Type"} {
		r.Header.Del(k)
	}
	for k, v := range it.Headers {
		r.Header.Set(k, v)
	}
	var body []byte
	if len(it.Body) > 0 && string(it.Body) != "null" {
		body = it.Body
		if r.Header.Get("Content-Type") == "" {
			r.Header.Set("Content-Type", "application/json")
		}
	}
	resp, err := b.send(p, i, r, body)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if raw, err = plainBody(raw, resp.Header.Get("Content-Encoding")); err != nil {
		return nil, err
	}
	headers := map[string]string{}
	for k, v := range resp.Header {
		if k != "Content-Encoding" && k != "Content-Length" && len(v) > 0 {
			headers[k] = v[0]
		}
	}
	item := map[string]any{"id": it.ID, "status": resp.StatusCode, "headers": headers}
	switch {
	case len(raw) == 0:
	case json.Valid(raw) && strings.Contains(resp.Header.Get("Content-Type"), "json"):
		item["body"] = json.RawMessage(raw)
	default:
		item["body"] = raw // encoding/json writes []byte as base64
	}
	return json.Marshal(item)
}

type answer struct {
	item batchItem
	raw  json.RawMessage
}

// readBatch reads a $batch answer's items by id; the response keeps its status and headers.
func readBatch(resp *http.Response) (*http.Response, map[string]answer, error) {
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	plain, err := plainBody(raw, resp.Header.Get("Content-Encoding"))
	if err != nil {
		return nil, nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	var env struct {
		Responses []json.RawMessage `json:"responses"`
	}
	if err := json.Unmarshal(plain, &env); err != nil {
		return resp, nil, nil // not a batch answer this handler understands: relayed as received
	}
	answers := map[string]answer{}
	for _, r := range env.Responses {
		var it batchItem
		if json.Unmarshal(r, &it) == nil && it.ID != "" {
			answers[it.ID] = answer{item: it, raw: r}
		}
	}
	return resp, answers, nil
}

func plainBody(b []byte, encoding string) ([]byte, error) {
	if !strings.EqualFold(encoding, "gzip") {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// longer is the later of two Retry-After values ("" when neither is given).
func longer(a, b string) string {
	now := time.Now()
	if a == "" || (b != "" && RetryDelay(b, 0, 0, time.Hour, now) > RetryDelay(a, 0, 0, time.Hour, now)) {
		return b
	}
	return a
}

// RetryDelay is the wait before retry number attempt (0-based): Retry-After when given (seconds,
// fractional allowed, or an HTTP date: RFC 9110 section 10.2.3), else exponential backoff with
// full jitter; capped at limit.
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
	if backoff <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(backoff)) + 1)
}
