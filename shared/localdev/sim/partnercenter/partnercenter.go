// Package partnercenter simulates the Partner Center REST API (api.partnercenter.microsoft.com):
// the partner's CSP customers with their subscribed SKUs, and control-panel-vendor consent
// (applicationconsents), which creates the app's service principal in a customer tenant when the
// partner holds Application Administrator or Cloud Application Administrator there through GDAP.
// Errors use Partner Center's body {"code", "description", "data", "source":"PartnerFD"}.
package partnercenter

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/directory"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/metrics"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// Partner Center's limits: 50 requests per second per application on applicationconsents (from
// the control-panel-vendor API reference). The customers page size has no documented maximum;
// larger requests are clamped to maxPageSize, the size integrations commonly ask for.
const (
	defaultRateLimit = 50
	maxPageSize      = 500
	userScope        = "user_impersonation"
)

// Options wire the service to the simulator's shared state.
type Options struct {
	Directory *directory.Directory
	Issuer    *token.Issuer
	Metrics   *metrics.Recorder
	BaseURL   string
	// RateLimit is applicationconsents requests per second per calling app; 0: 50.
	RateLimit int
	// Clock times the rate limiter; nil: time.Now. It is wall time rather than the scenario
	// clock, which may stand still and would then make every request fall in one second.
	Clock func() time.Time
}

// Service serves the Partner Center host. Safe for concurrent use.
type Service struct {
	opts    Options
	pageKey []byte // signs continuation tokens so they are opaque and cannot be forged

	mu      sync.Mutex
	windows map[string]*window // app id → current one-second window
}

type window struct {
	start time.Time
	count int
}

