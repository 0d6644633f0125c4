// Package metrics counts the simulator's requests per tenant and endpoint (round trips, throttled
// answers, errors) so benchmarks and tests can measure how many Graph calls a sync makes.
package metrics

import (
	"context"
	"sort"
	"sync"
)

// Key identifies a counter.
type Key struct {
	Service  string `json:"service"`  // entra, graph, partnercenter, keyvault
	TenantID string `json:"tenantId"` // "" when not tenant-specific
	Endpoint string `json:"endpoint"` // normalised, e.g. "GET /users" or "POST /$batch"
}

// Counts are the totals for one key.
type Counts struct {
	Requests  int64 `json:"requests"`
	Throttled int64 `json:"throttled"` // 429s served (batch items included)
	Errors    int64 `json:"errors"`    // other 4xx/5xx
	// BatchItems are the answers counted in Requests that were items of a $batch, not round trips
	// of their own: round trips are Requests - BatchItems.
	BatchItems int64 `json:"batchItems"`
}

// RoundTrips is the number of HTTP round trips: a $batch counts once, its items not at all.
func (c Counts) RoundTrips() int64 { return c.Requests - c.BatchItems }

// Row is one key with its counts.
type Row struct {
	Key
	Counts
}

// Recorder is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	m       map[Key]*Counts
	served  map[string]int64 // requests per service
	changed chan struct{}    // closed and replaced on every Observe (WaitRequests waits on it)
}

// New returns an empty recorder.
func New() *Recorder {
	return &Recorder{m: map[Key]*Counts{}, served: map[string]int64{}, changed: make(chan struct{})}
}

// WaitRequests blocks until the service has answered at least n requests (batch items
// included), or ctx ends. Tests use it to act at a known point of a run (e.g. mid-sync) without
// sleeping.
func (r *Recorder) WaitRequests(ctx context.Context, service string, n int64) error {
	for {
		r.mu.Lock()
		done, ch := r.served[service] >= n, r.changed
		r.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Observe counts one answer to a whole request (one round trip).
func (r *Recorder) Observe(service, tenantID, endpoint string, status int) {
	r.observe(service, tenantID, endpoint, status, false)
}

// ObserveBatchItem counts one $batch item's answer: a request, but no round trip of its own.
func (r *Recorder) ObserveBatchItem(service, tenantID, endpoint string, status int) {
	r.observe(service, tenantID, endpoint, status, true)
}

func (r *Recorder) observe(service, tenantID, endpoint string, status int, item bool) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := Key{service, tenantID, endpoint}
	c := r.m[k]
	if c == nil {
		c = &Counts{}
		r.m[k] = c
	}
	c.Requests++
	if item {
		c.BatchItems++
	}
	r.served[service]++
	close(r.changed)
	r.changed = make(chan struct{})
	switch {
	case status == 429:
		c.Throttled++
	case status >= 400:
		c.Errors++
	}
}

// Rows returns every counter, sorted.
func (r *Recorder) Rows() []Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Row, 0, len(r.m))
	for k, c := range r.m {
		out = append(out, Row{k, *c})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.TenantID != b.TenantID {
			return a.TenantID < b.TenantID
		}
		return a.Endpoint < b.Endpoint
	})
	return out
}

// Total sums the counts of rows matching service and tenant ("" matches all).
func (r *Recorder) Total(service, tenantID string) Counts {
	var t Counts
	for _, row := range r.Rows() {
		if (service == "" || row.Service == service) && (tenantID == "" || row.TenantID == tenantID) {
			t.Requests += row.Requests
			t.Throttled += row.Throttled
			t.Errors += row.Errors
			t.BatchItems += row.BatchItems
		}
	}
	return t
}

// Reset clears every counter.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m = map[Key]*Counts{}
}
