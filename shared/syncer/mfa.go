package syncer

// MFA state for tenants without Entra ID P1/P2.
//
// userRegistrationDetails needs P1/P2: "A Microsoft Entra ID P1 or P2 license is required to access
// authentication methods usage and insights reports" (learn.microsoft.com/graph/api/resources/
// authenticationmethods-usage-insights-overview); without it Graph answers 403
// Authentication_RequestFromNonPremiumTenantOrB2CTenant (microsoft-graph-docs-contrib#8777). Most
// SMB customers (Business Basic/Standard) have neither P1/P2 nor Conditional Access (a P1 feature),
// so what can require MFA of their users is the security defaults policy or per-user MFA
// ("Enable per-user Microsoft Entra multifactor authentication", howto-mfa-userstates). What we read
// instead, and why:
//
//   - GET /policies/identitySecurityDefaultsEnforcementPolicy (v1.0, application permission
//     Policy.Read.All, the least privileged; identitysecuritydefaultsenforcementpolicy-get). One call
//     per tenant. When on, every user must register for MFA and is prompted as needed.
//   - GET /users/{id}/authentication/methods (v1.0, UserAuthenticationMethod.Read.All, the least
//     privileged for other users; authentication-list-methods): which methods each user registered,
//     hence whether they are registered for MFA. One call per user, sent 20 per $batch. Microsoft
//     advises the reporting API over iterating users with it, but that API is the one needing P1/P2,
//     so there is no cheaper route. Each batch item counts against Graph's limits on its own. The
//     identity and access limits (concepts/throttling-limits.md) give "any identity path not listed"
//     a GET cost of 1 resource unit, so a 300-user tenant costs about 600 of its 5,000 per 10 s
//     (unverified that these paths are metered there: the page names no authentication paths).
//   - GET /beta/users/{id}/authentication/requirements (Policy.Read.All; beta only: "You can manage
//     per-user MFA settings by using the Microsoft Graph REST API Beta", howto-mfa-userstates; the
//     v1.0 API has no such resource): perUserMfaState disabled|enabled|enforced. Read only when
//     security defaults are off (with them on, everyone must use MFA anyway, and this halves the
//     calls). Beta is "subject to change" and unsupported in production, so any failure of it other
//     than throttling degrades to the methods alone (mfaSource "methods") instead of failing.
//
// None of the three API pages states a licence requirement (unverified beyond the pages). Both
// permissions are read-only and declared in shared/appperms.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// methodName maps an authenticationMethod subtype to the registration report's methodsRegistered
// vocabulary (userRegistrationDetails), so users read the same whichever source filled them. The
// password is not a registered method there; unknown subtypes keep their type name.
func methodName(odataType, phoneType string) string {
	t := strings.TrimSuffix(strings.TrimPrefix(odataType, "#microsoft.graph."), "AuthenticationMethod")
	switch t {
	case "password", "":
		return ""
	case "microsoftAuthenticator":
		return "microsoftAuthenticatorPush"
	case "softwareOath":
		return "softwareOneTimePasscode"
	case "phone":
		switch phoneType {
		case "alternateMobile":
			return "alternateMobilePhone"
		case "office":
			return "officePhone"
		}
		return "mobilePhone"
	}
	return t // fido2, windowsHelloForBusiness, email, temporaryAccessPass, platformCredential, ...
}

// strongMethod reports whether a method counts as registered for MFA. E-mail serves self-service
// password reset only, a Temporary Access Pass is a short-lived onboarding credential, and the
// password is the first factor.
func strongMethod(name string) bool {
	switch name {
	case "", "email", "temporaryAccessPass":
		return false
	}
	return true
}

// mfaDerivation is a user's MFA state derived without the registration report.
type mfaDerivation struct {
	Registered bool
	Methods    []string
	// Required: MFA is required of the user (security defaults, or per-user MFA enabled/enforced);
	// nil when neither could be read.
	Required *bool
}

