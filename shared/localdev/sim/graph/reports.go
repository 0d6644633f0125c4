package graph

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// ---- report settings (concealed names) ----

// concealed is the tenant's current displayConcealedNames.
func (s *Service) concealed(tc *tenantCtx) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.conceal[tc.id]; ok {
		return v
	}
	return tc.t != nil && tc.t.ConcealReports
}

func handleReportSettings(c *call) *gerr {
	if e := c.require(permReportSettings); e != nil {
		return e
	}
	writeJSON(c, http.StatusOK, obj{
		{"@odata.context", c.s.contextURL("admin/reportSettings/$entity")},
		{"displayConcealedNames", c.s.concealed(c.ten)},
	})
	return nil
}

func handlePatchReportSettings(c *call) *gerr {
	if e := c.require(permReportSettingsRW); e != nil {
		return e
	}
	var body struct {
		DisplayConcealedNames *bool `json:"displayConcealedNames"`
	}
	if err := json.NewDecoder(io.LimitReader(c.r.Body, 1<<20)).Decode(&body); err != nil {
		return errf(http.StatusBadRequest, "BadRequest", "Invalid request body: %v", err)
	}
	if body.DisplayConcealedNames != nil {
		c.s.mu.Lock()
		c.s.conceal[c.ten.id] = *body.DisplayConcealedNames
		c.s.mu.Unlock()
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- usage reports: 302 to a pre-authenticated CSV ----

const (
	reportDownloadPrefix = "/_reports/"
	reportURLLifetime    = 5 * time.Minute
)

// mailboxUsageColumns as the downloaded report has them: Microsoft's documented 17 columns plus
// "Recipient Type", which current reports carry before "Report Period".
var mailboxUsageColumns = []string{
	"Report Refresh Date", "User Principal Name", "Display Name", "Is Deleted", "Deleted Date", "Created Date",
	"Last Activity Date", "Item Count", "Storage Used (Byte)", "Issue Warning Quota (Byte)", "Prohibit Send Quota (Byte)",
	"Prohibit Send/Receive Quota (Byte)", "Deleted Item Count", "Deleted Item Size (Byte)", "Deleted Item Quota (Byte)",
	"Has Archive", "Recipient Type", "Report Period",
}

func reportPeriod(seg string) (string, bool) {
	open := strings.IndexByte(seg, '(')
	if open < 0 || !strings.HasSuffix(seg, ")") {
		return "", false
	}
	arg := seg[open+1 : len(seg)-1]
	k, v, ok := strings.Cut(arg, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(k), "period") {
		return "", false
	}
	v = strings.ToUpper(strings.Trim(strings.TrimSpace(v), "'"))
	switch v {
	case "D7", "D30", "D90", "D180":
		return v, true
	}
	return "", false
}

func handleMailboxUsage(c *call) *gerr {
	if e := c.require(permReports); e != nil {
		return e
	}
	period, ok := reportPeriod(c.segs[1])
	if !ok {
		return errf(http.StatusBadRequest, "BadRequest", "Invalid value for parameter 'period'. Supported values are D7, D30, D90 and D180.")
	}
	app := c.claims.AppID
	if app == "" {
		app = c.claims.AZP
	}
	if ok, retry := c.s.limits.take(app+"/"+c.ten.id, c.s.now()); !ok {
		e := errf(http.StatusTooManyRequests, "TooManyRequests", "Too many requests. The reports API allows 14 requests per 10 minutes per app per tenant.")
		e.header = http.Header{"Retry-After": {retry}}
		return e
	}
	st := state{Kind: "report", Tenant: c.ten.id, Ref: "getMailboxUsageDetail", Select: period,
		Issued: c.s.now().Unix(), Flag: c.s.concealed(c.ten)}
	c.w.Header().Set("Location", c.s.reportBase()+reportDownloadPrefix+c.s.seal("report", st))
	c.w.Header().Set("Content-Type", "text/plain")
	c.w.WriteHeader(http.StatusFound)
	return nil
}

// reportBase is where downloads are served: this listener under its other loopback name
// (127.0.0.1 ↔ localhost), so the redirect changes host as Graph's does (to reports.office.com)
// and clients drop Authorization exactly as they would against Microsoft.
func (s *Service) reportBase() string {
	u, err := url.Parse(s.base)
	if err != nil {
		return s.base
	}
	port := ""
	if p := u.Port(); p != "" {
		port = ":" + p
	}
	switch u.Hostname() {
	case "127.0.0.1":
		u.Host = "localhost" + port
	case "localhost":
		u.Host = "127.0.0.1" + port
	}
	return strings.TrimSuffix(u.String(), "/")
}

// serveReportDownload answers the pre-authenticated URL: no Authorization needed (a client
// following the redirect to another host drops it), the sealed token is the credential.
func (s *Service) serveReportDownload(w http.ResponseWriter, r *http.Request, rid, crid string) {
	sw := &statusWriter{ResponseWriter: w}
	tok := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, reportDownloadPrefix), ".csv")
	st, ok := s.open("report", tok)
	defer func() {
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.opts.Metrics.Observe("graph", st.Tenant, r.Method+" /_reports/{token}", status)
	}()
	if r.Method != http.MethodGet {
		writeError(sw, rid, crid, s.now(), errMethod())
		return
	}
	if !ok || s.now().Sub(time.Unix(st.Issued, 0)) > reportURLLifetime {
		writeError(sw, rid, crid, s.now(), errf(http.StatusForbidden, "AccessDenied",
			"The pre-authenticated download URL is invalid or has expired. Request the report again."))
		return
	}
	tc := s.tenant(st.Tenant)
	if tc == nil {
		writeError(sw, rid, crid, s.now(), errf(http.StatusNotFound, "ResourceNotFound", "Report not found."))
		return
	}
	sw.Header().Set("Content-Type", "application/octet-stream")
	sw.Header().Set("Content-Disposition", `attachment; filename="MailboxUsageDetail`+st.Select+`.csv"`)
	sw.WriteHeader(http.StatusOK)
	s.writeMailboxCSV(sw, tc, strings.TrimPrefix(st.Select, "D"), st.Flag)
}