// New builds the service.
func New(o Options) *Service {
	if o.RateLimit <= 0 {
		o.RateLimit = defaultRateLimit
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Service{opts: o, pageKey: key, windows: map[string]*window{}}
}

// pcError is Partner Center's error body. Codes are Partner Center's numeric error codes.
type pcError struct {
	status      int
	Code        int      `json:"code"`
	Description string   `json:"description"`
	Data        []string `json:"data"`
	Source      string   `json:"source"`
}

func (e *pcError) Error() string { return fmt.Sprintf("%d %d: %s", e.status, e.Code, e.Description) }

func errf(status, code int, format string, args ...any) *pcError {
	return &pcError{status: status, Code: code, Description: fmt.Sprintf(format, args...), Data: []string{}, Source: "PartnerFD"}
}

// Error codes, from Partner Center's REST error code reference where one fits.
const (
	codeAccessDenied     = 400    // 401 "Access denied"
	codeNotFound         = 1000   // 404 "Not found"
	codeForbidden        = 2032   // 403 "Access denied"
	codeNoRelationship   = 20002  // 403 "The partner id {0} has no commerce relationship with the customer id {1}."
	codeTokenMissing     = 800001 // 401 "Partner Token missing in request context"
	codeInvalidInput     = 800002 // 400 "Invalid request input"
	codeInvalidCustomer  = 900118 // 400 "Invalid Customer Id"
	codeRoleInsufficient = 900150 // 403 "The supplied role does not have the rights to perform the requested operation"
	codeMFARequired      = 900421 // 401 since the App+User MFA enforcement (April 2026)
	codeConflict         = 409    // "Permission entry already exists."
	codeThrottled        = 429    // too many requests
	codeMethod           = 405    // method not allowed
)

// alreadyExists is the description Partner Center returns when the app already has a service
// principal in the customer tenant; integrations (CIPP, Partner Center PowerShell) match on it.
const alreadyExists = "Permission entry already exists."

// statusWriter records the status for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// request carries what a handler needs.
type request struct {
	r        *http.Request
	claims   *token.Claims
	customer string // path customer id, "" when none
	appID    string // path application id (DELETE)
}

type route struct {
	name         string // normalised endpoint for metrics, e.g. "GET /v1/customers/{id}"
	allowAppOnly bool
	handle       func(*request) (any, int, *pcError)
}

func (s *Service) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &statusWriter{ResponseWriter: rw}
	// Partner Center echoes the client's request and correlation ids, minting them when absent.
	for _, h := range []string{"MS-RequestId", "MS-CorrelationId"} {
		v := r.Header.Get(h)
		if v == "" {
			v = uuid.NewString()
		}
		w.Header().Set(h, v)
	}
	w.Header().Set("MS-CV", uuid.NewString()[:8]+".0")

	rt, req, perr := s.match(r)
	metricTenant := strings.ToLower(req.customer)
	defer func() {
		s.opts.Metrics.Observe("partnercenter", metricTenant, rt.name, w.status)
	}()
	if perr != nil {
		writeError(w, perr)
		return
	}
	c, perr := s.authenticate(r, rt)
	if perr != nil {
		writeError(w, perr)
		return
	}
	req.claims = c
	if metricTenant == "" {
		metricTenant = c.TenantID
	}
	v, status, perr := rt.handle(req)
	if perr != nil {
		if perr.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, perr)
		return
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

// match routes a request. Path segments are case-insensitive, as Partner Center's are.
func (s *Service) match(r *http.Request) (route, *request, *pcError) {
	req := &request{r: r}
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	lower := make([]string, len(p))
	for i := range p {
		lower[i] = strings.ToLower(p[i])
	}
	method := r.Method
	notFound := func(name string) (route, *request, *pcError) {
		return route{name: name}, req, errf(404, codeNotFound, "Not found: %s %s is not a Partner Center operation this simulator knows.", method, r.URL.Path)
	}
	if len(p) < 2 || lower[0] != "v1" || lower[1] != "customers" {
		return notFound(method + " other")
	}
	if len(p) >= 3 {
		req.customer = p[2]
	}
	var want string
	var rt route
	switch {
	case len(p) == 2:
		want, rt = "GET", route{name: "GET /v1/customers", allowAppOnly: true, handle: s.listCustomers}
	case len(p) == 3:
		want, rt = "GET", route{name: "GET /v1/customers/{id}", allowAppOnly: true, handle: s.getCustomer}
	case len(p) == 4 && lower[3] == "subscribedskus":
		want, rt = "GET", route{name: "GET /v1/customers/{id}/subscribedskus", allowAppOnly: true, handle: s.subscribedSkus}
	case len(p) == 4 && lower[3] == "applicationconsents":
		want, rt = "POST", route{name: "POST /v1/customers/{id}/applicationconsents", handle: s.createConsent}
	case len(p) == 5 && lower[3] == "applicationconsents":
		req.appID = p[4]
		want, rt = "DELETE", route{name: "DELETE /v1/customers/{id}/applicationconsents/{applicationId}", handle: s.deleteConsent}
	default:
		return notFound(method + " other")
	}
	if method != want {
		rt.name = method + strings.TrimPrefix(rt.name, want)
		return rt, req, errf(405, codeMethod, "Method %s is not allowed on %s; use %s.", method, r.URL.Path, want)
	}
	return rt, req, nil
}

// authenticate checks the bearer token the way Partner Center does: its audience, the partner
// tenant, App+User with user_impersonation and MFA, or App-only where the operation allows it.
func (s *Service) authenticate(r *http.Request, rt route) (*token.Claims, *pcError) {
	raw := token.Bearer(r.Header.Get("Authorization"))
	if raw == "" {
		return nil, errf(401, codeTokenMissing, "Partner Token missing in request context: send an access token for %s (scope %s/%s) in the Authorization header.", scenario.PartnerAudience, scenario.PartnerAudience, userScope)
	}
	c, err := s.opts.Issuer.Verify(raw)
	switch {
	case errors.Is(err, token.ErrExpired):
		return nil, errf(401, codeAccessDenied, "Access denied: the access token has expired. Get a new token (refresh the partner user's sign-in) and retry.")
	case err != nil:
		return nil, errf(401, codeAccessDenied, "Access denied: the access token is malformed or was not issued by this cloud's login service.")
	}
	if !c.AudienceMatches(scenario.PartnerAudience, scenario.PartnerCenterAppID) {
		return nil, errf(401, codeAccessDenied, "Access denied: the access token is for %s, not Partner Center. Request a token for %s/%s (delegated) or %s/.default (app-only).", strings.Join(c.Audience, ", "), scenario.PartnerAudience, userScope, scenario.PartnerAudience)
	}
	partner := s.partnerTenant()
	if !strings.EqualFold(c.TenantID, partner) {
		return nil, errf(401, codeAccessDenied, "Access denied: the token was issued by tenant %s, which is not a Partner Center partner tenant here. Sign in to the partner tenant %s (authority .../%s) to call Partner Center.", c.TenantID, partner, partner)
	}
	if c.IsApp() {
		if !rt.allowAppOnly {
			return nil, errf(403, codeForbidden, "Access denied: %s supports App+User authentication only, and this token is app-only (client credentials). Sign in as a partner admin agent with MFA (scope %s/%s) and call with that delegated token.", rt.name, scenario.PartnerAudience, userScope)
		}
		return c, nil
	}
	if !c.HasMFA() {
		who := c.UPN
		if who == "" {
			who = c.Username
		}
		return nil, errf(401, codeMFARequired, "Authentication failed. MFA required: MFA is required for App+User calls to Partner Center (enforced since April 1, 2026), and the access token of %s carries no multifactor authentication claim (amr lacks \"mfa\"). Sign that user in again completing Microsoft Entra MFA and use the new token.", orUnknown(who))
	}
	if !c.HasScope(userScope) {
		return nil, errf(403, codeForbidden, "Access denied: the delegated token lacks the %s scope of Microsoft Partner Center. Add the Partner Center user_impersonation permission (app id %s) to the app registration, grant admin consent, and sign in again.", userScope, scenario.PartnerCenterAppID)
	}
	return c, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "the signed-in user"
	}
	return s
}

