package invocation

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Timer is the timerTrigger payload, the host's TimerInfo serialised as an object.
type Timer struct {
	Schedule struct {
		AdjustForDST bool `json:"AdjustForDST"`
	} `json:"Schedule"`
	// ScheduleStatus is null when the schedule monitor has no record yet (first run, or
	// useMonitor false).
	ScheduleStatus *ScheduleStatus `json:"ScheduleStatus"`
	IsPastDue      bool            `json:"IsPastDue"`
}

// ScheduleStatus is the schedule monitor's record.
type ScheduleStatus struct {
	Last        hostTime `json:"Last"`
	Next        hostTime `json:"Next"`
	LastUpdated hostTime `json:"LastUpdated"`
}

// hostTime accepts the host's DateTime serialisations (with or without a zone).
type hostTime struct{ time.Time }

func (t *hostTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseTime(s)
	t.Time = v
	return err
}

func (t hostTime) MarshalJSON() ([]byte, error) { return json.Marshal(t.Time.Format(time.RFC3339Nano)) }

// Timer decodes the timer binding called name.
func (r *Request) Timer(name string) (*Timer, error) {
	raw, ok := lookup(r.Data, name)
	if !ok {
		return nil, fmt.Errorf("binding %q: %w", name, ErrMissing)
	}
	var t Timer
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("binding %q is not a timer payload: %w", name, err)
	}
	return &t, nil
}

// ServiceBusMessage is a serviceBusTrigger invocation: the body (from a "dataType": "binary"
// binding) and the message's system properties from Metadata.
type ServiceBusMessage struct {
	Body                  []byte
	MessageID             string
	DeliveryCount         int
	SequenceNumber        int64
	EnqueuedTime          time.Time
	ExpiresAt             time.Time
	LockToken             string
	ContentType           string
	CorrelationID         string
	Subject               string
	SessionID             string
	ApplicationProperties map[string]any
}

// ServiceBus decodes the Service Bus trigger binding called name and its metadata. The body,
// MessageId and DeliveryCount are required; the rest are optional because the host omits keys
// whose value is null.
func (r *Request) ServiceBus(name string) (*ServiceBusMessage, error) {
	body, err := r.Binary(name)
	if err != nil {
		return nil, err
	}
	m := &ServiceBusMessage{Body: body}
	if m.MessageID, err = r.String("MessageId"); err != nil {
		return nil, err
	}
	n, err := r.Int("DeliveryCount")
	if err != nil {
		return nil, err
	}
	m.DeliveryCount = int(n)
	var errs []error
	optional := func(err error) {
		if err != nil && !errors.Is(err, ErrMissing) {
			errs = append(errs, err)
		}
	}
	var e error
	m.SequenceNumber, e = r.Int("SequenceNumber")
	optional(e)
	m.EnqueuedTime, e = r.Time("EnqueuedTimeUtc")
	optional(e)
	m.ExpiresAt, e = r.Time("ExpiresAtUtc")
	optional(e)
	m.LockToken, e = r.String("LockToken")
	optional(e)
	m.ContentType, e = r.String("ContentType")
	optional(e)
	m.CorrelationID, e = r.String("CorrelationId")
	optional(e)
	m.Subject, e = r.String("Subject")
	if errors.Is(e, ErrMissing) {
		m.Subject, e = r.String("Label") // the older extension's name for Subject
	}
	optional(e)
	m.SessionID, e = r.String("SessionId")
	optional(e)
	optional(r.Object("ApplicationProperties", &m.ApplicationProperties))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// HTTPRequest is the payload-mode HTTP trigger input (used when request forwarding is off or the
// function has bindings beyond one httpTrigger and one http output).
type HTTPRequest struct {
	URL     string              `json:"Url"`
	Method  string              `json:"Method"`
	Query   map[string]string   `json:"Query"`
	Headers map[string][]string `json:"Headers"`
	Params  map[string]string   `json:"Params"`
	Body    json.RawMessage     `json:"Body"`
}

// HTTP decodes the payload-mode HTTP trigger binding called name.
func (r *Request) HTTP(name string) (*HTTPRequest, error) {
	raw, ok := lookup(r.Data, name)
	if !ok {
		return nil, fmt.Errorf("binding %q: %w", name, ErrMissing)
	}
	var h HTTPRequest
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("binding %q is not an HTTP request payload: %w", name, err)
	}
	return &h, nil
}

// Header returns the first value of a header, case-insensitively.
func (h *HTTPRequest) Header(name string) string {
	for k, v := range h.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
