package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/invocation"
)

// invoke posts a non-HTTP invocation to the handler as the Functions host does (POST
// /{FunctionName} with {"Data","Metadata"}) and decodes the answer.
func invoke(t *testing.T, mux http.Handler, function, body string) (int, invocation.Response) {
	t.Helper()
	req := httptest.NewRequest("POST", "/"+function, strings.NewReader(body))
	req.Header.Set("X-Azure-Functions-InvocationId", "test-invocation")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var resp invocation.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatalf("%s answered %d with %q, not an invocation response: %v", function, rec.Code, rec.Body, err)
	}
	return rec.Code, resp
}

// timerInvocation is a timer trigger's payload (binding "timer").
const timerInvocation = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{}}`

// serviceBusInvocation is a Service Bus trigger's payload: binding "msg" with "dataType":
// "binary" (base64) and the message's metadata, each value JSON-encoded as the host sends it.
func serviceBusInvocation(body []byte, messageID string, deliveryCount int) string {
	id, _ := json.Marshal(messageID)
	md, _ := json.Marshal(map[string]string{"MessageId": string(id), "DeliveryCount": strconv.Itoa(deliveryCount)})
	return `{"Data":{"msg":"` + base64.StdEncoding.EncodeToString(body) + `"},"Metadata":` + string(md) + `}`
}