// deriveMFA combines a user's registered methods with the tenant's security defaults (nil:
// unknown) and the user's per-user MFA state ("": unknown). Without P1/P2 there is no Conditional
// Access, so these are the only ways MFA can be required.
func deriveMFA(methods []string, securityDefaults *bool, perUser string) mfaDerivation {
	d := mfaDerivation{Methods: []string{}}
	for _, m := range methods {
		if m == "" {
			continue
		}
		d.Methods = append(d.Methods, m)
		d.Registered = d.Registered || strongMethod(m)
	}
	var req bool
	switch {
	case securityDefaults != nil && *securityDefaults:
		req = true
	case perUser == "enabled" || perUser == "enforced":
		req = true
	case perUser == "disabled" && securityDefaults != nil:
		req = false
	default:
		return d
	}
	d.Required = &req
	return d
}

// fallbackSource is the tenant's mfaSource when the registration report is unavailable.
func fallbackSource(securityDefaults *bool, perUserRead bool) string {
	switch {
	case securityDefaults != nil && *securityDefaults:
		return domain.MFASourceSecurityDefaults
	case securityDefaults != nil && perUserRead:
		return domain.MFASourcePerUser
	}
	return domain.MFASourceMethods
}

// mfaClients are what the fallback reads with: the v1.0 client and adapter, and newBeta, which
// builds a beta adapter when per-user states are needed (nil when the cloud has no beta).
type mfaClients struct {
	client  *msgraphsdk.GraphServiceClient
	adapter abstractions.RequestAdapter
	newBeta func() abstractions.RequestAdapter
	beta    abstractions.RequestAdapter
	log     *slog.Logger // carries the tenant and run ids
}

// mfaOutcome summarises a fallback run.
type mfaOutcome struct {
	Registered, Total int
	Source            string
}

// errMFADenied marks a fallback that lacks a permission in the tenant (consent predating it).
var errMFADenied = errors.New("MFA fallback denied")

// mfaFallback writes every user's derived MFA state (joined with lastSignIn) into sink.
func mfaFallback(ctx context.Context, mc mfaClients, lastSignIn map[string]time.Time, sink deltaSink) (mfaOutcome, error) {
	var out mfaOutcome
	sd, err := securityDefaults(ctx, mc.client)
	if err != nil {
		return out, err
	}
	if sd == nil {
		mc.log.Warn("security defaults policy unreadable (Policy.Read.All not granted?): MFA requirement left unknown")
	}
	ids, err := userIDs(ctx, mc.client, mc.adapter)
	if err != nil {
		return out, err
	}
	perUserRead := sd != nil && !*sd
	if perUserRead && mc.newBeta != nil {
		mc.beta = mc.newBeta()
	}
	perUserRead = perUserRead && mc.beta != nil
	for start := 0; start < len(ids); start += maxBatchItems {
		chunk := ids[start:min(start+maxBatchItems, len(ids))]
		methods, err := userMethods(ctx, mc, chunk)
		if err != nil {
			return out, err
		}
		perUser := map[string]string{}
		if perUserRead {
			if perUser, err = perUserStates(ctx, mc, chunk); err != nil {
				if isThrottled(err) {
					return out, err
				}
				// Beta failed: the methods alone (users already written keep their state).
				mc.log.Warn("per-user MFA state unreadable: MFA requirement left unknown", "error", err)
				perUserRead, perUser = false, map[string]string{}
			}
		}
		for _, id := range chunk {
			ms, ok := methods[id]
			if !ok {
				continue // deleted since the user list was read
			}
			d := deriveMFA(ms, sd, perUser[id])
			out.Total++
			if d.Registered {
				out.Registered++
			}
			us := domain.UserSecurity{ID: id, MFARegistered: &d.Registered, MFAMethods: d.Methods, MFARequired: d.Required,
				PerUserMFAState: perUser[id], MFASource: domain.MFASourceMethods, LastSignIn: lastSignIn[id]}
			delete(lastSignIn, id)
			if err := sink.put(ctx, id, us); err != nil {
				return out, err
			}
		}
	}
	out.Source = fallbackSource(sd, perUserRead)
	return out, nil
}

