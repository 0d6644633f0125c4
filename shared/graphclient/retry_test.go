package graphclient

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// throttling answers its first n calls (counted in *calls) 429 with Retry-After 0.5, then 200.
func throttling(t *testing.T, calls *int, n int, seen func(*http.Request)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*calls++
		if seen != nil {
			seen(r)
		}
		if *calls <= n {
			w.Header().Set("Retry-After", "0.5")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv
}

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
	srv := throttling(t, &calls, 2, func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
	})
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

// A storm (two attempts in three failing) outlasts kiota's 3 retries and the old default of 6:
// the default budget keeps retrying the one request until it gets through.
func TestRetryHandlerDefaultOutlastsAStorm(t *testing.T) {
	calls := 0
	srv := throttling(t, &calls, 12, nil)
	slept := time.Duration(0)
	h := &RetryHandler{Sleep: func(_ context.Context, d time.Duration) error { slept += d; return nil }}
	client := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(http.DefaultTransport, h)}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || calls != 13 || slept != 6*time.Second {
		t.Errorf("status %d after %d calls and %v of waiting, want 200 after 13 calls and 6s", resp.StatusCode, calls, slept)
	}
}

// The time budget bounds a request whatever its count: a real outage ends with the last answer
// (body intact) instead of waiting past functionTimeout.
func TestRetryHandlerStopsAtItsTimeBudget(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Retry-After", "10")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":{"code":"serviceNotAvailable","message":"down"}}`)
	}))
	defer srv.Close()
	var waits []time.Duration
	h := &RetryHandler{MaxWait: 35 * time.Second, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	client := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(http.DefaultTransport, h)}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || calls != 4 || len(waits) != 3 || !strings.Contains(string(b), "serviceNotAvailable") {
		t.Errorf("status %d body %q after %d calls, waits %v: want the 503 with its body after 3 waits of 10s", resp.StatusCode, b, calls, waits)
	}
}

// Items of a $batch that Graph throttles are re-sent on their own after their Retry-After
// (fractional seconds or an HTTP date), and the caller gets one answer with every item final.
func TestRetryHandlerRetriesBatchItems(t *testing.T) {
	// kiota orders its middleware by iterating a map: compression may run before or after retry.
	t.Run("compressed after retry", func(t *testing.T) {
		testBatchItems(t, func(r khttp.Middleware) []khttp.Middleware { return []khttp.Middleware{r, gzipper{}} })
	})
	t.Run("compressed before retry", func(t *testing.T) {
		testBatchItems(t, func(r khttp.Middleware) []khttp.Middleware { return []khttp.Middleware{gzipper{}, r} })
	})
}

func testBatchItems(t *testing.T, chain func(khttp.Middleware) []khttp.Middleware) {
	now := time.Now()
	var seen []string
	settingsCalls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1.0/subscribedSkus":
			_, _ = io.WriteString(w, `{"value":[{"skuPartNumber":"SPB"}]}`)
			return
		case "/v1.0/admin/reportSettings":
			if settingsCalls++; settingsCalls == 1 {
				w.Header().Set("Retry-After", "0.25")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, `{"displayConcealedNames":false}`)
			return
		case "/v1.0/$batch":
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			return
		}
		var in struct {
			Requests []struct {
				ID string `json:"id"`
			} `json:"requests"`
		}
		body := io.Reader(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" { // as kiota's compression handler sends it
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		if err := json.NewDecoder(body).Decode(&in); err != nil {
			t.Errorf("batch body: %v", err)
		}
		var out []map[string]any
		for _, q := range in.Requests {
			item := map[string]any{"id": q.ID, "status": 200, "body": map[string]any{"displayName": "Contoso"}}
			switch q.ID {
			case "2":
				item = map[string]any{"id": q.ID, "status": 429, "headers": map[string]string{"Retry-After": "0.5"}, "body": map[string]any{"error": map[string]any{"code": "TooManyRequests"}}}
			case "3":
				item = map[string]any{"id": q.ID, "status": 503, "headers": map[string]string{"retry-after": now.Add(3 * time.Second).UTC().Format(http.TimeFormat)}}
			case "4":
				item = map[string]any{"id": q.ID, "status": 403, "body": map[string]any{"error": map[string]any{"code": "Authorization_RequestDenied"}}}
			}
			out = append(out, item)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"responses": out})
	}))
	defer srv.Close()
	var waits []time.Duration
	h := &RetryHandler{Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	client := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(http.DefaultTransport, chain(h)...)}
	body := `{"requests":[{"id":"1","method":"GET","url":"/organization"},{"id":"2","method":"GET","url":"/subscribedSkus"},{"id":"3","method":"GET","url":"/admin/reportSettings"},{"id":"4","method":"GET","url":"/domains"}]}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1.0/$batch", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer t")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Responses []struct {
			ID     string         `json:"id"`
			Status int            `json:"status"`
			Body   map[string]any `json:"body"`
		} `json:"responses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	final := map[string]string{}
	for _, r := range got.Responses {
		b, _ := json.Marshal(r.Body)
		final[r.ID] = strconv.Itoa(r.Status) + " " + string(b)
	}
	want := map[string]string{
		"1": `200 {"displayName":"Contoso"}`, "2": `200 {"value":[{"skuPartNumber":"SPB"}]}`,
		"3": `200 {"displayConcealedNames":false}`, "4": `403 {"error":{"code":"Authorization_RequestDenied"}}`,
	}
	if !maps.Equal(final, want) {
		t.Errorf("final items %v, want %v", final, want)
	}
	wantSeen := []string{"POST /v1.0/$batch Bearer t", "GET /v1.0/subscribedSkus Bearer t", "GET /v1.0/admin/reportSettings Bearer t", "GET /v1.0/admin/reportSettings Bearer t"}
	if !slices.Equal(seen, wantSeen) && !slices.Equal(seen, []string{wantSeen[0], wantSeen[2], wantSeen[3], wantSeen[1]}) {
		t.Errorf("requests %q, want the batch, then each throttled item on its own with the batch's Authorization", seen)
	}
	// First the longest Retry-After of the throttled items (the HTTP date, about 3s: whole
	// seconds on the wire), then the re-sent item's own 0.25s.
	if len(waits) != 2 || waits[0] < 1500*time.Millisecond || waits[0] > 3*time.Second || waits[1] != 250*time.Millisecond {
		t.Errorf("waits %v, want the items' longest Retry-After, then 250ms", waits)
	}
}

// gzipper compresses request bodies as kiota's CompressionHandler does.
type gzipper struct{}

func (gzipper) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if req.Header.Get("Content-Encoding") != "" || req.Body == nil {
		return p.Next(req, i)
	}
	b, _ := io.ReadAll(req.Body)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	req.Header.Set("Content-Encoding", "gzip")
	req.Body = io.NopCloser(&buf)
	req.ContentLength = int64(buf.Len())
	return p.Next(req, i)
}
