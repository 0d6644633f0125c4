package handlers

import (
	"net/http"
	"strings"
	"testing"
)

// PATCH bodies encoding/json's Decoder accepted on main: each is now 400 naming the problem, and
// the tenant is unchanged.
func TestTenantUpdateRefusesLooseJSON(t *testing.T) {
	e := newInputsEnv(t)
	path := "/api/tenants/" + e.tenant
	for _, c := range []struct{ body, says string }{
		{`{"excluded":true} trailing garbage`, "more than one JSON value"},
		{`{"excluded":true}{"excluded":false}`, "more than one JSON value"},
		{`{"excluded":false,"excluded":true}`, `key "excluded" appears more than once`},
		{`{"Excluded":true}`, `key "Excluded" must be spelled "excluded"`},
		{`{"EXCLUDED":true}`, `must be spelled "excluded"`},
		{`{"excluded":true,"note":"x"}`, `key "note" is not accepted here (accepted: excluded)`},
		{`{"excluded":"true"}`, `key "excluded" must be true or false`},
		{`{"excluded":null}`, `key "excluded" is missing or null`},
		{`{}`, `key "excluded" is missing or null`},
		{``, "the body is empty"},
		{`[true]`, "must be a JSON object"},
	} {
		rec := e.do("PATCH", path, c.body)
		if code, msg := errorCode(t, rec); rec.Code != http.StatusBadRequest || code != "BadRequest" || !strings.Contains(msg, c.says) || !strings.Contains(msg, `{"excluded": true|false}`) {
			t.Errorf("PATCH %s: %d %s %q, want 400 BadRequest saying %q and the expected shape", c.body, rec.Code, code, msg, c.says)
		}
	}
	if e.excluded() {
		t.Fatal("a refused PATCH excluded the tenant")
	}
	if rec := e.do("PATCH", path, " {\"excluded\": true}\n"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"excluded":true`) || !e.excluded() {
		t.Errorf("valid PATCH: %d %s", rec.Code, rec.Body)
	}
}
