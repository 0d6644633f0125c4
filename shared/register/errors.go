package register

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// claims are the few token claims the run reports (read without verification: the token came
// straight from the login service over TLS and is only used to name the signed-in account).
type claims struct {
	TenantID          string `json:"tid"`
	UPN               string `json:"upn"`
	PreferredUsername string `json:"preferred_username"`
	UniqueName        string `json:"unique_name"`
	Scope             string `json:"scp"`
}

func (c claims) user() string {
	for _, v := range []string{c.UPN, c.PreferredUsername, c.UniqueName} {
		if v != "" {
			return v
		}
	}
	return ""
}

func peekClaims(jwt string) claims {
	var c claims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return c
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c
	}
	_ = json.Unmarshal(b, &c)
	return c
}

// signInError explains the sign-in failures an MSP admin meets.
func signInError(err error, o Options) error {
	msg := err.Error()
	hint := ""
	switch {
	case strings.Contains(msg, "AADSTS700016"):
		hint = fmt.Sprintf("the sign-in client %s does not exist in this cloud or tenant: check --device-code-client-id (default: the Azure CLI, %s)", o.DeviceCodeClientID, AzureCLIClientID)
	case strings.Contains(msg, "AADSTS90002"):
		hint = fmt.Sprintf("tenant %s was not found: check --partner-tenant and, for national clouds, --authority-host", o.PartnerTenantID)
	case strings.Contains(msg, "AADSTS50076"), strings.Contains(msg, "AADSTS50079"):
		hint = "the tenant requires multi-factor authentication: complete MFA (Microsoft Authenticator) when signing in"
	case strings.Contains(msg, "AADSTS53003"):
		hint = "Conditional Access blocked the sign-in: sign in from a compliant device or trusted location"
	case strings.Contains(msg, "AADSTS50020"):
		hint = fmt.Sprintf("the account is not a member of tenant %s: sign in with an administrator of the partner tenant", o.PartnerTenantID)
	case strings.Contains(msg, "AADSTS65002"):
		hint = fmt.Sprintf("the sign-in client %s is not pre-authorized for the Graph permissions %s: register a public client app with these delegated permissions (Allow public client flows: yes) and pass its id with --device-code-client-id",
			o.DeviceCodeClientID, strings.Join(o.GraphScopes, ", "))
	case strings.Contains(msg, "AADSTS65001"), strings.Contains(msg, "AADSTS90094"):
		hint = "consent for the sign-in client's Graph permissions (" + strings.Join(o.GraphScopes, ", ") + ") is missing: sign in as a Global Administrator or Privileged Role Administrator, who can consent"
	case strings.Contains(msg, "authorization_declined"), strings.Contains(msg, "AADSTS70020"):
		hint = "the sign-in was cancelled on the verification page"
	case strings.Contains(msg, "AADSTS70019"), strings.Contains(msg, "expired_token"):
		hint = "the device code expired before the sign-in finished (15 minutes): run the command again"
	}
	if hint != "" {
		return fmt.Errorf("sign-in failed: %s\n%w", hint, err)
	}
	return fmt.Errorf("sign-in failed: %w", err)
}

// graphError describes a failed Graph call; for a denied call it says which Entra role the
// signed-in admin lacks.
func graphError(what string, err error, roles string) error {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		code, message := "", ""
		if e := oe.GetErrorEscaped(); e != nil {
			if e.GetCode() != nil {
				code = *e.GetCode()
			}
			if e.GetMessage() != nil {
				message = *e.GetMessage()
			}
		}
		status := oe.GetStatusCode()
		if status == http.StatusForbidden || code == "Authorization_RequestDenied" {
			return fmt.Errorf("%s: the signed-in account is not allowed to (Graph %d %s: %s).\n"+
				"It needs the %s role in the partner tenant (Entra admin center > Roles & admins), "+
				"or sign in with an account that has it", what, status, code, message, roles)
		}
		return fmt.Errorf("%s: Graph %d %s: %s", what, status, code, message)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Roles the admin needs, by operation.
const (
	rolesApps    = "Application Administrator or Cloud Application Administrator (or Global Administrator)"
	rolesConsent = "Privileged Role Administrator or Global Administrator (granting Microsoft Graph application permissions is reserved to them)"
)

// vaultError describes a failed Key Vault call; a denied one names the RBAC role.
func vaultError(what, vault string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case http.StatusForbidden:
			return fmt.Errorf("%s: the signed-in account may not use the secrets of %s (%s).\n"+
				"Assign it the Key Vault Secrets Officer role on the vault (Azure portal > the vault > Access control (IAM)), "+
				"and make sure the vault's firewall admits this machine", what, vault, re.ErrorCode)
		case http.StatusUnauthorized:
			return fmt.Errorf("%s: Key Vault %s refused the sign-in (%s): is the vault in a tenant this account belongs to?", what, vault, re.ErrorCode)
		}
	}
	return fmt.Errorf("%s (%s): %w", what, vault, err)
}

// replicationDelay reports the errors Entra returns while a just-created object has not yet
// reached every replica (creating the service principal right after the app, assigning roles
// right after the service principal).
func replicationDelay(err error) bool {
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		return false
	}
	msg, code := "", ""
	if e := oe.GetErrorEscaped(); e != nil {
		if e.GetMessage() != nil {
			msg = *e.GetMessage()
		}
		if e.GetCode() != nil {
			code = *e.GetCode()
		}
	}
	return code == "Request_ResourceNotFound" || strings.Contains(msg, "does not reference a valid application object")
}