func (s *Service) partnerTenant() string { return s.opts.Directory.World().Partner().TenantID }

// Customers.

type attributes struct {
	ObjectType string `json:"objectType"`
}

type companyProfile struct {
	TenantID    string     `json:"tenantId"`
	Domain      string     `json:"domain"`
	CompanyName string     `json:"companyName"`
	Attributes  attributes `json:"attributes"`
}

type customer struct {
	ID                    string         `json:"id"`
	CommerceID            string         `json:"commerceId,omitempty"`
	CompanyProfile        companyProfile `json:"companyProfile"`
	RelationshipToPartner string         `json:"relationshipToPartner"`
	Attributes            attributes     `json:"attributes"`
}

type header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type link struct {
	URI     string   `json:"uri"`
	Method  string   `json:"method"`
	Headers []header `json:"headers"`
}

type links struct {
	Self *link `json:"self,omitempty"`
	Next *link `json:"next,omitempty"`
}

type collection struct {
	TotalCount int        `json:"totalCount"`
	Items      any        `json:"items"`
	Links      *links     `json:"links,omitempty"`
	Attributes attributes `json:"attributes"`
}

func customerOf(t *scenario.Tenant) customer {
	return customer{
		ID: strings.ToLower(t.ID),
		CompanyProfile: companyProfile{TenantID: strings.ToLower(t.ID), Domain: t.InitialDomain, CompanyName: t.DisplayName,
			Attributes: attributes{ObjectType: "CustomerCompanyProfile"}},
		RelationshipToPartner: "reseller",
		Attributes:            attributes{ObjectType: "Customer"},
	}
}

// continuation is the signed content of an MS-ContinuationToken: where the next page starts,
// and for whom, so a token cannot be replayed by another partner or edited to skip around.
type continuation struct {
	Partner string `json:"p"`
	Next    int    `json:"n"` // tenant index to resume from
}

func (s *Service) encodeContinuation(c continuation) string {
	b, _ := json.Marshal(c)
	mac := hmac.New(sha256.New, s.pageKey)
	mac.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

func (s *Service) decodeContinuation(raw, partner string) (continuation, bool) {
	payload, sig, ok := strings.Cut(raw, ".")
	if !ok {
		return continuation{}, false
	}
	b, err1 := base64.RawURLEncoding.DecodeString(payload)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return continuation{}, false
	}
	mac := hmac.New(sha256.New, s.pageKey)
	mac.Write(b)
	if !hmac.Equal(got, mac.Sum(nil)[:16]) {
		return continuation{}, false
	}
	var c continuation
	if json.Unmarshal(b, &c) != nil || !strings.EqualFold(c.Partner, partner) || c.Next < 0 {
		return continuation{}, false
	}
	return c, true
}

