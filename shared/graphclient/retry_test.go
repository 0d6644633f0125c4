package graphclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

func TestRetryDelay(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{"0.5": 500 * time.Millisecond, "2.128": 2128 * time.Millisecond, "2": 2 * time.Second, "120": 60 * time.Second,
		now.Add(3 * time.Second).Format(http.TimeFormat): 3 * time.Second}
	for ra, want := range cases {
		if got := RetryDelay(ra, 0, time.Second, time.Minute, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", ra, got, want)
		}
	}
	for attempt := 0; attempt < 5; attempt++ {
		d := RetryDelay("", attempt, 100*time.Millisecond, 10*time.Second, now)
		if d <= 0 || d > 100*time.Millisecond<<attempt {
			t.Errorf("attempt %d: backoff %v outside (0, %v]", attempt, d, 100*time.Millisecond<<attempt)
		}
	}
}

// The handler retries 429/503 with the server's fractional Retry-After, replays the body, and
// stops after MaxRetries.
func TestRetryHandlerHonoursFractionalRetryAfter(t *testing.T) {
	calls, bodies := 0, []string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if calls <= 2 {
			w.Header().Set("Retry-After", "0.5")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var waits []time.Duration
	h := &RetryHandler{MaxRetries: 3, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	client := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(http.DefaultTransport, h)}
	resp, err := client.Post(srv.URL, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || calls != 3 {
		t.Fatalf("status %d after %d calls", resp.StatusCode, calls)
	}
	if len(waits) != 2 || waits[0] != 500*time.Millisecond || waits[1] != 500*time.Millisecond {
		t.Errorf("waits %v, want two of 500ms (kiota's own handler would wait 0)", waits)
	}
	for _, b := range bodies {
		if b != `{"a":1}` {
			t.Errorf("body not replayed: %q", b)
		}
	}

	calls = -100 // always throttled now
	waits = nil
	resp, err = client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || len(waits) != 3 {
		t.Errorf("bounded attempts: status %d after %d waits", resp.StatusCode, len(waits))
	}
}

// mutator stands for kiota's compression handler: it rewrites the request it is given.
type mutator struct{}

func (mutator) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if req.Header.Get("Content-Encoding") != "" {
		return p.Next(req, i) // already "compressed": leave it, as kiota's handler does
	}
	b, _ := io.ReadAll(req.Body)
	req.Header.Set("Content-Encoding", "fake")
	nb := "compressed(" + string(b) + ")"
	req.Body = io.NopCloser(strings.NewReader(nb))
	req.ContentLength = int64(len(nb))
	return p.Next(req, i)
}

// A retried request must go through later middleware afresh, not carry the first attempt's
// rewritten headers with the original body.
func TestRetryHandlerRetriesAFreshRequest(t *testing.T) {
	var seen []string
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Header.Get("Content-Encoding")+"|"+string(b))
		if calls == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	h := &RetryHandler{Sleep: func(context.Context, time.Duration) error { return nil }}
	client := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(http.DefaultTransport, h, mutator{})}
	resp, err := client.Post(srv.URL, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := `fake|compressed({"a":1})`
	if len(seen) != 2 || seen[0] != want || seen[1] != want {
		t.Errorf("attempts saw %q, want both %q", seen, want)
	}
}
