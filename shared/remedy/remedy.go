// Package remedy turns failures into what an MSP can act on: a stable code, the message, and the
// fix. The table follows Microsoft's documented error codes (each cited beside its rule)
// and the errors MSPs meet in PSA/documentation tools' integration guides (consent errors,
// report concealment).
package remedy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/tenantsync/tenantsync/shared/domain"
)

type fix struct {
	remediation string
	retryable   bool
}

// Entra sign-in errors (AADSTS codes).
var aadsts = map[string]fix{
	"7000215": {"The client secret is wrong: paste the secret's Value, not its Secret ID, into Key Vault (or switch to the federated credential, which has no secret).", false},
	"7000222": {"The client secret has expired: create a new one (tenantsync register) or use the federated credential / a certificate, which do not silently expire.", false},
	"7000229": {"tenantsync has no service principal in this tenant: grant consent in this tenant (Partner Center consent, or send the admin-consent link).", false},
	"65001":   {"Consent is missing for the permissions tenantsync needs: re-run consent for this tenant.", false},
	"700016":  {"The application id is not found in the directory: check APP_CLIENT_ID and that the app registration is multi-tenant.", false},
	"90002":   {"The tenant does not exist (deleted or wrong id): exclude it or fix the tenant id.", false},
	"700082":  {"The partner refresh token expired through inactivity: reconnect the partner account (/api/connect).", false},
	"50076":   {"MFA is required: sign in with the MFA-protected service account (Microsoft Authenticator).", false},
	"50079":   {"MFA registration is required for the service account: register Microsoft Authenticator, then reconnect.", false},
	"53003":   {"Conditional Access blocked the sign-in: exclude the service account or allow the location, then reconnect.", false},
	"50020":   {"The user is not in this tenant: add the partner security group to the tenant's GDAP relationship.", false},
	"50177":   {"The user is not in the right GDAP group: add the security group with the needed roles to the GDAP relationship.", false},
	"50173":   {"The partner grant was revoked (password change or session revocation): reconnect the partner account.", false},
	"70043":   {"A sign-in frequency policy expired the partner session: reconnect and exempt the service account from sign-in frequency.", false},
	"90099":   {"The app is not authorized for delegated admin in this tenant: grant consent in this tenant.", false},
	"50011":   {"The redirect URI does not match the app registration: re-run tenantsync register with the deployed URL.", false},
	"65004":   {"The customer's admin declined consent: send the admin-consent link again and explain why the permissions are needed.", false},
}

// Graph error codes.
var graph = map[string]fix{
	"Authorization_RequestDenied":                           {"tenantsync lacks a permission in this tenant: re-run consent so the app's permissions are granted.", false},
	"Authorization_IdentityNotFound":                        {"The app's service principal is missing in this tenant: grant consent in this tenant.", false},
	"InvalidAuthenticationToken":                            {"The token was rejected: check the app registration and the tenant's consent; reconnect if it persists.", true},
	"Authentication_RequestFromNonPremiumTenantOrB2CTenant": {"Last sign-in needs Entra ID P1/P2 in this tenant: nothing to fix unless you want sign-in dates (buy P1/P2).", false},
	"TooManyRequests":                                       {"Microsoft Graph throttled the sync: it retries on its own; lower the sync frequency if it persists.", true},
	"serviceNotAvailable":                                   {"Microsoft Graph was unavailable: the sync retries on its own.", true},
	"syncStateNotFound":                                     {"The delta token expired: the next sync does a full resync on its own.", true},
	"resyncRequired":                                        {"The delta token expired: the next sync does a full resync on its own.", true},
	"Request_ResourceNotFound":                              {"The object was not found: it may have been deleted during the sync.", true},
}

// Codes for conditions tenantsync detects itself.
const (
	CodeIntuneNotLicensed = "IntuneNotLicensed"
	CodeReportsConcealed  = "ReportsConcealed"
	CodePremiumRequired   = "PremiumRequired"
	// CodeMFAStateUnavailable: no P1/P2 and the MFA fallback lacks its permissions.
	CodeMFAStateUnavailable = "MFAStateUnavailable"
	CodeNotConsented        = "NotConsented"
	CodeNetwork             = "NetworkError"
	CodeTimeout             = "Timeout"
	CodeInternal            = "InternalError"
)

// Known problems that are conditions of the tenant, not errors.
var (
	IntuneNotLicensed = domain.Problem{Code: CodeIntuneNotLicensed, Message: "The tenant has no Intune licence, so managed devices cannot be read.",
		Remediation: "Nothing to fix unless the customer should have Intune: devices are synced once an Intune licence is assigned."}
	ReportsConcealed = domain.Problem{Code: CodeReportsConcealed, Message: "Usage reports show concealed (hashed) user names, so mailbox usage cannot be matched to users.",
		Remediation: "Microsoft 365 admin center > Settings > Org settings > Reports: turn off concealed names."}
	PremiumRequired = domain.Problem{Code: CodePremiumRequired, Message: "Last sign-in dates and Microsoft's MFA registration report need Entra ID P1/P2, which this tenant does not have; MFA state is derived from the security defaults policy, per-user MFA and each user's registered methods instead (see mfaSource).",
		Remediation: "Nothing to fix unless you want sign-in dates: they need Entra ID P1/P2 in this tenant."}
	MFAStateUnavailable = domain.Problem{Code: CodeMFAStateUnavailable, Message: "This tenant has no Entra ID P1/P2, and tenantsync may not read users' authentication methods, so neither sign-in dates nor MFA state can be synced.",
		Remediation: "Re-run consent for this tenant so tenantsync holds UserAuthenticationMethod.Read.All and Policy.Read.All (both read-only)."}
)