// continuationToken reads the token from the MS-ContinuationToken header, where Partner Center
// expects it, or from the query, where some clients put it.
func continuationToken(r *http.Request) string {
	if v := r.Header.Get("MS-ContinuationToken"); v != "" {
		return v
	}
	for k, v := range r.URL.Query() {
		if (strings.EqualFold(k, "MS-ContinuationToken") || strings.EqualFold(k, "continuationToken")) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (s *Service) listCustomers(req *request) (any, int, *pcError) {
	q := req.r.URL.Query()
	size := maxPageSize
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, 0, errf(400, codeInvalidInput, "Invalid request input: size must be a positive integer (at most %d); got %q.", maxPageSize, v)
		}
		size = min(n, maxPageSize)
	}
	partner := s.partnerTenant()
	start := 0
	if raw := continuationToken(req.r); raw != "" {
		c, ok := s.decodeContinuation(raw, partner)
		if !ok {
			return nil, 0, errf(400, codeInvalidInput, "Invalid request input: the continuation token is not valid. Send back the MS-ContinuationToken value of links.next unchanged, or start again without it.")
		}
		start = c.Next
	}
	w := s.opts.Directory.World()
	items := []customer{}
	next := -1
	for i := start; i < w.TenantCount(); i++ {
		t := w.TenantAt(i)
		if !t.CSP || t.Deleted {
			continue
		}
		if len(items) == size {
			next = i
			break
		}
		items = append(items, customerOf(t))
	}
	self := fmt.Sprintf("/v1/customers?size=%d", size)
	res := collection{
		// Partner Center's totalCount is the number of items in this page.
		TotalCount: len(items), Items: items,
		Links:      &links{Self: &link{URI: self, Method: "GET", Headers: []header{}}},
		Attributes: attributes{ObjectType: "Collection"},
	}
	if next >= 0 {
		res.Links.Next = &link{URI: self + "&seekOperation=Next", Method: "GET",
			Headers: []header{{Key: "MS-ContinuationToken", Value: s.encodeContinuation(continuation{Partner: partner, Next: next})}}}
	}
	return res, http.StatusOK, nil
}

// customerTenant resolves the path's customer to a tenant the partner has some relationship with
// (CSP or GDAP); csp limits it to reseller customers.
func (s *Service) customerTenant(id string, csp bool) (*scenario.Tenant, *pcError) {
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return nil, errf(400, codeInvalidCustomer, "Invalid Customer Id: %q is not a GUID. Use the customer's id (its Microsoft Entra tenant id) from GET /v1/customers.", id)
	}
	t, ok := s.opts.Directory.World().Tenant(id)
	if !ok || t.Deleted {
		return nil, errf(404, codeNotFound, "Customer %s was not found: it is not a customer of partner %s, or its tenant no longer exists.", id, s.partnerTenant())
	}
	if csp && !t.CSP {
		return nil, errf(404, codeNotFound, "Customer %s was not found among partner %s's CSP (reseller) customers; the partner reaches %s only through GDAP.", id, s.partnerTenant(), t.DisplayName)
	}
	if !t.CSP && len(t.GDAP) == 0 {
		return nil, errf(403, codeNoRelationship, "The partner id %s has no commerce relationship with the customer id %s.", s.partnerTenant(), id)
	}
	return t, nil
}

func (s *Service) getCustomer(req *request) (any, int, *pcError) {
	t, err := s.customerTenant(req.customer, true)
	if err != nil {
		return nil, 0, err
	}
	return customerOf(t), http.StatusOK, nil
}

type productSku struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	SkuPartNumber  string `json:"skuPartNumber"`
	TargetType     string `json:"targetType"`
	LicenseGroupID string `json:"licenseGroupId"`
}

