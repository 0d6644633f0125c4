package graph

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// faultCounters numbers each tenant's Graph requests (batch items included) so ThrottleEvery N and
// UnavailableEvery N hit exactly every Nth one.
type faultCounters struct {
	mu sync.Mutex
	n  map[string]int64
}

func (f *faultCounters) next(tenantID string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n[tenantID]++
	return f.n[tenantID]
}

// injectFaults applies the tenant's latency and answers the Nth-request 429 / 503 faults.
func (s *Service) injectFaults(ctx context.Context, tc *tenantCtx) *gerr {
	f := tc.faults
	if f.LatencyMs > 0 {
		t := time.NewTimer(time.Duration(f.LatencyMs) * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if f.ThrottleEvery <= 0 && f.UnavailableEvery <= 0 {
		return nil
	}
	n := s.faults.next(tc.id)
	retryAfter := f.RetryAfter
	if retryAfter == "" {
		retryAfter = "2"
	}
	if f.ThrottleEvery > 0 && n%int64(f.ThrottleEvery) == 0 {
		e := errf(http.StatusTooManyRequests, "TooManyRequests", "Too many requests. Please retry after %s seconds.", retryAfter)
		e.header = http.Header{"Retry-After": {retryAfter}}
		return e
	}
	if f.UnavailableEvery > 0 && n%int64(f.UnavailableEvery) == 0 {
		e := errf(http.StatusServiceUnavailable, "serviceNotAvailable", "The service is temporarily unavailable. Please retry after a delay.")
		e.header = http.Header{"Retry-After": {retryAfter}}
		return e
	}
	return nil
}

// reportLimiter enforces Graph's reports limit: 14 requests per 10 minutes per app per tenant.
type reportLimiter struct {
	mu   sync.Mutex
	hits map[string][]time.Time
}

const (
	reportLimit  = 14
	reportWindow = 10 * time.Minute
)

// take records a request and reports whether it is allowed; if not, also the Retry-After seconds.
func (l *reportLimiter) take(key string, now time.Time) (bool, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hits[key]
	k := 0
	for _, t := range h {
		if now.Sub(t) < reportWindow {
			h[k] = t
			k++
		}
	}
	h = h[:k]
	if len(h) >= reportLimit {
		l.hits[key] = h
		wait := h[0].Add(reportWindow).Sub(now)
		return false, strconv.Itoa(int(math.Ceil(wait.Seconds())))
	}
	l.hits[key] = append(h, now)
	return true, ""
}