// concealName is the report's stand-in for a name: 32 upper-case hex characters, stable per
// tenant, user and field.
func concealName(tenant, id, field string) string {
	sum := sha256.Sum256([]byte("conceal/" + tenant + "/" + id + "/" + field))
	return strings.ToUpper(hex.EncodeToString(sum[:16]))
}

// quotas by mailbox size: 100 GB (Enterprise E3/E5) or 50 GB (Business, Exchange Plan 1).
func quotas(u *scenario.User) (warn, send, sendReceive int64) {
	if slices.ContainsFunc(u.AssignedSkuIDs, func(s string) bool { return strings.EqualFold(s, scenario.SkuSPE_E3) }) {
		return 105226698752, 106300440576, 107374182400
	}
	return 52613349376, 53150220288, 53687091200
}

func (s *Service) writeMailboxCSV(w io.Writer, tc *tenantCtx, days string, concealed bool) {
	bw := newJW(w).w // a buffered writer; the JSON helpers are not used here
	bw.WriteString("\ufeff")
	cw := csv.NewWriter(bw)
	_ = cw.Write(mailboxUsageColumns)
	refresh := s.now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	day := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	}
	slots := tc.userSlots()
	row := make([]string, len(mailboxUsageColumns))
	for i := 0; i < slots; i++ {
		u, ok := tc.user(i)
		if !ok || !u.HasMailbox {
			continue
		}
		upn, name := u.ReportUPN, u.DisplayName
		switch {
		case upn == "(Unknown)": // some users appear so (microsoft-graph-docs#15148)
			name = ""
		case strings.HasPrefix(upn, "<PII:"): // both columns redacted (microsoft-graph-docs-contrib#3420)
			name, _, _ = strings.Cut(upn, "@")
		}
		if concealed {
			upn, name = concealName(tc.id, u.ID, "upn"), concealName(tc.id, u.ID, "name")
		}
		warn, send, sendReceive := quotas(&u)
		archive := "False"
		if warn > 60e9 && u.Index%3 == 0 {
			archive = "True"
		}
		row = append(row[:0], refresh, upn, name, "False", "", day(u.Created), day(u.MailboxLastActivity),
			strconv.FormatInt(u.MailboxItemCount, 10), strconv.FormatInt(u.MailboxStorageBytes, 10),
			strconv.FormatInt(warn, 10), strconv.FormatInt(send, 10), strconv.FormatInt(sendReceive, 10),
			strconv.FormatInt(u.MailboxItemCount/20, 10), strconv.FormatInt(u.MailboxStorageBytes/50, 10),
			"32212254720", archive, "UserMailbox", days)
		_ = cw.Write(row)
	}
	cw.Flush()
	_ = bw.Flush()
}

// ---- authentication methods registration ----

func isPasswordless(m string) bool {
	return m == "fido2" || m == "windowsHelloForBusiness" || m == "microsoftAuthenticatorPasswordless"
}

func preferredMethod(u *scenario.User) string {
	for _, m := range u.MethodsRegistered {
		switch m {
		case "microsoftAuthenticatorPush", "microsoftAuthenticatorPasswordless":
			return "push"
		case "softwareOneTimePasscode":
			return "oath"
		case "mobilePhone":
			return "sms"
		}
	}
	return "none"
}

