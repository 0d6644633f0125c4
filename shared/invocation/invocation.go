// Package invocation owns the Azure Functions custom-handler wire contract on the handler's side:
// decoding the host's {"Data","Metadata"} payloads, with the host's encoding quirks, and writing
// the {"Outputs","Logs","ReturnValue"} answer the host insists on.
//
// The quirks come from the host's ScriptInvocationContextExtensions.GetHttpScriptInvocationContextValue:
// byte arrays become base64 strings, objects stay objects, DateTime values are re-parsed and
// serialised without a zone, and every other scalar is JSON-serialised *into a string* (so the
// string abc arrives as "\"abc\"" and the number 4 as "4").
package invocation

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Request is one non-HTTP invocation as the host posts it to /{FunctionName}.
type Request struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`

	// FunctionName and InvocationID come from the URL path and the
	// X-Azure-Functions-InvocationId header, not from the body.
	FunctionName string `json:"-"`
	InvocationID string `json:"-"`
}

// Decode parses a request body. A body that is not a JSON object is an error: the host always
// sends one, so anything else means the caller is not the host.
func Decode(body []byte) (*Request, error) {
	var r Request
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("invocation body is not a Functions host payload: want a JSON object")
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("invocation body is not a Functions host payload: %w", err)
	}
	if r.Data == nil {
		r.Data = map[string]json.RawMessage{}
	}
	if r.Metadata == nil {
		r.Metadata = map[string]json.RawMessage{}
	}
	return &r, nil
}

// ErrMissing reports a binding or metadata key the invocation does not carry.
var ErrMissing = errors.New("not present in the invocation")

// Scalar unwraps a value the host JSON-encoded into a string. The raw JSON `"\"abc\""` gives
// `abc`, `"4"` gives `4`, `"2024-05-01T10:20:30"` (a DateTime, encoded once) gives itself.
// JSON null, numbers and booleans that arrive unwrapped are returned in their JSON text form.
func Scalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", ErrMissing
	}
	if raw[0] != '"' {
		if raw[0] == '{' || raw[0] == '[' {
			return "", fmt.Errorf("expected a scalar, got a JSON %s", kind(raw))
		}
		return string(raw), nil
	}
	var outer string
	if err := json.Unmarshal(raw, &outer); err != nil {
		return "", fmt.Errorf("malformed JSON string: %w", err)
	}
	// The inner text is itself JSON for serialised strings ("\"abc\"") and numbers ("4").
	// A DateTime is not re-serialised, so its inner text is not JSON: keep it as is.
	if strings.HasPrefix(outer, `"`) {
		var inner string
		if err := json.Unmarshal([]byte(outer), &inner); err == nil {
			return inner, nil
		}
	}
	return outer, nil
}

func kind(raw json.RawMessage) string {
	if raw[0] == '{' {
		return "object"
	}
	return "array"
}

// String returns the metadata value for key, unwrapped (see Scalar).
func (r *Request) String(key string) (string, error) {
	raw, ok := lookup(r.Metadata, key)
	if !ok {
		return "", fmt.Errorf("metadata %q: %w", key, ErrMissing)
	}
	s, err := Scalar(raw)
	if err != nil {
		return "", fmt.Errorf("metadata %q: %w", key, err)
	}
	return s, nil
}

// Int returns the metadata value for key as an integer ("4" → 4).
func (r *Request) Int(key string) (int64, error) {
	s, err := r.String(key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("metadata %q: %q is not an integer", key, s)
	}
	return n, nil
}

// Time returns the metadata value for key as a time. The host drops the zone of DateTime values;
// every DateTime the host sends for our triggers is UTC, so a zone-less value is read as UTC.
func (r *Request) Time(key string) (time.Time, error) {
	s, err := r.String(key)
	if err != nil {
		return time.Time{}, err
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("metadata %q: %w", key, err)
	}
	return t, nil
}

// ParseTime accepts the host's DateTime forms: zone-less ("2024-05-01T10:20:30", read as UTC),
// with fractional seconds, or RFC 3339 with a zone.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time", s)
}

// Object decodes the metadata value for key, which the host sends as a real JSON object
// (ApplicationProperties, sys), into v.
func (r *Request) Object(key string, v any) error {
	raw, ok := lookup(r.Metadata, key)
	if !ok {
		return fmt.Errorf("metadata %q: %w", key, ErrMissing)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("metadata %q: %w", key, err)
	}
	return nil
}

// Binary returns the bytes of a binding declared with "dataType": "binary" (or any byte-array
// input), which the host sends base64-encoded.
func (r *Request) Binary(name string) ([]byte, error) {
	raw, ok := lookup(r.Data, name)
	if !ok {
		return nil, fmt.Errorf("binding %q: %w", name, ErrMissing)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("binding %q: expected a base64 string (is \"dataType\": \"binary\" set in function.json?): %w", name, err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("binding %q: not base64 (is \"dataType\": \"binary\" set in function.json?): %w", name, err)
	}
	return b, nil
}

// lookup finds a key case-insensitively: the host's binding data dictionaries are
// case-insensitive, so a handler must not depend on the exact casing.
func lookup(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}
