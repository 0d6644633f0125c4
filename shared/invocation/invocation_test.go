package invocation

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serviceBusPayload is shaped like the host's own serialisation of a Service Bus invocation for a
// "dataType": "binary" trigger: body base64, scalars JSON-encoded into strings, DateTimes without a
// zone, ApplicationProperties a real object, null-valued keys absent, and a JSON body's top-level
// scalars merged into Metadata.
const serviceBusPayload = `{
  "Data": {"msg": "eyJ0ZW5hbnRJZCI6ImFiYyIsIm4iOjN9"},
  "Metadata": {
    "DeliveryCount": "4",
    "LockToken": "\"6c0c5ad3-93c8-4f1e-9d4f-2f3e4a5b6c7d\"",
    "ExpiresAtUtc": "2024-05-15T10:20:30",
    "EnqueuedTimeUtc": "2024-05-01T10:20:30",
    "MessageId": "\"tenant-abc-202405011000\"",
    "ContentType": "\"application/json\"",
    "SequenceNumber": "17",
    "Subject": "\"sync\"",
    "CorrelationId": "\"run-1\"",
    "ApplicationProperties": {"runId": "run-1", "attempt": 2},
    "tenantId": "\"abc\"",
    "n": "3",
    "sys": {"MethodName": "TenantSync", "UtcNow": "2024-05-01T10:20:31.1234567Z", "RandGuid": "0f8fad5b-d9cb-469f-a165-70867728950e"}
  }
}`

func TestServiceBusQuirks(t *testing.T) {
	req, err := Decode([]byte(serviceBusPayload))
	if err != nil {
		t.Fatal(err)
	}
	m, err := req.ServiceBus("msg")
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body) != `{"tenantId":"abc","n":3}` {
		t.Errorf("body = %q", m.Body)
	}
	if m.DeliveryCount != 4 {
		t.Errorf("DeliveryCount = %d, want 4 (sent as the string \"4\")", m.DeliveryCount)
	}
	if m.MessageID != "tenant-abc-202405011000" {
		t.Errorf("MessageId = %q, want the double-encoded string unwrapped", m.MessageID)
	}
	if m.SequenceNumber != 17 || m.LockToken != "6c0c5ad3-93c8-4f1e-9d4f-2f3e4a5b6c7d" || m.ContentType != "application/json" {
		t.Errorf("seq/lock/content type = %d %q %q", m.SequenceNumber, m.LockToken, m.ContentType)
	}
	if want := time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC); !m.EnqueuedTime.Equal(want) || m.EnqueuedTime.Location() != time.UTC {
		t.Errorf("EnqueuedTimeUtc = %v, want %v read as UTC", m.EnqueuedTime, want)
	}
	if m.Subject != "sync" || m.CorrelationID != "run-1" {
		t.Errorf("subject/correlation = %q %q", m.Subject, m.CorrelationID)
	}
	if m.ApplicationProperties["runId"] != "run-1" || m.ApplicationProperties["attempt"] != float64(2) {
		t.Errorf("ApplicationProperties = %v", m.ApplicationProperties)
	}
	// Merged body properties keep the scalar encoding.
	if s, _ := req.String("tenantId"); s != "abc" {
		t.Errorf("merged tenantId = %q", s)
	}
	if n, _ := req.Int("n"); n != 3 {
		t.Errorf("merged n = %d", n)
	}
	var sys struct{ MethodName string }
	if err := req.Object("sys", &sys); err != nil || sys.MethodName != "TenantSync" {
		t.Errorf("sys = %+v, %v", sys, err)
	}
}

func TestServiceBusOlderExtensionLabel(t *testing.T) {
	req, _ := Decode([]byte(`{"Data":{"msg":""},"Metadata":{"DeliveryCount":"1","MessageId":"\"m\"","Label":"\"old\""}}`))
	m, err := req.ServiceBus("msg")
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "old" || len(m.Body) != 0 {
		t.Errorf("subject %q body %q", m.Subject, m.Body)
	}
}

func TestServiceBusErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		`{"Data":{"msg":"e30="},"Metadata":{"DeliveryCount":"1"}}`:                                  `"MessageId"`,
		`{"Data":{"msg":"e30="},"Metadata":{"MessageId":"\"m\""}}`:                                  `"DeliveryCount"`,
		`{"Data":{"msg":"e30="},"Metadata":{"MessageId":"\"m\"","DeliveryCount":"four"}}`:           `"DeliveryCount": "four" is not an integer`,
		`{"Data":{"msg":"\"{\\\"a\\\":1}\""},"Metadata":{"MessageId":"\"m\"","DeliveryCount":"1"}}`: `dataType`,
		`{"Data":{},"Metadata":{}}`: `binding "msg"`,
		`{"Data":{"msg":"e30="},"Metadata":{"MessageId":"\"m\"","DeliveryCount":"1","EnqueuedTimeUtc":"yesterday"}}`: `"EnqueuedTimeUtc"`,
	}
	for payload, want := range cases {
		req, err := Decode([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		_, err = req.ServiceBus("msg")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %s", payload, err, want)
		}
	}
}