var aadstsRe = regexp.MustCompile(`AADSTS(\d{5,7})`)

// Classify maps any error to a Problem.
func Classify(err error) domain.Problem {
	if err == nil {
		return domain.Problem{}
	}
	// Problems pass through as they are, returned by pointer or by value.
	var pp *domain.Problem
	if errors.As(err, &pp) && pp != nil {
		return *pp
	}
	var p domain.Problem
	if errors.As(err, &p) {
		return p
	}
	// A Graph error before anything calls err.Error(): msgraph-sdk-go's ODataError.Error()
	// dereferences the body's message without a nil check (models/odataerrors/o_data_error.go:
	// `return *(m.GetErrorEscaped().GetMessage())`), so an answer without error.message, or with
	// no error object at all, would panic here. Read the fields one by one instead.
	var odata *odataerrors.ODataError
	if errors.As(err, &odata) {
		code, message := "", ""
		if e := odata.GetErrorEscaped(); e != nil {
			if c := e.GetCode(); c != nil {
				code = *c
			}
			if m := e.GetMessage(); m != nil {
				message = *m
			}
		}
		if p, ok := fromAADSTS(message); ok {
			return p
		}
		if message == "" {
			message = fmt.Sprintf("Microsoft Graph answered HTTP %d without an error message", odata.ResponseStatusCode)
		}
		return fromStatus(code, firstLine(message), odata.ResponseStatusCode)
	}
	msg := err.Error()
	if p, ok := fromAADSTS(msg); ok {
		return p
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fromStatus(re.ErrorCode, firstLine(msg), re.StatusCode)
	}
	// kiota's ApiError: an error status without a registered error factory (e.g. a 503 on
	// $batch); classify it by status rather than as an internal error.
	var ae *abstractions.ApiError
	if errors.As(err, &ae) && ae.ResponseStatusCode > 0 {
		return fromStatus("", firstLine(msg), ae.ResponseStatusCode)
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return domain.Problem{Code: CodeTimeout, Message: firstLine(msg), Remediation: "The call timed out: the sync retries on its own.", Retryable: true}
	case errors.As(err, &ne):
		return domain.Problem{Code: CodeNetwork, Message: firstLine(msg), Remediation: "A network error reached Microsoft: the sync retries on its own; check outbound connectivity if it persists.", Retryable: true}
	}
	return domain.Problem{Code: CodeInternal, Message: firstLine(msg), Remediation: "Unexpected error: see the function logs for this run id.", Retryable: true}
}

// fromAADSTS classifies an Entra sign-in error by its AADSTS code.
func fromAADSTS(msg string) (domain.Problem, bool) {
	m := aadstsRe.FindStringSubmatch(msg)
	if m == nil {
		return domain.Problem{}, false
	}
	code := "AADSTS" + m[1]
	f, ok := aadsts[m[1]]
	if !ok {
		f = fix{"Entra ID refused the sign-in: look the code up at https://login.microsoftonline.com/error?code=" + m[1] + ".", false}
	}
	return domain.Problem{Code: code, Message: firstLine(aadstsMessage(msg, code)), Remediation: f.remediation, Retryable: f.retryable}, true
}

func fromStatus(code, message string, status int) domain.Problem {
	if f, ok := graph[code]; ok {
		return domain.Problem{Code: code, Message: message, Remediation: f.remediation, Retryable: f.retryable}
	}
	switch {
	case status == http.StatusTooManyRequests:
		return domain.Problem{Code: "TooManyRequests", Message: message, Remediation: graph["TooManyRequests"].remediation, Retryable: true}
	case status >= 500:
		return domain.Problem{Code: orDefault(code, "ServiceUnavailable"), Message: message, Remediation: "Microsoft's service failed: the sync retries on its own.", Retryable: true}
	case status == http.StatusForbidden:
		return domain.Problem{Code: orDefault(code, "Forbidden"), Message: message, Remediation: graph["Authorization_RequestDenied"].remediation}
	case status == http.StatusUnauthorized:
		return domain.Problem{Code: orDefault(code, "Unauthorized"), Message: message, Remediation: graph["InvalidAuthenticationToken"].remediation, Retryable: true}
	}
	return domain.Problem{Code: orDefault(code, fmt.Sprintf("HTTP%d", status)), Message: message, Remediation: "Unexpected answer from Microsoft: see the function logs for this run id."}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// aadstsMessage cuts the description out of an azidentity error (which embeds the whole response).
func aadstsMessage(msg, code string) string {
	if i := strings.Index(msg, code); i >= 0 {
		msg = msg[i:]
	}
	for _, sep := range []string{"\\r\\n", "\r\n", "Trace ID"} {
		if i := strings.Index(msg, sep); i > 0 {
			msg = msg[:i]
		}
	}
	return strings.TrimSpace(strings.Trim(msg, `",`))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return strings.TrimSpace(s)
}
