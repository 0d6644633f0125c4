package funchost

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/funchost/sbqueue"
)

// Hop-by-hop headers are connection-scoped and never relayed.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

const maxPayloadBody = 100 << 20 // the host's own request limit is 100 MB

func (h *Host) front() http.Handler {
	mux := http.NewServeMux()
	key := h.requireKey
	// The real host's admin API, as far as the local host implements it.
	mux.HandleFunc("GET /admin/host/status", key(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"state": "Running", "version": HostVersion, "handlerStarts": h.HandlerStarts()})
	}))
	mux.HandleFunc("GET /admin/functions", key(h.listFunctions))
	mux.HandleFunc("POST /admin/functions/{name}", key(h.adminFire))
	mux.HandleFunc("GET /admin/invocations", key(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"value": h.Invocations()})
	}))
	// The embedded Service Bus namespace. Sending needs no key, like a namespace reached with the
	// app's own identity: the handler's local queue sender uses it. It listens on loopback only.
	mux.HandleFunc("POST /admin/queues/{queue}/messages", h.queueSend)
	mux.HandleFunc("GET /admin/queues", key(h.queueList))
	mux.HandleFunc("GET /admin/queues/{queue}", key(h.withQueue(func(w http.ResponseWriter, r *http.Request, q *sbqueue.Queue) {
		writeJSON(w, http.StatusOK, queueInfo{Name: q.Name(), Stats: q.Stats()})
	})))
	mux.HandleFunc("GET /admin/queues/{queue}/deadletter", key(h.withQueue(func(w http.ResponseWriter, r *http.Request, q *sbqueue.Queue) {
		dl := q.DeadLetters()
		if dl == nil {
			dl = []sbqueue.DeadLetter{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": dl})
	})))
	mux.HandleFunc("POST /admin/queues/{queue}/deadletter/resubmit", key(h.withQueue(func(w http.ResponseWriter, r *http.Request, q *sbqueue.Queue) {
		seqs, err := q.ResubmitAll()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"sequenceNumbers": nonNil(seqs)})
	})))
	mux.HandleFunc("POST /admin/queues/{queue}/deadletter/{seq}/resubmit", key(h.withQueue(func(w http.ResponseWriter, r *http.Request, q *sbqueue.Queue) {
		seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "sequence number must be an integer")
			return
		}
		n, err := q.Resubmit(seq)
		if errors.Is(err, sbqueue.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no dead-lettered message with sequence number %d", seq))
			return
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"sequenceNumber": n})
	})))
	mux.HandleFunc("POST /admin/queues/{queue}/wait-idle", key(h.withQueue(h.queueWaitIdle)))
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such admin API: "+r.Method+" "+r.URL.Path)
	})
	if h.auth != nil {
		h.auth.routes(mux)
		mux.Handle("/", h.auth.wrap(http.HandlerFunc(h.serveFunction)))
		return mux
	}
	mux.HandleFunc("/", h.serveFunction)
	return mux
}

// keyOK accepts the key as the host does: the code query parameter or the x-functions-key header.
func (h *Host) keyOK(r *http.Request) bool {
	got := r.Header.Get("x-functions-key")
	if got == "" {
		got = r.URL.Query().Get("code")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(h.key)) == 1
}