func TestScalar(t *testing.T) {
	cases := []struct{ raw, want string }{
		{`"\"abc\""`, "abc"},
		{`"4"`, "4"},
		{`"true"`, "true"},
		{`"2024-05-01T10:20:30"`, "2024-05-01T10:20:30"},
		{`"\"\""`, ""},
		{`"\"with \\\"quotes\\\"\""`, `with "quotes"`},
		{`12`, "12"},
	}
	for _, c := range cases {
		got, err := Scalar(json.RawMessage(c.raw))
		if err != nil || got != c.want {
			t.Errorf("Scalar(%s) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
	if _, err := Scalar(json.RawMessage(`null`)); !errors.Is(err, ErrMissing) {
		t.Errorf("null: %v", err)
	}
	if _, err := Scalar(json.RawMessage(`{"a":1}`)); err == nil {
		t.Error("object accepted as scalar")
	}
}

// timerPayload is the host's TimerInfo: Schedule object, ScheduleStatus with zoned DateTimes, IsPastDue.
const timerPayload = `{
  "Data": {"timer": {"Schedule": {"AdjustForDST": true},
    "ScheduleStatus": {"Last": "2024-05-01T06:00:00+00:00", "Next": "2024-05-01T12:00:00+00:00", "LastUpdated": "2024-05-01T06:00:00.0123+00:00"},
    "IsPastDue": true}},
  "Metadata": {"sys": {"MethodName": "TenantFanout", "UtcNow": "2024-05-01T12:00:05.1Z", "RandGuid": "0f8fad5b-d9cb-469f-a165-70867728950e"}}
}`

func TestTimer(t *testing.T) {
	req, err := Decode([]byte(timerPayload))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := req.Timer("timer")
	if err != nil {
		t.Fatal(err)
	}
	if !tm.IsPastDue || !tm.Schedule.AdjustForDST || tm.ScheduleStatus == nil {
		t.Fatalf("timer = %+v", tm)
	}
	if want := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC); !tm.ScheduleStatus.Next.Equal(want) {
		t.Errorf("Next = %v", tm.ScheduleStatus.Next)
	}
	first, _ := Decode([]byte(`{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{}}`))
	tm, err = first.Timer("timer")
	if err != nil || tm.ScheduleStatus != nil || tm.IsPastDue {
		t.Errorf("first run timer = %+v, %v", tm, err)
	}
}

func TestHTTPPayloadMode(t *testing.T) {
	req, _ := Decode([]byte(`{"Data":{"req":{"Url":"http://localhost:7071/api/x?a=1","Method":"POST","Query":{"a":"1,2"},"Headers":{"Content-Type":["application/json"]},"Params":{"id":"7"},"Body":"{\"k\":1}"}},"Metadata":{}}`))
	h, err := req.HTTP("req")
	if err != nil {
		t.Fatal(err)
	}
	if h.Method != "POST" || h.Query["a"] != "1,2" || h.Params["id"] != "7" || h.Header("content-type") != "application/json" {
		t.Errorf("http = %+v", h)
	}
}

func TestDecodeRejectsNonObjects(t *testing.T) {
	for _, body := range []string{``, `null`, `[]`, `"x"`, `{"Data":`} {
		if _, err := Decode([]byte(body)); err == nil {
			t.Errorf("Decode(%q) accepted", body)
		}
	}
}

func TestHandlerAlwaysAnswersAnObjectWithContentType(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cases := []struct {
		name   string
		body   string
		f      Func
		status int
	}{
		{"nil response", `{"Data":{},"Metadata":{}}`, func(context.Context, *Request) (*Response, error) { return nil, nil }, 200},
		{"error", `{"Data":{},"Metadata":{}}`, func(context.Context, *Request) (*Response, error) { return nil, errors.New("boom") }, 500},
		{"bad body", `not json`, func(context.Context, *Request) (*Response, error) { return nil, nil }, 400},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/Fn", strings.NewReader(c.body))
		r.Header.Set("X-Azure-Functions-InvocationId", "id-1")
		Handler("Fn", log, c.f).ServeHTTP(rec, r)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d", c.name, rec.Code, c.status)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: body %q is not an object: %v", c.name, rec.Body.String(), err)
		}
		if string(out["Outputs"]) != "{}" || out["Logs"] == nil || string(out["Logs"]) == "null" {
			t.Errorf("%s: body %s: Outputs must be {} and Logs an array", c.name, rec.Body.String())
		}
		if c.status == 500 && !strings.Contains(string(out["Logs"]), "boom") {
			t.Errorf("%s: error not in Logs: %s", c.name, out["Logs"])
		}
	}
}
