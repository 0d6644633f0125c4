package graph

import (
	"compress/gzip"
	"net/http"
	"net/url"
	"strings"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// call is one request being answered (a top-level request or one $batch item).
type call struct {
	s       *Service
	w       http.ResponseWriter
	r       *http.Request
	q       url.Values
	segs    []string // path segments after /v1.0 (or /beta)
	beta    bool     // the request came in under /beta
	claims  *token.Claims
	ten     *tenantCtx
	rid     string
	crid    string
	inBatch bool
}

// statusWriter remembers the status for metrics.
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

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// serveAPI answers one /v1.0 request: token, tenant, faults, route, metrics.
func (s *Service) serveAPI(rw http.ResponseWriter, r *http.Request, rid, crid string, inBatch bool) {
	sw := &statusWriter{ResponseWriter: rw}
	c := &call{s: s, w: sw, r: r, q: r.URL.Query(), rid: rid, crid: crid, inBatch: inBatch}
	tenantID, endpoint := "", r.Method+" <unknown>"
	defer func() {
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		if inBatch {
			s.opts.Metrics.ObserveBatchItem("graph", tenantID, endpoint, status)
			return
		}
		s.opts.Metrics.Observe("graph", tenantID, endpoint, status)
	}()

	// kiota's CompressionHandler gzips request bodies; Graph accepts them.
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") && r.Body != nil {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			c.fail(errf(http.StatusBadRequest, "BadRequest", "The request body is not valid gzip."))
			return
		}
		defer zr.Close()
		r.Body = zr
		r.Header.Del("Content-Encoding")
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1.0")
	if !ok {
		rest, c.beta = strings.CutPrefix(r.URL.Path, "/beta")
		ok = c.beta
	}
	if !ok || (rest != "" && rest[0] != '/') {
		v, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		c.fail(errf(http.StatusBadRequest, "BadRequest", "Invalid version: %s", v))
		return
	}
	for _, p := range strings.Split(strings.Trim(rest, "/"), "/") {
		if p != "" {
			c.segs = append(c.segs, p)
		}
	}
	h, pattern := route(c)
	endpoint = r.Method + " " + pattern

	claims, tc, e := s.authenticate(r)
	if claims != nil {
		tenantID = strings.ToLower(claims.TenantID)
	}
	if e != nil {
		c.fail(e)
		return
	}
	c.claims, c.ten = claims, tc
	if e := s.injectFaults(r.Context(), tc); e != nil {
		c.fail(e)
		return
	}
	if endpointFault(c.w, c.rid, c.crid, s.now(), tc.faults.Fail, rest) {
		return
	}
	if h == nil {
		c.fail(notFoundFor(c))
		return
	}
	if e := c.delegatedRoles(endpoint); e != nil {
		c.fail(e)
		return
	}
	if e := h(c); e != nil {
		c.fail(e)
	}
}

func (c *call) fail(e *gerr) { writeError(c.w, c.rid, c.crid, c.s.now(), e) }

// notFoundFor is the error for an unknown path: the segment Graph could not resolve (the first
// one for an unknown collection, else the last one).
func notFoundFor(c *call) *gerr {
	if len(c.segs) == 0 {
		if c.beta {
			return errSegment("beta")
		}
		return errSegment("v1.0")
	}
	if !knownCollection(c.segs[0]) {
		return errSegment(c.segs[0])
	}
	if c.r.Method != http.MethodGet {
		g := *c
		g.r = c.r.Clone(c.r.Context())
		g.r.Method = http.MethodGet
		if h, _ := route(&g); h != nil || len(c.segs) == 1 {
			return errMethod()
		}
	}
	return errSegment(c.segs[len(c.segs)-1])
}

func knownCollection(s string) bool {
	switch strings.ToLower(s) {
	case "users", "groups", "organization", "domains", "subscribedskus", "devicemanagement", "admin", "reports", "policies",
		"tenantrelationships", "applications", "serviceprincipals", "oauth2permissiongrants", "me", "$batch":
		return true
	}
	return false
}

type handler func(c *call) *gerr

// isDelta matches delta, delta() and microsoft.graph.delta() (the SDK uses the latter forms).
func isDelta(seg string) bool {
	s := strings.TrimSuffix(strings.ToLower(seg), "()")
	return s == "delta" || s == "microsoft.graph.delta"
}

// keyCall matches name(key='value') segments such as applications(appId='...').
func keyCall(seg, name, key string) (string, bool) {
	lower := strings.ToLower(seg)
	prefix := strings.ToLower(name) + "(" + strings.ToLower(key) + "="
	if !strings.HasPrefix(lower, prefix) || !strings.HasSuffix(seg, ")") {
		return "", false
	}
	v := seg[len(prefix) : len(seg)-1]
	return strings.Trim(v, "'"), true
}

