package graph

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// JSON batching: up to 20 requests, each dispatched to the same handlers with the batch's token
// (so each one is authorised, throttled and counted on its own), dependsOn honoured (a request
// whose dependency failed answers 424 without running), answers returned in reverse order so
// clients cannot rely on order.

const maxBatch = 20

type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchAnswer struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// capture records an item's answer.
type capture struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (w *capture) Header() http.Header { return w.h }
func (w *capture) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *capture) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.buf.Write(b)
}

func handleBatch(c *call) *gerr {
	var req struct {
		Requests []batchItem `json:"requests"`
	}
	if err := json.NewDecoder(io.LimitReader(c.r.Body, 8<<20)).Decode(&req); err != nil {
		return errf(http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
	}
	if len(req.Requests) == 0 {
		return errf(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: at least one request is required.")
	}
	if len(req.Requests) > maxBatch {
		return errf(http.StatusBadRequest, "BadRequest", "Number of batch requests (%d) exceeds the limit of %d.", len(req.Requests), maxBatch)
	}
	seen := map[string]bool{}
	for _, it := range req.Requests {
		switch {
		case it.ID == "" || it.Method == "" || it.URL == "":
			return errf(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: every request needs id, method and url.")
		case seen[it.ID]:
			return errf(http.StatusBadRequest, "BadRequest", "Batch request ids must be unique; '%s' is repeated.", it.ID)
		}
		for _, d := range it.DependsOn {
			if !seen[d] {
				return errf(http.StatusBadRequest, "BadRequest", "Invalid dependency for request Id '%s'.", it.ID)
			}
		}
		seen[it.ID] = true
	}

	status := map[string]int{}
	answers := make([]batchAnswer, 0, len(req.Requests))
	for _, it := range req.Requests {
		a := c.runItem(it, status)
		status[it.ID] = a.Status
		answers = append(answers, a)
	}
	for i, j := 0, len(answers)-1; i < j; i, j = i+1, j-1 {
		answers[i], answers[j] = answers[j], answers[i]
	}
	b, _ := json.Marshal(map[string]any{"responses": answers})
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b)
	return nil
}

// answerHeaders are the headers an item answer carries.
var answerHeaders = []string{"Content-Type", "Retry-After", "Location", "OData-Version", "Cache-Control", "x-ms-resource-unit"}

func (c *call) runItem(it batchItem, done map[string]int) batchAnswer {
	rid := uuid.NewString()
	for _, d := range it.DependsOn {
		if done[d] >= 400 {
			rec := &capture{h: http.Header{}}
			writeError(rec, rid, c.crid, c.s.now(), errf(http.StatusFailedDependency, "FailedDependency",
				"The request was not run because request '%s' it depends on failed.", d))
			method := strings.ToUpper(it.Method)
			c.s.opts.Metrics.ObserveBatchItem("graph", c.ten.id, method+" "+itemPattern(method, it.URL), http.StatusFailedDependency)
			return toAnswer(it.ID, rec)
		}
	}
	u := strings.TrimSpace(it.URL)
	u = strings.TrimPrefix(u, c.s.base)
	version := "/v1.0"
	if c.beta {
		version = "/beta" // items are relative to the batch's own version
	}
	u = strings.TrimPrefix(u, version)
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	var body io.Reader = http.NoBody
	if len(it.Body) > 0 && string(it.Body) != "null" {
		body = bytes.NewReader(it.Body)
	}
	r, err := http.NewRequestWithContext(c.r.Context(), strings.ToUpper(it.Method), version+u, body)
	if err != nil {
		rec := &capture{h: http.Header{}}
		writeError(rec, rid, c.crid, c.s.now(), errf(http.StatusBadRequest, "BadRequest", "Invalid request URL '%s'.", it.URL))
		return toAnswer(it.ID, rec)
	}
	for k, v := range it.Headers {
		r.Header.Set(k, v)
	}
	if r.Header.Get("Content-Type") == "" && body != http.NoBody {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", c.r.Header.Get("Authorization"))
	r.Host = c.r.Host
	rec := &capture{h: http.Header{}}
	crid := r.Header.Get("client-request-id")
	if crid == "" {
		crid = c.crid
	}
	c.s.serveAPI(rec, r, rid, crid, true)
	return toAnswer(it.ID, rec)
}

// itemPattern normalises an unrun item's URL for metrics the way route does for run ones.
func itemPattern(method, raw string) string {
	p, _, _ := strings.Cut(strings.TrimPrefix(raw, "/"), "?")
	r, _ := http.NewRequest(method, "/v1.0/"+p, nil)
	if r == nil {
		return "<unknown>"
	}
	c := &call{r: r, inBatch: true}
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			c.segs = append(c.segs, s)
		}
	}
	_, pattern := route(c)
	return pattern
}

func toAnswer(id string, rec *capture) batchAnswer {
	a := batchAnswer{ID: id, Status: rec.status, Headers: map[string]string{}}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	for _, k := range answerHeaders {
		if v := rec.h.Get(k); v != "" {
			a.Headers[http.CanonicalHeaderKey(k)] = v
		}
	}
	if rec.buf.Len() > 0 {
		if strings.Contains(strings.ToLower(rec.h.Get("Content-Type")), "json") && json.Valid(rec.buf.Bytes()) {
			a.Body = json.RawMessage(rec.buf.Bytes())
		} else {
			// Non-JSON bodies travel base64-encoded, as Graph does.
			b, _ := json.Marshal(base64.StdEncoding.EncodeToString(rec.buf.Bytes()))
			a.Body = b
		}
	}
	return a
}
