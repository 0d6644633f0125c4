package remedy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// odataError builds the SDK's error with only the fields given (nil: absent from Graph's body).
func odataError(status int, code, message *string, withMainError bool) *odataerrors.ODataError {
	oe := odataerrors.NewODataError()
	oe.ResponseStatusCode = status
	if withMainError {
		me := odataerrors.NewMainError()
		me.SetCode(code)
		me.SetMessage(message)
		oe.SetErrorEscaped(me)
	}
	return oe
}

func ptr(s string) *string { return &s }

// Graph answers whose error body lacks message, code or the whole error object are classified
// by status instead of crashing: msgraph-sdk-go's ODataError.Error() dereferences the message.
func TestClassifyODataErrorWithMissingFields(t *testing.T) {
	type want struct {
		code      string
		retryable bool
	}
	statuses := map[int]want{
		403: {"Forbidden", false},
		404: {"HTTP404", false},
		429: {"TooManyRequests", true},
		500: {"ServiceUnavailable", true},
		503: {"ServiceUnavailable", true},
	}
	for status, w := range statuses {
		for _, c := range []struct {
			name          string
			code, message *string
			main          bool
		}{
			{"no error object", nil, nil, false},
			{"code and message nil", nil, nil, true},
			{"message nil", ptr("SomeCode"), nil, true},
			{"code nil", nil, ptr("Something failed."), true},
			{"both present", ptr("SomeCode"), ptr("Something failed."), true},
		} {
			t.Run(fmt.Sprintf("%d/%s", status, c.name), func(t *testing.T) {
				err := fmt.Errorf("licenses: %w", odataError(status, c.code, c.message, c.main))
				p := Classify(err)
				wantCode := w.code
				if c.code != nil && status != 429 {
					wantCode = *c.code // Graph's own code wins; 429 is always TooManyRequests
				}
				if p.Code != wantCode || p.Retryable != w.retryable || p.Remediation == "" {
					t.Errorf("got %+v, want code %s retryable %v with a remediation", p, wantCode, w.retryable)
				}
				if c.message != nil && p.Message != *c.message {
					t.Errorf("message %q, want Graph's %q", p.Message, *c.message)
				}
				if c.message == nil && !strings.Contains(p.Message, fmt.Sprintf("HTTP %d", status)) {
					t.Errorf("message %q should say which status came without a message", p.Message)
				}
			})
		}
	}
}
