package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/strictjson"
)

func nonNil(rs []consent.Result) []consent.Result {
	if rs == nil {
		return []consent.Result{}
	}
	return rs
}

func jsonQuote(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// maxBody is the API's request body limit.
const maxBody = 1 << 20

// hostBodyLimit is the Functions host's own request limit: "The HTTP request length is limited to
// 100 MB (104,857,600 bytes)" (MicrosoftDocs azure-docs functions-bindings-http-webhook-trigger.md,
// Limits). A body over maxBody is read and discarded up to it before the 413 goes out: an answer
// sent while the host is still writing the body, followed by a closed connection, reaches the
// caller as a reset and the host's empty 500.
const hostBodyLimit = 100 << 20

// limitBody answers 413 for a declared Content-Length over maxBody before the handler runs;
// decodeBody catches undeclared (chunked) ones.
func limitBody(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			tooLarge(w, r)
			return
		}
		next(w, r)
	}
}

func tooLarge(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength <= hostBodyLimit { // larger cannot have come through the host
		_, _ = io.CopyN(io.Discard, r.Body, hostBodyLimit)
	}
	writeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge",
		fmt.Sprintf("the request body is larger than the API's limit of %d bytes (1 MiB)", maxBody))
}

// decodeBody decodes the request body strictly into v (shared/strictjson) and answers 400 naming
// the problem, or 413. want is the body's shape for the message; optional accepts an empty body.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, want string, optional bool) bool {
	err := strictjson.Decode(r.Body, maxBody, v)
	switch {
	case err == nil:
		return true
	case errors.Is(err, strictjson.ErrEmpty) && optional:
		return true
	case errors.Is(err, strictjson.ErrTooLarge):
		tooLarge(w, r)
	case errors.Is(err, strictjson.ErrEmpty):
		writeError(w, http.StatusBadRequest, "BadRequest", "the body is empty: want "+want)
	default:
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error()+": want "+want)
	}
	return false
}

// link is an absolute URL under PUBLIC_BASE_URL.
func (d Deps) link(path string, q url.Values) string {
	u := strings.TrimRight(d.PublicBaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the read API's error shape {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

type queueMessage = queue.Message

// fail logs err with the request's context and answers 500/503 without leaking internals.
func (d Deps) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	d.Log.Error(what+" failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	writeError(w, http.StatusInternalServerError, "InternalError", what+" failed; see the function logs")
}

// tenantID reads and validates the {tenantId} route value.
func tenantID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := strings.ToLower(r.PathValue("tenantId"))
	if !domain.IsTenantID(id) {
		writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("%q is not a tenant id (a GUID)", r.PathValue("tenantId")))
		return "", false
	}
	return id, true
}
