package entra

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// errCtx carries what an AADSTS message names (app, tenant, user, resource), so one catalogue
// entry serves every place that raises the code, scenario-injected faults included.
type errCtx struct {
	App, AppName      string
	Tenant            string // tenant id or the name the client used
	TenantName        string
	UPN               string
	Resource          string
	Detail            string // appended to the message (hints, reasons)
	Issued, ValidFrom time.Time
}

// aadEntry is one AADSTS code: the OAuth error value, HTTP status and message.
type aadEntry struct {
	err      string
	status   int
	suberror string
	msg      func(c errCtx) string
}

func stamp(t time.Time) string { return t.UTC().Format("01/02/2006 15:04:05") }

// aadCatalogue holds the codes the simulator raises, with Entra's wording (abridged where the
// real message is long). Codes from scenario faults that are not listed get a generic entry.
var aadCatalogue = map[int]aadEntry{
	50011: {"invalid_request", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.", c.Detail, c.App)
	}},
	50020: {"invalid_grant", 400, "", func(c errCtx) string {
		return fmt.Sprintf("User account '%s' from identity provider 'https://sts.windows.net/%s/' does not exist in tenant '%s' and cannot access the application '%s'(%s) in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Azure Active Directory user account.", c.UPN, c.Detail, c.TenantName, c.App, c.AppName)
	}},
	50034: {"invalid_grant", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The user account %s does not exist in the %s directory. To sign into this application, the account must be added to the directory.", c.UPN, c.TenantName)
	}},
	50057: {"invalid_grant", 400, "", func(c errCtx) string { return "The user account is disabled." }},
	50058: {"login_required", 400, "", func(c errCtx) string {
		return "A silent sign-in request was sent but no user is signed in."
	}},
	50059: {"invalid_request", 400, "", func(c errCtx) string {
		return "No tenant-identifying information found in either the request or implied by any provided credentials."
	}},
	50076: {"invalid_grant", 400, "basic_action", func(c errCtx) string {
		return fmt.Sprintf("Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '%s'.", c.Resource)
	}},
	50079: {"invalid_grant", 400, "basic_action", func(c errCtx) string {
		return fmt.Sprintf("Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '%s'.", c.Resource)
	}},
	50173: {"invalid_grant", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%s' and the TokensValidFrom date (before which tokens are not valid) for this user is '%s'.", c.Issued.UTC().Format(time.RFC3339Nano), c.ValidFrom.UTC().Format(time.RFC3339Nano))
	}},
	50177: {"invalid_grant", 400, "", func(c errCtx) string {
		return fmt.Sprintf("User account %s from identity provider https://sts.windows.net/%s/ does not exist in tenant '%s' and cannot access the application '%s'(%s) in that tenant. The user is not a member of a security group assigned in a delegated admin relationship.", c.UPN, c.Detail, c.TenantName, c.App, c.AppName)
	}},
	53003: {"invalid_grant", 400, "message_only", func(c errCtx) string {
		return "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."
	}},
	54005: {"invalid_grant", 400, "", func(c errCtx) string {
		return "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."
	}},
	65001: {"invalid_grant", 400, "consent_required", func(c errCtx) string {
		return fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", c.App, c.AppName)
	}},
	65004: {"access_denied", 400, "", func(c errCtx) string { return "User declined to consent to access the app." }},
	70000: {"invalid_grant", 400, "", func(c errCtx) string { return "Provided grant is invalid or malformed. " + c.Detail }},
	70003: {"unsupported_grant_type", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The app requested an unsupported grant type '%s'.", c.Detail)
	}},
	70008: {"invalid_grant", 400, "", func(c errCtx) string {
		return "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."
	}},
	70011: {"invalid_scope", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", c.Detail)
	}},
	70016: {"authorization_pending", 400, "", func(c errCtx) string {
		return "OAuth 2.0 device flow error. Authorization is pending. Continue polling."
	}},
	70019: {"expired_token", 400, "", func(c errCtx) string { return "Verification code expired." }},
	70043: {"invalid_grant", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. The token was issued on %s and the maximum allowed lifetime for this request is 43200.", stamp(c.Issued))
	}},
	90002: {"invalid_request", 400, "", func(c errCtx) string {
		return fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", c.Tenant)
	}},
	90099: {"invalid_grant", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The application '%s' (%s) has not been authorized in the tenant '%s'. Applications must be authorized to access the customer tenant before partner delegated administrators can use them. Provide pre-consent or execute the appropriate Partner Center API to authorize the application.", c.AppName, c.App, c.Tenant)
	}},
	500011: {"invalid_resource", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", c.Resource, c.TenantName)
	}},
	500112: {"invalid_grant", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The reply address '%s' does not match the reply address provided when requesting Authorization code.", c.Detail)
	}},
	501481: {"invalid_grant", 400, "", func(c errCtx) string {
		return "The Code_Verifier does not match the code_challenge supplied in the authorization request."
	}},
	700005: {"invalid_grant", 400, "", func(c errCtx) string {
		return "Provided Authorization Code is intended to use against other tenant, thus rejected."
	}},
	700016: {"unauthorized_client", 400, "", func(c errCtx) string {
		return fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", c.App, c.TenantName)
	}},
	700021: {"invalid_client", 401, "", func(c errCtx) string {
		return "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials ."
	}},
	700023: {"invalid_client", 401, "", func(c errCtx) string {
		return fmt.Sprintf("Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials . %s", c.Detail)
	}},
	700024: {"invalid_client", 401, "", func(c errCtx) string {
		return "Client assertion is not within its valid time range. " + c.Detail
	}},
	700027: {"invalid_client", 401, "", func(c errCtx) string {
		return "Client assertion contains an invalid signature. " + c.Detail
	}},
	700082: {"invalid_grant", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The refresh token has expired due to inactivity. The token was issued on %s and was inactive for 90.00:00:00.", c.Issued.UTC().Format(time.RFC3339Nano))
	}},
	700211: {"invalid_client", 401, "", func(c errCtx) string {
		return fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", c.Detail)
	}},
	700212: {"invalid_client", 401, "", func(c errCtx) string {
		return fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", c.Detail)
	}},
	700213: {"invalid_client", 401, "", func(c errCtx) string {
		return fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", c.Detail)
	}},
	900144: {"invalid_request", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The request body must contain the following parameter: '%s'.", c.Detail)
	}},
	1002012: {"invalid_scope", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", c.Detail)
	}},
	7000215: {"invalid_client", 401, "", func(c errCtx) string {
		return fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.%s", c.App, c.Detail)
	}},
	7000218: {"invalid_client", 401, "", func(c errCtx) string {
		return "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
	}},
	7000222: {"invalid_client", 401, "", func(c errCtx) string {
		return fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", c.App)
	}},
	7000229: {"invalid_client", 400, "", func(c errCtx) string {
		return fmt.Sprintf("The client application %s is missing service principal in the tenant %s. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119", c.App, c.Tenant)
	}},
	9002313: {"invalid_request", 400, "", func(c errCtx) string {
		return "Invalid request. Request is malformed or invalid. " + c.Detail
	}},
	// Device flow: the user declined on the verification page.
	70020: {"authorization_declined", 400, "", func(c errCtx) string {
		return "The end user denied the authorization request."
	}},
	28000: {"invalid_scope", 400, "", func(c errCtx) string {
		return fmt.Sprintf("Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", c.Detail)
	}},
}