type subscribedSku struct {
	AvailableUnits   int        `json:"availableUnits"`
	ActiveUnits      int        `json:"activeUnits"`
	ConsumedUnits    int        `json:"consumedUnits"`
	SuspendedUnits   int        `json:"suspendedUnits"`
	TotalUnits       int        `json:"totalUnits"`
	WarningUnits     int        `json:"warningUnits"`
	CapabilityStatus string     `json:"capabilityStatus"`
	ProductSku       productSku `json:"productSku"`
	Status           string     `json:"status"`
	Attributes       attributes `json:"attributes"`
}

func (s *Service) subscribedSkus(req *request) (any, int, *pcError) {
	t, err := s.customerTenant(req.customer, true)
	if err != nil {
		return nil, 0, err
	}
	items := []subscribedSku{}
	for _, k := range t.Skus {
		name := k.SkuPartNumber
		if known, ok := scenario.LookupSku(k.SkuID); ok {
			name = known.DisplayName
		}
		used := t.Consumed(k.SkuID)
		items = append(items, subscribedSku{
			AvailableUnits: max(k.Prepaid-used, 0), ActiveUnits: k.Prepaid, ConsumedUnits: used, TotalUnits: k.Prepaid,
			CapabilityStatus: "Enabled", Status: "Active",
			ProductSku: productSku{ID: k.SkuID, Name: name, SkuPartNumber: k.SkuPartNumber, TargetType: "User", LicenseGroupID: "group1"},
			Attributes: attributes{ObjectType: "SubscribedSku"},
		})
	}
	return collection{TotalCount: len(items), Items: items, Attributes: attributes{ObjectType: "Collection"}}, http.StatusOK, nil
}

// Control-panel-vendor consent.

type applicationGrant struct {
	EnterpriseApplicationID string `json:"enterpriseApplicationId"`
	Scope                   string `json:"scope"`
}

type applicationConsent struct {
	ApplicationID     string             `json:"applicationId"`
	ApplicationGrants []applicationGrant `json:"applicationGrants"`
	DisplayName       string             `json:"displayName,omitempty"`
}

// allow counts a request against the calling app's one-second window.
func (s *Service) allow(app string) bool {
	now := s.opts.Clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[app]
	if w == nil || now.Sub(w.start) >= time.Second || now.Before(w.start) {
		s.windows[app] = &window{start: now, count: 1}
		return true
	}
	w.count++
	return w.count <= s.opts.RateLimit
}

func callerApp(c *token.Claims) string {
	if c.AZP != "" {
		return c.AZP
	}
	return c.AppID
}

func (s *Service) throttle(c *token.Claims) *pcError {
	if !s.allow(strings.ToLower(callerApp(c))) {
		return errf(429, codeThrottled, "Too many requests: applicationconsents allows %d requests per second per application (%s). Retry after the time in Retry-After.", s.opts.RateLimit, callerApp(c))
	}
	return nil
}

var roleNames = map[string]string{
	scenario.RoleGlobalReader:          "Global Reader",
	scenario.RoleApplicationAdmin:      "Application Administrator",
	scenario.RoleCloudApplicationAdmin: "Cloud Application Administrator",
	scenario.RoleUserAdmin:             "User Administrator",
	scenario.RoleLicenseAdmin:          "License Administrator",
	scenario.RoleDirectoryReaders:      "Directory Readers",
	scenario.RoleReportsReader:         "Reports Reader",
	scenario.RoleGlobalAdmin:           "Global Administrator",
	scenario.RolePrivilegedRoleAdmin:   "Privileged Role Administrator",
}

func roleName(id string) string {
	if n, ok := roleNames[strings.ToLower(id)]; ok {
		return n
	}
	return id
}

// consentRoles are the GDAP roles that let a partner consent for a customer through the control
// panel vendor API: Application Administrator, Cloud Application Administrator or Global
// Administrator (Partner Center GDAP FAQ and "Control panel vendor APIs",
// https://learn.microsoft.com/partner-center/developer/control-panel-vendor-apis; the role list is
// the and the docs' FAQ wording, which the search tool did not return verbatim: unverified).
var consentRoles = []string{scenario.RoleApplicationAdmin, scenario.RoleCloudApplicationAdmin, scenario.RoleGlobalAdmin}

