package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// gerr is a Graph error answer: {"error":{"code","message","innerError":{date, request-id,
// client-request-id}}}, the shape msgraph-sdk-go parses into odataerrors.ODataError.
type gerr struct {
	status  int
	code    string
	message string
	header  http.Header // extra response headers (Retry-After)
}

func (e *gerr) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func errf(status int, code, format string, a ...any) *gerr {
	return &gerr{status: status, code: code, message: fmt.Sprintf(format, a...)}
}

// Messages Graph words this way (see the package tests and the report for sources).
const (
	msgInsufficient = "Insufficient privileges to complete the operation."
	msgNonPremium   = "Neither tenant is B2C or tenant doesn't have premium license"
	msgDeltaExpired = "The sync state generation is not found. The delta token is expired and data must be synchronized again."
	msgPageToken    = "The specified page token value has expired and can no longer be included in your request."
)

func errDenied() *gerr {
	return &gerr{status: http.StatusForbidden, code: "Authorization_RequestDenied", message: msgInsufficient}
}

func errNotFound(id string) *gerr {
	return errf(http.StatusNotFound, "Request_ResourceNotFound",
		"Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

func errBadRequest(format string, a ...any) *gerr {
	return errf(http.StatusBadRequest, "Request_BadRequest", format, a...)
}

// errSegment is what Graph answers for a path it does not know.
func errSegment(seg string) *gerr {
	return errf(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '%s'.", seg)
}

func errMethod() *gerr {
	return errf(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
}

// writeError writes e with Graph's inner error (date without zone, as Graph sends it).
func writeError(w http.ResponseWriter, rid, crid string, now time.Time, e *gerr) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	body := map[string]any{"error": map[string]any{
		"code":    e.code,
		"message": e.message,
		"innerError": map[string]string{
			"date":              now.UTC().Format("2006-01-02T15:04:05"),
			"request-id":        rid,
			"client-request-id": crid,
		},
	}}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}