func (h *Host) requireKey(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.keyOK(r) {
			h.log.errorf("Unauthorized %s %s: the admin API needs the master key (x-functions-key header or code query parameter)", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": http.StatusText(status), "message": msg}})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (h *Host) listFunctions(w http.ResponseWriter, r *http.Request) {
	type fn struct {
		Name    string `json:"name"`
		Trigger string `json:"trigger"`
		Detail  string `json:"detail"`
	}
	var out []fn
	for _, f := range h.app.Functions {
		d := ""
		switch f.Trigger.Type {
		case TriggerHTTP:
			d = "/" + f.route.text
		case TriggerTimer:
			d = f.schedule.String()
		case TriggerServiceBus:
			d = f.Trigger.QueueName
		}
		out = append(out, fn{f.Name, f.Trigger.Type, d})
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

// adminFire mirrors POST /admin/functions/{name} {"input": "..."}: 202 and the run happens in the
// background. ?wait=true (a local extension) waits and answers with the invocation record.
func (h *Host) adminFire(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	f := h.function(name)
	if f == nil {
		writeError(w, http.StatusNotFound, "no function named "+name)
		return
	}
	if f.Trigger.Type == TriggerHTTP {
		writeError(w, http.StatusBadRequest, name+" is an HTTP function: call its route")
		return
	}
	var body struct {
		Input string `json:"input"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, maxPayloadBody)).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, `body must be {"input": "..."}: `+err.Error())
			return
		}
	}
	if r.URL.Query().Get("wait") != "true" {
		h.background(func(ctx context.Context) { _ = h.Fire(ctx, f.Name, body.Input) })
		w.WriteHeader(http.StatusAccepted)
		return
	}
	before := len(h.Invocations())
	err := h.Fire(r.Context(), f.Name, body.Input)
	var last *Invocation
	for _, inv := range h.Invocations()[min(before, len(h.Invocations())):] {
		if inv.Function == f.Name {
			last = &inv
		}
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]string{"code": "InvocationFailed", "message": err.Error()}, "invocation": last})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"invocation": last})
}

type queueInfo struct {
	Name  string        `json:"name"`
	Stats sbqueue.Stats `json:"stats"`
}

func (h *Host) queueList(w http.ResponseWriter, r *http.Request) {
	var out []queueInfo
	for _, q := range h.queues {
		out = append(out, queueInfo{Name: q.Name(), Stats: q.Stats()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"value": nonNil(out)})
}

func (h *Host) withQueue(next func(http.ResponseWriter, *http.Request, *sbqueue.Queue)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := h.queues[r.PathValue("queue")]
		if q == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no queue named %q: no serviceBusTrigger function listens on it", r.PathValue("queue")))
			return
		}
		next(w, r, q)
	}
}

func (h *Host) queueSend(w http.ResponseWriter, r *http.Request) {
	q := h.queues[r.PathValue("queue")]
	if q == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no queue named %q: no serviceBusTrigger function listens on it", r.PathValue("queue")))
		return
	}
	var msgs []sbqueue.Message
	if err := json.NewDecoder(io.LimitReader(r.Body, maxPayloadBody)).Decode(&msgs); err != nil {
		writeError(w, http.StatusBadRequest, "body must be a JSON array of messages: "+err.Error())
		return
	}
	res, err := q.Send(msgs...)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res.SequenceNumbers, res.Duplicates = nonNil(res.SequenceNumbers), nonNil(res.Duplicates)
	writeJSON(w, http.StatusCreated, res)
}

func (h *Host) queueWaitIdle(w http.ResponseWriter, r *http.Request, q *sbqueue.Queue) {
	timeout := 60 * time.Second
	if s := r.URL.Query().Get("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "timeout must be a Go duration such as 30s")
			return
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := q.WaitIdle(ctx); err != nil {
		writeJSON(w, http.StatusRequestTimeout, map[string]any{"error": map[string]string{"code": "Timeout", "message": "queue not idle after " + timeout.String()}, "stats": q.Stats()})
		return
	}
	writeJSON(w, http.StatusOK, queueInfo{Name: q.Name(), Stats: q.Stats()})
}

// route finds the HTTP function for a request: best precedence among matching templates.
// A method the function does not accept makes it not match, which gives 404 as in the host.
func (h *Host) route(r *http.Request) (*Function, map[string]string) {
	var best *Function
	var bestParams map[string]string
	for _, f := range h.app.Functions {
		if f.Trigger.Type != TriggerHTTP || !methodAllowed(f.Trigger.Methods, r.Method) {
			continue
		}
		params, ok := f.route.match(r.URL.Path)
		if !ok {
			continue
		}
		if best == nil || f.route.precedence() < best.route.precedence() {
			best, bestParams = f, params
		}
	}
	return best, bestParams
}

func methodAllowed(methods []string, m string) bool {
	if len(methods) == 0 {
		return true
	}
	for _, x := range methods {
		if strings.EqualFold(x, m) {
			return true
		}
	}
	return false
}

func (h *Host) serveFunction(w http.ResponseWriter, r *http.Request) {
	f, params := h.route(r)
	if f == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	switch strings.ToLower(f.Trigger.AuthLevel) {
	case "function", "admin":
		if !h.keyOK(r) {
			h.log.errorf("Unauthorized %s %s: function %s has authLevel %s; pass the key as x-functions-key or ?code=", r.Method, r.URL.Path, f.Name, f.Trigger.AuthLevel)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	h.withResponseLimit(w, r, func(w http.ResponseWriter, r *http.Request) {
		if f.Forwarded {
			h.forward(w, r, f)
			return
		}
		h.payloadHTTP(w, r, f, params)
	})
}

const httpReason = "This function was programmatically called via the host APIs."

// forward relays the request to the handler unchanged and its answer back unchanged.
func (h *Host) forward(w http.ResponseWriter, r *http.Request, f *Function) {
	inv := h.begin(f, httpReason)
	wrote := false
	status, err := h.roundTrip(r.Context(), inv, func(p *process) (*http.Request, error) {
		body, n := forwardedBody(r)
		out, err := http.NewRequest(r.Method, p.base+r.URL.RequestURI(), body)
		if err != nil {
			return nil, err
		}
		out.ContentLength = n
		out.Header = r.Header.Clone()
		for _, k := range hopHeaders {
			out.Header.Del(k)
		}
		out.Host = r.Host
		return out, nil
	}, func(resp *http.Response) error {
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		for _, k := range hopHeaders {
			w.Header().Del(k)
		}
		w.WriteHeader(resp.StatusCode)
		wrote = true
		_, err := io.Copy(w, resp.Body)
		return err
	})
	if err := h.end(inv, status, err); err != nil && !wrote {
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// payloadHTTP serves an HTTP function in payload mode: Data.req in, Outputs.res out.
func (h *Host) payloadHTTP(w http.ResponseWriter, r *http.Request, f *Function, params map[string]string) {
	in, _ := forwardedBody(r)
	body, err := io.ReadAll(io.LimitReader(in, maxPayloadBody))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	md := map[string]any{"headers": r.Header, "query": scalar(r.URL.RawQuery), "sys": sysMetadata(f.Name, time.Now())}
	for k, v := range params {
		md[k] = scalar(v)
	}
	res, _, err := h.invoke(r.Context(), f, httpReason, payload{Data: map[string]any{f.Trigger.Name: httpPayload(r, body, params)}, Metadata: md})
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var raw json.RawMessage
	for _, b := range f.Bindings {
		if b.Type == "http" && b.Direction == "out" {
			if b.Name == "$return" {
				raw = res.ReturnValue
			} else {
				raw = res.Outputs[b.Name]
			}
		}
	}
	var out struct {
		StatusCode json.RawMessage   `json:"statusCode"`
		Body       json.RawMessage   `json:"body"`
		Headers    map[string]string `json:"headers"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &out) != nil {
		h.log.errorf("Failed while trying to Deserialize to httpOutputBindingResponse for %s: Output is not in expected format", f.Name)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	status := http.StatusOK
	if s := strings.Trim(string(out.StatusCode), `"`); s != "" && s != "null" {
		if n, err := strconv.Atoi(s); err == nil {
			status = n
		}
	}
	for k, v := range out.Headers {
		w.Header().Set(k, v)
	}
	var text string
	if json.Unmarshal(out.Body, &text) != nil && len(out.Body) > 0 && string(out.Body) != "null" {
		text = string(out.Body)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}
