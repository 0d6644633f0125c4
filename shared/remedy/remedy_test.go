package remedy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

func TestClassifyAADSTS(t *testing.T) {
	// Shaped like azidentity's AuthenticationFailedError text, which embeds the response body.
	err := errors.New(`ClientSecretCredential: Authentication failed: POST https://login/t/oauth2/v2.0/token
RESPONSE 400: 400 Bad Request
{"error":"unauthorized_client","error_description":"AADSTS7000229: The client application 7d1f is missing service principal in the tenant 0b6f.\r\nTrace ID: x\r\nCorrelation ID: y","error_codes":[7000229]}`)
	p := Classify(err)
	if p.Code != "AADSTS7000229" || !strings.Contains(p.Remediation, "grant consent in this tenant") {
		t.Errorf("%+v", p)
	}
	if !strings.HasPrefix(p.Message, "AADSTS7000229: The client application") || strings.Contains(p.Message, "Trace ID") {
		t.Errorf("message %q", p.Message)
	}
	for code, want := range map[string]string{"7000215": "Value, not its Secret ID", "7000222": "expired", "700082": "reconnect", "53003": "Conditional Access", "90002": "does not exist"} {
		p := Classify(fmt.Errorf("x: AADSTS%s: something", code))
		if p.Code != "AADSTS"+code || !strings.Contains(p.Remediation, want) {
			t.Errorf("%s: %+v", code, p)
		}
	}
}

func TestClassifyODataAndOthers(t *testing.T) {
	oe := odataerrors.NewODataError()
	me := odataerrors.NewMainError()
	code, msg := "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license"
	me.SetCode(&code)
	me.SetMessage(&msg)
	oe.SetErrorEscaped(me)
	oe.ResponseStatusCode = 403
	p := Classify(fmt.Errorf("users: %w", oe))
	if p.Code != code || p.Message != msg || !strings.Contains(p.Remediation, "P1/P2") {
		t.Errorf("%+v", p)
	}
	ae := &abstractions.ApiError{Message: "unexpected status code 503"}
	ae.ResponseStatusCode = 503
	if p := Classify(fmt.Errorf("batch: %w", ae)); p.Code != "ServiceUnavailable" || !p.Retryable {
		t.Errorf("kiota ApiError 503: %+v", p)
	}
	if p := Classify(context.DeadlineExceeded); p.Code != CodeTimeout || !p.Retryable {
		t.Errorf("%+v", p)
	}
	if p := Classify(fmt.Errorf("wrapped: %w", ReportsConcealed)); p.Code != CodeReportsConcealed || !strings.Contains(p.Remediation, "turn off concealed names") {
		t.Errorf("%+v", p)
	}
}