// aadError is one Entra error answer.
type aadError struct {
	Code     int
	Err      string // OAuth error value
	Status   int
	Suberror string
	Message  string // without the "AADSTSnnnn: " prefix
}

func (e *aadError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.Code, e.Message) }

// aad builds the error for code from the catalogue.
func aad(code int, c errCtx) *aadError {
	ent, ok := aadCatalogue[code]
	if !ok {
		// A scenario may inject any code; answer it in the right shape even without the wording.
		return &aadError{Code: code, Err: "invalid_grant", Status: 400, Message: "Simulated failure injected by the scenario."}
	}
	return &aadError{Code: code, Err: ent.err, Status: ent.status, Suberror: ent.suberror, Message: ent.msg(c)}
}

// aadCode parses a scenario code such as "65001" or "AADSTS65001".
func aadCode(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(s), "AADSTS"))
	return n, err == nil && n > 0
}

// as sets the OAuth error value for a context where Entra uses another one (the authorize
// endpoint answers interaction_required where the token endpoint answers invalid_grant).
func (e *aadError) as(errValue string) *aadError {
	cp := *e
	cp.Err = errValue
	return &cp
}

// errorBody is Entra's token-endpoint error JSON, fields in Entra's order.
type errorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	URI           string `json:"error_uri"`
	Suberror      string `json:"suberror,omitempty"`
}

// reqIDs are the ids Entra stamps on every answer: a fresh trace id, and the correlation id the
// client sent (client-request-id, as MSAL sends it) or a new one.
type reqIDs struct {
	trace, correlation string
	at                 time.Time
}

func newReqIDs(r *http.Request, now time.Time) reqIDs {
	c := r.Header.Get("client-request-id")
	if _, err := uuid.Parse(c); err != nil {
		c = uuid.NewString()
	}
	return reqIDs{trace: uuid.NewString(), correlation: c, at: now.UTC()}
}

// description is the error_description: message plus the trace lines Entra appends.
func (e *aadError) description(ids reqIDs) string {
	return fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
		e.Code, e.Message, ids.trace, ids.correlation, ids.at.Format("2006-01-02 15:04:05Z"))
}

func (e *aadError) body(ids reqIDs, authority string) errorBody {
	return errorBody{
		Error: e.Err, Description: e.description(ids), Codes: []int{e.Code},
		Timestamp: ids.at.Format("2006-01-02 15:04:05Z"), TraceID: ids.trace, CorrelationID: ids.correlation,
		URI: fmt.Sprintf("%s/error?code=%d", authority, e.Code), Suberror: e.Suberror,
	}
}

// writeJSON answers v with Entra's headers.
func writeJSON(w http.ResponseWriter, ids reqIDs, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("x-ms-request-id", ids.trace)
	h.Set("client-request-id", ids.correlation)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeAADError(w http.ResponseWriter, ids reqIDs, authority string, e *aadError) {
	writeJSON(w, ids, e.Status, e.body(ids, authority))
}

// redirectError sends the browser back to the client with ?error=&error_description=&state=
// (in the requested response mode), as Entra does once the redirect URI is known to be valid.
func redirectError(w http.ResponseWriter, r *http.Request, redirectURI, mode, state string, ids reqIDs, e *aadError) {
	v := url.Values{}
	v.Set("error", e.Err)
	v.Set("error_description", e.description(ids))
	v.Set("error_uri", fmt.Sprintf("%s/error?code=%d", baseURL(r), e.Code))
	if e.Suberror != "" {
		v.Set("error_subcode", e.Suberror)
	}
	if state != "" {
		v.Set("state", state)
	}
	respond(w, redirectURI, mode, v)
}