// callerRoles are the directory roles the signed-in partner user holds in t: those of the active
// relationships' access assignments, when the user is in their security group. A role in a
// relationship that no access assignment gives the user's group is not held
// (https://learn.microsoft.com/graph/api/resources/delegatedadminaccessassignment).
func (s *Service) callerRoles(c *token.Claims, t *scenario.Tenant, now time.Time) (roles []string, agent bool) {
	if c != nil {
		for _, u := range s.opts.Directory.World().Partner().Users {
			if strings.EqualFold(u.ID, c.ObjectID) && u.GDAPAgent {
				return t.AgentRoles(now), true
			}
		}
	}
	return nil, false
}

// checkConsentRights requires a consent role through an active GDAP access assignment.
func (s *Service) checkConsentRights(c *token.Claims, t *scenario.Tenant) *pcError {
	now := s.opts.Issuer.Now()
	roles, agent := s.callerRoles(c, t, now)
	for _, r := range roles {
		for _, want := range consentRoles {
			if strings.EqualFold(r, want) {
				return nil
			}
		}
	}
	var held, inactive []string
	for _, r := range roles {
		held = append(held, roleName(r))
	}
	for _, rel := range t.GDAP {
		if !rel.Active(now) {
			inactive = append(inactive, fmt.Sprintf("%q is %s", rel.DisplayName, rel.Status))
		}
	}
	fix := fmt.Sprintf("Add Application Administrator (%s) or Cloud Application Administrator (%s) to the access assignment of an active GDAP relationship with %s for the security group of the signing-in admin agent, then retry; or send the customer's admin the admin-consent link instead.",
		scenario.RoleApplicationAdmin, scenario.RoleCloudApplicationAdmin, t.DisplayName)
	switch {
	case !agent:
		return errf(403, codeRoleInsufficient, "The supplied role does not have the rights to perform the requested operation. The signed-in user is not in a security group that a GDAP access assignment with customer %s (%s) names. %s",
			t.DisplayName, strings.ToLower(t.ID), fix)
	case len(held) > 0:
		return errf(403, codeRoleInsufficient, "The supplied role does not have the rights to perform the requested operation. Consent in customer %s (%s) needs Application Administrator or Cloud Application Administrator through GDAP; the active access assignments grant only %s. %s",
			t.DisplayName, strings.ToLower(t.ID), strings.Join(held, ", "), fix)
	case len(inactive) > 0:
		return errf(403, codeRoleInsufficient, "The supplied role does not have the rights to perform the requested operation. Customer %s (%s) has no active GDAP relationship (%s), so the partner holds no Application Administrator or Cloud Application Administrator role there. %s",
			t.DisplayName, strings.ToLower(t.ID), strings.Join(inactive, "; "), fix)
	default:
		return errf(403, codeRoleInsufficient, "The supplied role does not have the rights to perform the requested operation. Customer %s (%s) has no GDAP relationship with the partner, so Application Administrator or Cloud Application Administrator is missing. %s",
			t.DisplayName, strings.ToLower(t.ID), fix)
	}
}

func decodeConsent(body io.Reader) (applicationConsent, *pcError) {
	var c applicationConsent
	b, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil || len(b) == 0 {
		return c, errf(400, codeInvalidInput, "Invalid request input: the body must be a JSON application consent {\"applicationId\", \"applicationGrants\":[{\"enterpriseApplicationId\", \"scope\"}]}.")
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, errf(400, codeInvalidInput, "Invalid request input: the body is not valid JSON (%v).", err)
	}
	if c.ApplicationID == "" {
		return c, errf(400, codeInvalidInput, "Invalid request input: applicationId is required (the application (client) id of your multi-tenant app registration).")
	}
	if _, err := uuid.Parse(c.ApplicationID); err != nil {
		return c, errf(400, codeInvalidInput, "Invalid request input: applicationId %q is not a GUID; use the application (client) id, not the object id or name.", c.ApplicationID)
	}
	if len(c.ApplicationGrants) == 0 {
		return c, errf(400, codeInvalidInput, "Invalid request input: applicationGrants must list at least one grant, e.g. {\"enterpriseApplicationId\":\"%s\",\"scope\":\"Directory.Read.All\"}.", scenario.GraphAppID)
	}
	for i, g := range c.ApplicationGrants {
		if _, err := uuid.Parse(g.EnterpriseApplicationID); err != nil {
			return c, errf(400, codeInvalidInput, "Invalid request input: applicationGrants[%d].enterpriseApplicationId %q is not a GUID (Microsoft Graph is %s).", i, g.EnterpriseApplicationID, scenario.GraphAppID)
		}
		if strings.TrimSpace(g.Scope) == "" {
			return c, errf(400, codeInvalidInput, "Invalid request input: applicationGrants[%d].scope is empty; give the permissions as a comma-separated list, e.g. \"Directory.Read.All,User.Read.All\".", i)
		}
	}
	return c, nil
}

