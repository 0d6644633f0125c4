package register

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

func odataErr(status int, code, msg string) error {
	e := odataerrors.NewODataError()
	main := odataerrors.NewMainError()
	main.SetCode(&code)
	main.SetMessage(&msg)
	e.SetErrorEscaped(main)
	e.SetStatusCode(status)
	return fmt.Errorf("wrapped: %w", e)
}

func TestGraphErrorNamesRoles(t *testing.T) {
	err := graphError("granting Mail.Send (admin consent in the partner tenant)",
		odataErr(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."), rolesConsent)
	for _, w := range []string{"granting Mail.Send", "403 Authorization_RequestDenied", "Privileged Role Administrator or Global Administrator"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v lacks %q", err, w)
		}
	}
	err = graphError("creating the app registration", odataErr(http.StatusBadRequest, "Request_BadRequest", "Invalid value"), rolesApps)
	if !strings.Contains(err.Error(), "Graph 400 Request_BadRequest: Invalid value") || strings.Contains(err.Error(), "role") {
		t.Errorf("bad request: %v", err)
	}
}

func TestVaultErrorNamesRole(t *testing.T) {
	err := vaultError("reading secret app-certificate", "https://kv.vault.azure.net/",
		fmt.Errorf("key vault get: %w", &azcore.ResponseError{StatusCode: http.StatusForbidden, ErrorCode: "Forbidden"}))
	if !strings.Contains(err.Error(), "Key Vault Secrets Officer") || !strings.Contains(err.Error(), "https://kv.vault.azure.net/") {
		t.Errorf("%v", err)
	}
	err = vaultError("x", "v", errors.New("dial tcp: no such host"))
	if !strings.Contains(err.Error(), "no such host") {
		t.Errorf("%v", err)
	}
}

func TestReplicationDelay(t *testing.T) {
	if !replicationDelay(odataErr(400, "Request_BadRequest", "The appId 'x' of the service principal does not reference a valid application object.")) ||
		!replicationDelay(odataErr(404, "Request_ResourceNotFound", "Resource 'x' does not exist")) ||
		replicationDelay(odataErr(403, "Authorization_RequestDenied", "no")) || replicationDelay(errors.New("other")) {
		t.Error("replicationDelay classification")
	}
}

func TestPeekClaims(t *testing.T) {
	// header.payload.signature with payload {"tid":"t1","preferred_username":"a@b.c"}
	c := peekClaims("eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ0MSIsInByZWZlcnJlZF91c2VybmFtZSI6ImFAYi5jIn0.x")
	if c.TenantID != "t1" || c.user() != "a@b.c" {
		t.Errorf("%+v", c)
	}
	if peekClaims("not a jwt").user() != "" {
		t.Error("garbage token")
	}
}
