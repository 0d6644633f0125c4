package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/tenantsync/tenantsync/shared/operation"
)

// runOperation sends a request that starts a long operation (202 with its status route), waits until
// the local host's operations queue is idle (the OperationRun worker has finished), and returns the
// operation as its status route shows it. do sends one request with the function key.
func runOperation(t *testing.T, do func(method, path, body string) (int, []byte), path, body string) operation.Operation {
	t.Helper()
	status, raw := do("POST", path, body)
	var started struct {
		ID        string `json:"id"`
		StatusURL string `json:"statusUrl"`
	}
	if status != http.StatusAccepted || json.Unmarshal(raw, &started) != nil || started.StatusURL == "" {
		t.Fatalf("POST %s: %d %s (want 202 with an operation)", path, status, raw)
	}
	if status, raw := do("POST", "/admin/queues/"+operation.QueueName+"/wait-idle?timeout=90s", ""); status != http.StatusOK {
		t.Fatalf("wait-idle %s: %d %s", operation.QueueName, status, raw)
	}
	status, raw = do("GET", started.StatusURL, "")
	var op operation.Operation
	if status != http.StatusOK || json.Unmarshal(raw, &op) != nil || op.ID != started.ID || !op.Done() {
		t.Fatalf("GET %s: %d %s", started.StatusURL, status, raw)
	}
	return op
}