func (s *Service) createConsent(req *request) (any, int, *pcError) {
	if err := s.throttle(req.claims); err != nil {
		return nil, 0, err
	}
	t, perr := s.customerTenant(req.customer, false)
	if perr != nil {
		return nil, 0, perr
	}
	c, perr := decodeConsent(req.r.Body)
	if perr != nil {
		return nil, 0, perr
	}
	app, ok := s.opts.Directory.App(c.ApplicationID)
	if !ok {
		return nil, 0, errf(404, codeNotFound, "Application %s was not found in partner tenant %s. Use the application (client) id of the multi-tenant app registered in your partner tenant.", c.ApplicationID, s.partnerTenant())
	}
	if app.SignInAudience == "AzureADMyOrg" {
		return nil, 0, errf(400, codeInvalidInput, "Invalid request input: application %s (%s) is single-tenant; set its supported account types to multiple organizations (AzureADMultipleOrgs) before consenting for customers.", app.DisplayName, app.AppID)
	}
	if perr := s.checkConsentRights(req.claims, t); perr != nil {
		return nil, 0, perr
	}
	if _, exists := s.opts.Directory.ServicePrincipal(t.ID, app.AppID); exists {
		return nil, 0, errf(409, codeConflict, alreadyExists)
	}
	var scopes []string
	for _, g := range c.ApplicationGrants {
		if strings.EqualFold(g.EnterpriseApplicationID, scenario.GraphAppID) {
			for _, sc := range strings.Split(g.Scope, ",") {
				if sc = strings.TrimSpace(sc); sc != "" {
					scopes = append(scopes, sc)
				}
			}
		}
	}
	// Delegated scopes only, never app roles: see directory.GrantDelegated for the sources.
	if _, existed, err := s.opts.Directory.GrantDelegated(t.ID, app.AppID, scopes); err != nil {
		return nil, 0, errf(404, codeNotFound, "Application %s was not found in partner tenant %s.", c.ApplicationID, s.partnerTenant())
	} else if existed { // a concurrent consent won the race
		return nil, 0, errf(409, codeConflict, alreadyExists)
	}
	c.ApplicationID = app.AppID
	if c.DisplayName == "" {
		c.DisplayName = app.DisplayName
	}
	return c, http.StatusCreated, nil
}

func (s *Service) deleteConsent(req *request) (any, int, *pcError) {
	if err := s.throttle(req.claims); err != nil {
		return nil, 0, err
	}
	t, perr := s.customerTenant(req.customer, false)
	if perr != nil {
		return nil, 0, perr
	}
	if _, err := uuid.Parse(req.appID); err != nil {
		return nil, 0, errf(400, codeInvalidInput, "Invalid request input: application id %q is not a GUID.", req.appID)
	}
	if perr := s.checkConsentRights(req.claims, t); perr != nil {
		return nil, 0, perr
	}
	app := strings.ToLower(req.appID)
	if a, ok := s.opts.Directory.App(req.appID); ok {
		app = a.AppID
	}
	if err := s.opts.Directory.Revoke(t.ID, app); err != nil {
		return nil, 0, errf(404, codeNotFound, "No application consent for application %s exists in customer %s (%s).", req.appID, t.DisplayName, strings.ToLower(t.ID))
	}
	return nil, http.StatusNoContent, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *pcError) {
	writeJSON(w, e.status, e)
}