// securityDefaults reads the policy; nil when the app lacks Policy.Read.All (a consent older than
// the fallback): registration still comes from the methods.
func securityDefaults(ctx context.Context, c *msgraphsdk.GraphServiceClient) (*bool, error) {
	p, err := c.Policies().IdentitySecurityDefaultsEnforcementPolicy().Get(ctx, nil)
	if err != nil {
		if denied(err) {
			return nil, nil
		}
		return nil, err
	}
	on := boolv(p.GetIsEnabled())
	return &on, nil
}

// userIDs lists every user's id (1,000 a page, id only: the cheapest read Graph offers).
func userIDs(ctx context.Context, c *msgraphsdk.GraphServiceClient, adapter abstractions.RequestAdapter) ([]string, error) {
	top := int32(999)
	resp, err := c.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id"}, Top: &top},
	})
	if err != nil {
		return nil, err
	}
	it, err := msgraphgocore.NewPageIterator[models.Userable](resp, adapter, models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, err
	}
	var ids []string
	err = it.Iterate(ctx, func(u models.Userable) bool {
		if id := str(u.GetId()); id != "" {
			ids = append(ids, id)
		}
		return true
	})
	return ids, err
}

// userMethods reads the registered methods of up to 20 users in one $batch. A user deleted
// meanwhile (404) is left out; a missing permission is errMFADenied.
func userMethods(ctx context.Context, mc mfaClients, ids []string) (map[string][]string, error) {
	reqs := map[string]*abstractions.RequestInformation{}
	for _, id := range ids {
		ri, err := mc.client.Users().ByUserId(id).Authentication().Methods().ToGetRequestInformation(ctx, nil)
		if err != nil {
			return nil, err
		}
		reqs[id] = ri
	}
	answers, err := batchGet(ctx, mc.adapter, reqs)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for id, a := range answers {
		if a.status == http.StatusNotFound {
			continue
		}
		if a.err != nil {
			if denied(a.err) {
				return nil, fmt.Errorf("%w: %w", errMFADenied, a.err)
			}
			return nil, a.err
		}
		var page struct {
			Value []struct {
				Type      string `json:"@odata.type"`
				PhoneType string `json:"phoneType"`
			} `json:"value"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			return nil, fmt.Errorf("authentication methods of %s: %w", id, err)
		}
		names := []string{}
		for _, m := range page.Value {
			if n := methodName(m.Type, m.PhoneType); n != "" {
				names = append(names, n)
			}
		}
		out[id] = names
	}
	return out, nil
}

// perUserStates reads up to 20 users' per-user MFA state in one beta $batch.
func perUserStates(ctx context.Context, mc mfaClients, ids []string) (map[string]string, error) {
	reqs := map[string]*abstractions.RequestInformation{}
	for _, id := range ids {
		ri := abstractions.NewRequestInformation()
		ri.Method = abstractions.GET
		ri.UrlTemplate = "{+baseurl}/users/{user%2Did}/authentication/requirements"
		ri.PathParameters = map[string]string{"baseurl": mc.beta.GetBaseUrl(), "user%2Did": id}
		ri.Headers.TryAdd("Accept", "application/json")
		reqs[id] = ri
	}
	answers, err := batchGet(ctx, mc.beta, reqs)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for id, a := range answers {
		if a.status == http.StatusNotFound {
			continue
		}
		if a.err != nil {
			return nil, a.err
		}
		var r struct {
			PerUserMfaState string `json:"perUserMfaState"`
		}
		if err := json.Unmarshal(a.body, &r); err != nil {
			return nil, fmt.Errorf("per-user MFA state of %s: %w", id, err)
		}
		out[id] = r.PerUserMfaState
	}
	return out, nil
}

// maxBatchItems is Graph's $batch limit.
const maxBatchItems = 20

// itemAnswer is one request's final answer: the JSON body on success, else err (an ODataError with
// the status, code and message).
type itemAnswer struct {
	status int
	body   []byte
	err    error
}

// batchGet sends up to 20 GETs as one $batch. Graph throttles items on their own (429 with their
// own Retry-After) and the SDK does not retry them, so each throttled item is re-sent on its own
// through the SDK's pipeline, where the RetryHandler honours Retry-After with backoff. (Re-batching
// them is worse: a lone item always travels right behind its batch's POST, so a throttle that hits
// every other request can hit that item on every round.)
func batchGet(ctx context.Context, adapter abstractions.RequestAdapter, reqs map[string]*abstractions.RequestInformation) (map[string]itemAnswer, error) {
	batch := msgraphgocore.NewBatchRequest(adapter)
	keys := map[string]string{} // item id → key
	for key, ri := range reqs {
		item, err := batch.AddBatchRequestStep(*ri)
		if err != nil {
			return nil, err
		}
		keys[str(item.GetId())] = key
	}
	resp, err := batch.Send(ctx, adapter)
	if err != nil {
		return nil, err
	}
	out := map[string]itemAnswer{}
	for id, key := range keys {
		item := resp.GetResponseById(id)
		if item == nil || item.GetStatus() == nil {
			return nil, fmt.Errorf("$batch answer lacks an item for %s", key)
		}
		a := decodeItem(item)
		if isThrottledStatus(a.status) {
			if a, err = sendOne(ctx, adapter, reqs[key]); err != nil {
				return nil, err
			}
		}
		out[key] = a
	}
	return out, nil
}

// sendOne sends one GET through the SDK (retries included) and returns its raw JSON answer.
func sendOne(ctx context.Context, adapter abstractions.RequestAdapter, ri *abstractions.RequestInformation) (itemAnswer, error) {
	b, err := adapter.SendPrimitive(ctx, ri, "[]byte", abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil {
		if _, _, status, ok := odata(err); ok {
			return itemAnswer{status: status, err: err}, nil
		}
		return itemAnswer{}, err // transport or token failure
	}
	body, _ := b.([]byte)
	return itemAnswer{status: http.StatusOK, body: body}, nil
}

// decodeItem reads an item's status and body; error bodies become ODataErrors (code and message
// may each be absent).
func decodeItem(item msgraphgocore.BatchItem) itemAnswer {
	a := itemAnswer{status: int(*item.GetStatus())}
	a.body, _ = json.Marshal(item.GetBody()) // kiota's parsed values marshal back to the item's JSON
	if a.status < 400 {
		return a
	}
	var e struct {
		Error struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(a.body, &e)
	oe := odataerrors.NewODataError()
	oe.ResponseStatusCode = a.status
	me := odataerrors.NewMainError()
	code, msg := "", fmt.Sprintf("$batch item answered %d", a.status)
	if e.Error.Code != nil {
		code = *e.Error.Code
	}
	if e.Error.Message != nil && *e.Error.Message != "" {
		msg = *e.Error.Message
	}
	me.SetCode(&code)
	me.SetMessage(&msg)
	oe.SetErrorEscaped(me)
	a.err = oe
	return a
}

func isThrottledStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

func isThrottled(err error) bool {
	_, _, status, ok := odata(err)
	return ok && isThrottledStatus(status)
}

// denied recognises a missing permission (403 Authorization_RequestDenied, or any 403 without the
// non-premium code).
func denied(err error) bool {
	code, _, status, ok := odata(err)
	return ok && status == http.StatusForbidden && code != "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
}

// betaURL is the beta counterpart of a v1.0 Graph base URL ("" when there is none).
func betaURL(graphURL string) string {
	u := strings.TrimRight(graphURL, "/")
	if !strings.HasSuffix(u, "/v1.0") {
		return ""
	}
	return strings.TrimSuffix(u, "/v1.0") + "/beta"
}