// route picks the handler and the metrics pattern (ids normalised).
func route(c *call) (handler, string) {
	s, m := c.segs, c.r.Method
	n := len(s)
	seg := func(i int) string {
		if i < n {
			return strings.ToLower(s[i])
		}
		return ""
	}
	get, post, patch := m == http.MethodGet, m == http.MethodPost, m == http.MethodPatch
	if n == 0 {
		return nil, "/"
	}
	if c.beta {
		return betaRoute(c)
	}
	switch seg(0) {
	case "$batch":
		if n == 1 && post && !c.inBatch {
			return handleBatch, "/$batch"
		}
		return nil, "/$batch"
	case "organization":
		switch {
		case n == 1 && get:
			return handleOrganization, "/organization"
		case n == 2 && get:
			return handleOrganization, "/organization/{id}"
		}
		return nil, "/organization"
	case "domains":
		switch {
		case n == 1 && get:
			return handleDomains, "/domains"
		case n == 2 && get:
			return handleDomains, "/domains/{id}"
		}
		return nil, "/domains"
	case "subscribedskus":
		if n == 1 && get {
			return handleSkus, "/subscribedSkus"
		}
		return nil, "/subscribedSkus"
	case "me":
		switch {
		case n == 1 && get:
			return handleMe, "/me"
		case n == 2 && post && seg(1) == "sendmail":
			return handleMeSendMail, "/me/sendMail"
		case n == 2 && post && seg(1) == "checkmembergroups":
			return handleCheckMemberGroups, "/me/checkMemberGroups"
		}
		return nil, "/me"
	case "users":
		switch {
		case n == 1 && get:
			return handleUsers, "/users"
		case n == 2 && get && isDelta(s[1]):
			return handleUsersDelta, "/users/delta"
		case n == 2 && get:
			return handleUser, "/users/{id}"
		case n == 3 && post && seg(2) == "sendmail":
			return handleSendMail, "/users/{id}/sendMail"
		case n == 3 && post && seg(2) == "checkmembergroups":
			return handleCheckMemberGroups, "/users/{id}/checkMemberGroups"
		case n == 4 && get && seg(2) == "authentication" && seg(3) == "methods":
			return handleAuthMethods, "/users/{id}/authentication/methods"
		}
		return nil, "/users"
	case "groups":
		switch {
		case n == 1 && get:
			return handleGroups, "/groups"
		case n == 2 && get && isDelta(s[1]):
			return handleGroupsDelta, "/groups/delta"
		case n == 2 && get:
			return handleGroup, "/groups/{id}"
		case n == 3 && get && seg(2) == "members":
			return handleGroupMembers, "/groups/{id}/members"
		}
		return nil, "/groups"
	case "devicemanagement":
		switch {
		case n == 2 && get && seg(1) == "manageddevices":
			return handleDevices, "/deviceManagement/managedDevices"
		case n == 3 && get && seg(1) == "manageddevices":
			return handleDevice, "/deviceManagement/managedDevices/{id}"
		}
		return nil, "/deviceManagement"
	case "policies":
		if n == 2 && get && seg(1) == "identitysecuritydefaultsenforcementpolicy" {
			return handleSecurityDefaults, "/policies/identitySecurityDefaultsEnforcementPolicy"
		}
		return nil, "/policies"
	case "admin":
		if n == 2 && seg(1) == "reportsettings" {
			switch {
			case get:
				return handleReportSettings, "/admin/reportSettings"
			case patch:
				return handlePatchReportSettings, "/admin/reportSettings"
			}
		}
		return nil, "/admin"
	case "reports":
		switch {
		case n == 2 && get && strings.HasPrefix(seg(1), "getmailboxusagedetail("):
			return handleMailboxUsage, "/reports/getMailboxUsageDetail"
		case n == 3 && get && seg(1) == "authenticationmethods" && seg(2) == "userregistrationdetails":
			return handleRegistrationDetails, "/reports/authenticationMethods/userRegistrationDetails"
		case n == 4 && get && seg(1) == "authenticationmethods" && seg(2) == "userregistrationdetails":
			return handleRegistrationDetail, "/reports/authenticationMethods/userRegistrationDetails/{id}"
		}
		return nil, "/reports"
	case "tenantrelationships":
		switch {
		case n == 2 && get && seg(1) == "delegatedadminrelationships":
			return handleRelationships, "/tenantRelationships/delegatedAdminRelationships"
		case n == 3 && get && seg(1) == "delegatedadminrelationships":
			return handleRelationship, "/tenantRelationships/delegatedAdminRelationships/{id}"
		case n == 4 && get && seg(1) == "delegatedadminrelationships" && seg(3) == "accessassignments":
			return handleAccessAssignments, "/tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments"
		case n == 2 && get && seg(1) == "delegatedadmincustomers":
			return handleCustomers, "/tenantRelationships/delegatedAdminCustomers"
		case n == 3 && get && seg(1) == "delegatedadmincustomers":
			return handleCustomer, "/tenantRelationships/delegatedAdminCustomers/{id}"
		}
		return nil, "/tenantRelationships"
	case "applications":
		switch {
		case n == 1 && get:
			return handleApps, "/applications"
		case n == 1 && post:
			return handleCreateApp, "/applications"
		case n >= 2:
			return appRoutes(s[1], false, s[2:], m)
		}
		return nil, "/applications"
	case "oauth2permissiongrants":
		switch {
		case n == 1 && get:
			return handleGrants, "/oauth2PermissionGrants"
		case n == 1 && post:
			return handleCreateGrant, "/oauth2PermissionGrants"
		case n == 2 && patch:
			return handlePatchGrant, "/oauth2PermissionGrants/{id}"
		}
		return nil, "/oauth2PermissionGrants"
	case "serviceprincipals":
		switch {
		case n == 1 && get:
			return handleSPs, "/servicePrincipals"
		case n == 1 && post:
			return handleCreateSP, "/servicePrincipals"
		case n >= 2:
			return spRoutes(s[1], false, s[2:], m)
		}
		return nil, "/servicePrincipals"
	}
	// Alternate keys: applications(appId='...'), servicePrincipals(appId='...').
	if appID, ok := keyCall(s[0], "applications", "appId"); ok {
		return appRoutes(appID, true, s[1:], m)
	}
	if appID, ok := keyCall(s[0], "servicePrincipals", "appId"); ok {
		return spRoutes(appID, true, s[1:], m)
	}
	return nil, "<unknown>"
}