var registrationEntity = &entity[scenario.User]{typeName: "userRegistrationDetails", props: []prop[scenario.User]{
	{"id", true, func(_ *call, u *scenario.User) any { return u.ID }},
	{"userPrincipalName", true, func(_ *call, u *scenario.User) any { return u.UserPrincipalName }},
	{"userDisplayName", true, func(_ *call, u *scenario.User) any { return u.DisplayName }},
	{"userType", true, func(_ *call, u *scenario.User) any { return strings.ToLower(u.UserType) }},
	{"isAdmin", true, func(_ *call, u *scenario.User) any { return u.IsAdmin }},
	{"isSsprRegistered", true, func(_ *call, u *scenario.User) any { return len(u.MethodsRegistered) > 0 }},
	{"isSsprEnabled", true, func(_ *call, u *scenario.User) any { return u.UserType == "Member" }},
	{"isSsprCapable", true, func(_ *call, u *scenario.User) any { return u.UserType == "Member" && len(u.MethodsRegistered) > 0 }},
	{"isMfaRegistered", true, func(_ *call, u *scenario.User) any { return u.MFARegistered }},
	{"isMfaCapable", true, func(_ *call, u *scenario.User) any { return u.MFACapable }},
	{"isPasswordlessCapable", true, func(_ *call, u *scenario.User) any { return slices.ContainsFunc(u.MethodsRegistered, isPasswordless) }},
	{"lastUpdatedDateTime", true, func(c *call, u *scenario.User) any {
		t := u.LastSignIn
		if t.IsZero() {
			t = u.Created
		}
		return t
	}},
	{"methodsRegistered", true, func(_ *call, u *scenario.User) any { return u.MethodsRegistered }},
	{"isSystemPreferredAuthenticationMethodEnabled", true, func(_ *call, u *scenario.User) any { return true }},
	{"systemPreferredAuthenticationMethods", true, func(_ *call, u *scenario.User) any {
		if p := preferredMethod(u); p != "none" {
			return []string{p}
		}
		return []string{}
	}},
	{"userPreferredMethodForSecondaryAuthentication", true, func(_ *call, u *scenario.User) any { return preferredMethod(u) }},
}}

var registrationFilter = filterSpec{
	resource: "userRegistrationDetails",
	props: map[string]bool{
		"id": true, "userprincipalname": true, "userdisplayname": true, "usertype": true, "isadmin": true,
		"ismfaregistered": true, "ismfacapable": true, "ispasswordlesscapable": true, "isssprregistered": true,
	},
	colls: map[string]bool{"methodsregistered": true},
}

func registrationGetter(u *scenario.User) getter {
	return func(p string) any {
		switch p {
		case "id":
			return u.ID
		case "userprincipalname":
			return u.UserPrincipalName
		case "userdisplayname":
			return u.DisplayName
		case "usertype":
			return strings.ToLower(u.UserType)
		case "isadmin":
			return u.IsAdmin
		case "ismfaregistered":
			return u.MFARegistered
		case "ismfacapable":
			return u.MFACapable
		case "ispasswordlesscapable":
			return slices.ContainsFunc(u.MethodsRegistered, isPasswordless)
		case "isssprregistered":
			return len(u.MethodsRegistered) > 0
		case "methodsregistered":
			return u.MethodsRegistered
		}
		return nil
	}
}

// registrationGate: AuditLog.Read.All, and (as for every Entra ID sign-in and registration report)
// an Entra ID P1/P2 tenant.
func (c *call) registrationGate() *gerr {
	if e := c.requireAuditLog(); e != nil {
		return e
	}
	if !c.ten.premium {
		return errf(http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", msgNonPremium)
	}
	return nil
}

func handleRegistrationDetails(c *call) *gerr {
	if e := c.registrationGate(); e != nil {
		return e
	}
	st, resumed, e := c.skipState("urd")
	if e != nil {
		return e
	}
	if !resumed {
		st = state{Kind: "urd", Tenant: c.ten.id}
		st.Select, _ = qget(c.q, "select")
		st.Filter, _ = qget(c.q, "filter")
		if st.Top, e = parseTop(c.q, 100, 999); e != nil {
			return e
		}
	}
	sel, e := registrationEntity.parseSelect(st.Select)
	if e != nil {
		return e
	}
	f, e := parseFilter(st.Filter, registrationFilter)
	if e != nil {
		return e
	}
	col := c.startCollection("reports/authenticationMethods/userRegistrationDetails", nil)
	written, next := 0, -1
	slots := c.ten.userSlots()
	for i := st.Pos; i < slots; i++ {
		u, ok := c.ten.user(i)
		if !ok || !matches(f, registrationGetter(&u)) {
			continue
		}
		if written == st.Top {
			next = i
			break
		}
		registrationEntity.write(col.j, c, &u, sel, nil)
		written++
	}
	link := ""
	if next >= 0 {
		st.Pos = next
		link = c.nextLink("/reports/authenticationMethods/userRegistrationDetails", st, "select", "filter", "top")
	}
	col.end(link, "")
	return nil
}

func handleRegistrationDetail(c *call) *gerr {
	if e := c.registrationGate(); e != nil {
		return e
	}
	u, ok := c.ten.userByID(c.segs[3])
	if !ok {
		return errNotFound(c.segs[3])
	}
	sel, _ := registrationEntity.parseSelect("")
	writeEntityDoc(c, http.StatusOK, "reports/authenticationMethods/userRegistrationDetails/$entity", registrationEntity, &u, sel)
	return nil
}
