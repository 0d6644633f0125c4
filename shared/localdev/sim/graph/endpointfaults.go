package graph

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// endpointFault answers a request whose path the tenant's scenario makes fail (Faults.Fail),
// with the error body the fault describes (fields left out when empty, or no body at all). It
// reports whether it answered.
func endpointFault(w http.ResponseWriter, rid, crid string, now time.Time, faults []scenario.EndpointFault, path string) bool {
	path = strings.TrimRight(path, "/")
	for _, f := range faults {
		if !strings.EqualFold(strings.TrimRight(f.Path, "/"), path) {
			continue
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.NoBody {
			w.WriteHeader(f.Status)
			return true
		}
		e := map[string]any{"innerError": map[string]string{
			"date": now.UTC().Format("2006-01-02T15:04:05"), "request-id": rid, "client-request-id": crid,
		}}
		if f.Code != "" {
			e["code"] = f.Code
		}
		if f.Message != "" {
			e["message"] = f.Message
		}
		b, _ := json.Marshal(map[string]any{"error": e})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = w.Write(b)
		return true
	}
	return false
}
