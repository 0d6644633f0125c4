package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/operation"
)

// DiscoveryRun: POST /api/discovery takes no body (empty or {}) and answers 202 with the queued
// discovery operation, its statusUrl and a Location header; one message goes to the operations
// queue; any other body is 400 and queues nothing; a queue failure is a 500 without internals;
// who asked is the admin's name, or automation.
func TestDiscoveryRun(t *testing.T) {
	e := newOpsEnv(t)
	for _, body := range []string{"", "{}", " {} "} {
		e.opQueue.Reset()
		rec := e.do("POST", "/api/discovery", body)
		var ans struct {
			operation.Operation
			StatusURL string `json:"statusUrl"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || rec.Code != http.StatusAccepted || ans.Kind != operation.KindDiscovery ||
			ans.State != operation.StateQueued || ans.StatusURL != "/api/operations/"+ans.ID || rec.Header().Get("Location") != ans.StatusURL ||
			ans.RequestedBy != domain.AutomationCaller {
			t.Fatalf("body %q: %d %s (Location %q)", body, rec.Code, rec.Body, rec.Header().Get("Location"))
		}
		if msgs := e.opQueue.Messages(); len(msgs) != 1 || msgs[0].ID != ans.ID || msgs[0].Subject != operation.KindDiscovery {
			t.Errorf("body %q: operations queue holds %+v, want one message for %s", body, msgs, ans.ID)
		} else if id, err := operation.DecodeMessage(msgs[0].Body); err != nil || id != ans.ID {
			t.Errorf("queued message %s names %q (%v)", msgs[0].Body, id, err)
		}
		if op, code, got := e.status(ans.ID); op == nil || op.State != operation.StateQueued {
			t.Errorf("the operation is not recorded: %d %s", code, got)
		}
	}
	e.opQueue.Reset()
	for bad, says := range map[string]string{
		`{"all":true}`: `key "all" is not accepted here`,
		`[`:            "must be a JSON object",
		`{}{}`:         "more than one JSON value",
		`null`:         "must be a JSON object",
	} {
		rec := e.do("POST", "/api/discovery", bad)
		if code, msg := errorCode(t, rec); rec.Code != http.StatusBadRequest || code != "BadRequest" || !strings.Contains(msg, says) || !strings.Contains(msg, "no body, or {}") {
			t.Errorf("body %s: %d %s %q, want 400 saying %q", bad, rec.Code, code, msg, says)
		}
	}
	if n := len(e.opQueue.Messages()); n != 0 {
		t.Errorf("refused requests queued %d operations", n)
	}

	// Service Bus unavailable: 500 (shared/operation records the operation as failed).
	e.opQueue.Err = errors.New("namespace unreachable")
	rec := e.do("POST", "/api/discovery", "")
	if code, _ := errorCode(t, rec); rec.Code != http.StatusInternalServerError || code != "InternalError" || strings.Contains(rec.Body.String(), "unreachable") {
		t.Errorf("queue down: %d %s", rec.Code, rec.Body)
	}
	e.opQueue.Err = nil

	// Signed in through App Service Authentication: the operation names the admin.
	e.deps.AppServiceAuth, e.deps.AdminGroupID = true, adminGroup
	e.mux = New(e.deps)
	rec = e.do("POST", "/api/discovery", "", "X-MS-CLIENT-PRINCIPAL", principal("alice@contosomsp.onmicrosoft.com", adminGroup))
	var op operation.Operation
	if err := json.Unmarshal(rec.Body.Bytes(), &op); err != nil || rec.Code != http.StatusAccepted || op.RequestedBy != "alice@contosomsp.onmicrosoft.com" {
		t.Errorf("admin: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("POST", "/api/discovery", "", "X-MS-CLIENT-PRINCIPAL", principal("bob", "other-group")); rec.Code != http.StatusForbidden {
		t.Errorf("outside the admin group: %d %s", rec.Code, rec.Body)
	}
}
