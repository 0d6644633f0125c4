package e2e

// End-to-end tests of the main job (issue 4): discovery → TenantFanout → Service Bus queue →
// TenantSync workers → Table Storage → read API, through the real handler under the local host,
// Azurite and the Microsoft cloud simulator. Every expectation is computed from the scenario's
// truth (shared/sim/scenario), never from what the product wrote. No sleeps: the tests wait with
// the host's wait-idle endpoint or ?wait=true.

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
	"github.com/tenantsync/tenantsync/shared/operation"
	"github.com/tenantsync/tenantsync/shared/store"
)

// ---- HTTP helpers that report on the calling (sub)test ----

// do calls the host with the function key; unlike s.call it fails t, so it is safe in subtests.
func (s *stack) do(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-functions-key", s.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// getJSON GETs path, wants 200 and decodes the answer into v.
func (s *stack) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	status, body := s.do(t, "GET", path, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// pageAll reads a paged collection to its end following @odata.nextLink, checking that each link
// leads back through the host and that no page exceeds $top.
func (s *stack) pageAll(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	top := 100
	if u, err := url.Parse(path); err == nil {
		if v := u.Query().Get("$top"); v != "" {
			fmt.Sscan(v, &top)
		}
	}
	var all []json.RawMessage
	for pages := 1; ; pages++ {
		if pages > 500 {
			t.Fatalf("GET %s: more than 500 pages: the nextLinks loop", path)
		}
		var page struct {
			Value []json.RawMessage `json:"value"`
			Next  string            `json:"@odata.nextLink"`
		}
		s.getJSON(t, path, &page)
		if page.Value == nil {
			t.Fatalf("GET %s: no value array", path)
		}
		if len(page.Value) > top {
			t.Fatalf("GET %s: %d items on a page of $top=%d", path, len(page.Value), top)
		}
		all = append(all, page.Value...)
		if page.Next == "" {
			return all
		}
		// Links are built from PUBLIC_BASE_URL only; this stack serves that path at s.url.
		if !strings.HasPrefix(page.Next, s.publicBaseURL()+"/api/") {
			t.Fatalf("GET %s: @odata.nextLink %q is not under PUBLIC_BASE_URL %s", path, page.Next, s.publicBaseURL())
		}
		path = strings.TrimPrefix(page.Next, s.publicBaseURL())
	}
}

func decodeAll[T any](t *testing.T, raw []json.RawMessage) []T {
	t.Helper()
	out := make([]T, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("decode %s: %v", r, err)
		}
	}
	return out
}

func (s *stack) tenant(t *testing.T, id string) domain.Tenant {
	t.Helper()
	var tn domain.Tenant
	s.getJSON(t, "/api/tenants/"+id, &tn)
	return tn
}

func (s *stack) runs(t *testing.T, id string) []domain.Run {
	t.Helper()
	var page struct {
		Value []domain.Run `json:"value"`
	}
	s.getJSON(t, "/api/tenants/"+id+"/runs?$top=999", &page)
	return page.Value
}

// discover runs discovery on demand.
func (s *stack) discover(t *testing.T) {
	t.Helper()
	do := func(method, path, body string) (int, []byte) { return s.do(t, method, path, body) }
	if op := runOperation(t, do, "/api/discovery", ""); op.State != operation.StateSucceeded {
		t.Fatalf("discovery: %+v %s", op, op.Result)
	}
}

// fanout fires the TenantFanout timer and waits for the invocation.
func (s *stack) fanout(t *testing.T) {
	t.Helper()
	if status, body := s.do(t, "POST", "/admin/functions/TenantFanout?wait=true", `{"input":""}`); status != http.StatusOK {
		t.Fatalf("fire TenantFanout: %d %s", status, body)
	}
}

type queueCounts struct {
	Active, Scheduled, Locked, DeadLettered int
	Sent, Completed, Duplicates             int64
}

// waitIdle waits until the sync queue has nothing active, scheduled or locked.
func (s *stack) waitIdle(t *testing.T) queueCounts {
	t.Helper()
	status, body := s.do(t, "POST", "/admin/queues/tenant-sync/wait-idle?timeout=90s", "")
	if status != http.StatusOK {
		t.Fatalf("wait-idle: %d %s", status, body)
	}
	var q struct {
		Stats queueCounts `json:"stats"`
	}
	if err := json.Unmarshal(body, &q); err != nil {
		t.Fatalf("wait-idle: %v in %s", err, body)
	}
	return q.Stats
}

// syncNow asks for a manual sync and returns its run id.
func (s *stack) syncNow(t *testing.T, id string) string {
	t.Helper()
	status, body := s.do(t, "POST", "/api/tenants/"+id+"/sync", "")
	var r struct {
		RunID string `json:"runId"`
	}
	if status != http.StatusAccepted || json.Unmarshal(body, &r) != nil || r.RunID == "" {
		t.Fatalf("POST /api/tenants/%s/sync: %d %s, want 202 {runId}", id, status, body)
	}
	return r.RunID
}

func findRun(runs []domain.Run, runID string) (domain.Run, int) {
	n, i := 0, -1
	for k, r := range runs {
		if r.RunID == runID {
			n++
			i = k
		}
	}
	if i < 0 {
		return domain.Run{}, 0
	}
	return runs[i], n
}

// ---- the scenario's truth ----

func truthTenant(t *testing.T, s *stack, id string) *scenario.Tenant {
	t.Helper()
	tt, ok := s.sim.World.Tenant(id)
	if !ok {
		t.Fatalf("scenario has no tenant %s", id)
	}
	return tt
}

func liveUsers(tt *scenario.Tenant) map[string]scenario.User {
	out := map[string]scenario.User{}
	for i := 0; i < tt.UserSlots(); i++ {
		if u, ok := tt.User(i); ok {
			out[u.ID] = u
		}
	}
	return out
}

func liveGroups(tt *scenario.Tenant) map[string]scenario.Group {
	out := map[string]scenario.Group{}
	for i := 0; i < tt.GroupSlots(); i++ {
		if g, ok := tt.Group(i); ok {
			out[g.ID] = g
		}
	}
	return out
}

// skuParts maps assigned SKU ids to part numbers, sorted.
func skuParts(tt *scenario.Tenant, ids []string) []string {
	var out []string
	for _, id := range ids {
		name := id
		for _, s := range tt.Skus {
			if strings.EqualFold(s.SkuID, id) {
				name = s.SkuPartNumber
			}
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// aliases are proxyAddresses without the primary ("SMTP:") one and without the smtp: prefix.
func aliases(u scenario.User) []string {
	var out []string
	for _, a := range u.ProxyAddresses {
		if strings.HasPrefix(a, "SMTP:") {
			continue
		}
		out = append(out, strings.TrimPrefix(a, "smtp:"))
	}
	return out
}

func sameStrings(a, b []string) bool { return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b)) }

func sortedCopy(a []string) []string {
	b := slices.Clone(a)
	sort.Strings(b)
	return b
}

func mfaPercent(users map[string]scenario.User) float64 {
	reg := 0
	for _, u := range users {
		if u.MFARegistered {
			reg++
		}
	}
	return float64(reg) * 100 / float64(len(users))
}

// ---- comparing a synced tenant with the truth ----

// apiUser is a users API item: the User plus the joined UserSecurity fields.
type apiUser = domain.User

// checkUsers pages through the users API with a small $top and compares every user.
func checkUsers(t *testing.T, s *stack, id string, securityAvailable bool) {
	t.Helper()
	tt := truthTenant(t, s, id)
	want := liveUsers(tt)
	got := decodeAll[apiUser](t, s.pageAll(t, "/api/tenants/"+id+"/users?$top=7"))
	seen := map[string]bool{}
	for _, u := range got {
		if seen[u.ID] {
			t.Errorf("user %s listed twice", u.ID)
		}
		seen[u.ID] = true
		w, ok := want[u.ID]
		if !ok {
			t.Errorf("user %s (%s) is not a live user of the scenario", u.ID, u.UserPrincipalName)
			continue
		}
		if u.DisplayName != w.DisplayName || u.UserPrincipalName != w.UserPrincipalName || u.AccountEnabled != w.AccountEnabled ||
			u.JobTitle != w.JobTitle || u.Department != w.Department || u.Mail != w.Mail || u.UserType != w.UserType {
			t.Errorf("user %s:\n got  %q %q enabled=%v %q %q %q %q\n want %q %q enabled=%v %q %q %q %q", u.ID,
				u.DisplayName, u.UserPrincipalName, u.AccountEnabled, u.JobTitle, u.Department, u.Mail, u.UserType,
				w.DisplayName, w.UserPrincipalName, w.AccountEnabled, w.JobTitle, w.Department, w.Mail, w.UserType)
		}
		if g, w := sortedCopy(u.Licenses), skuParts(tt, w.AssignedSkuIDs); !sameStrings(g, w) {
			t.Errorf("user %s licences %v, want %v", u.UserPrincipalName, g, w)
		}
		if g, w := u.Aliases, aliases(w); !sameStrings(g, w) {
			t.Errorf("user %s has %d aliases, want %d (%v vs %v)", u.UserPrincipalName, len(g), len(w), g, w)
		}
		if securityAvailable {
			if u.MFARegistered == nil || *u.MFARegistered != w.MFARegistered {
				t.Errorf("user %s mfaRegistered=%v, want %v", u.UserPrincipalName, u.MFARegistered, w.MFARegistered)
			}
			checkUserMFASource(t, tt, u, w)
			if tt.Premium && !u.LastSignIn.Equal(w.LastSignIn) {
				t.Errorf("user %s lastSignInDateTime %v, want %v", u.UserPrincipalName, u.LastSignIn, w.LastSignIn)
			}
			if !tt.Premium && !u.LastSignIn.IsZero() {
				t.Errorf("user %s has a sign-in date %v the tenant cannot provide", u.UserPrincipalName, u.LastSignIn)
			}
		} else if u.MFARegistered != nil || !u.LastSignIn.IsZero() {
			t.Errorf("user %s carries MFA/sign-in data (%v, %v) the tenant cannot provide", u.UserPrincipalName, u.MFARegistered, u.LastSignIn)
		}
	}
	for wid, w := range want {
		if !seen[wid] {
			t.Errorf("live user %s (%s) missing from the users API", wid, w.UserPrincipalName)
		}
	}
	if len(got) != len(want) {
		t.Errorf("users API lists %d users, the scenario has %d live", len(got), len(want))
	}
}

// wantMFASource is where a tenant's MFA state must come from: Microsoft's registration report
// with Entra ID P1/P2, else the security defaults policy or per-user MFA (with registered methods).
func wantMFASource(tt *scenario.Tenant) string {
	switch {
	case tt.Premium:
		return domain.MFASourceReport
	case tt.SecurityDefaults:
		return domain.MFASourceSecurityDefaults
	}
	return domain.MFASourcePerUser
}

// checkUserMFASource checks a user's MFA fields against the source the tenant allows.
func checkUserMFASource(t *testing.T, tt *scenario.Tenant, u apiUser, w scenario.User) {
	t.Helper()
	if tt.Premium {
		// isAdmin comes with the registration report only.
		if u.MFASource != domain.MFASourceReport || u.IsAdmin != w.IsAdmin || u.MFARequired != nil || u.PerUserMFAState != "" {
			t.Errorf("user %s mfaSource %q isAdmin %v mfaRequired %v perUserMfaState %q, want the registration report's (isAdmin %v)",
				u.UserPrincipalName, u.MFASource, u.IsAdmin, u.MFARequired, u.PerUserMFAState, w.IsAdmin)
		}
		return
	}
	wantRequired, wantPerUser := true, ""
	if !tt.SecurityDefaults {
		wantRequired, wantPerUser = w.PerUserMFA == "enabled" || w.PerUserMFA == "enforced", w.PerUserMFA
	}
	if u.MFASource != domain.MFASourceMethods || u.MFARequired == nil || *u.MFARequired != wantRequired || u.PerUserMFAState != wantPerUser {
		t.Errorf("user %s mfaSource %q mfaRequired %v perUserMfaState %q, want methods, %v, %q", u.UserPrincipalName, u.MFASource,
			u.MFARequired, u.PerUserMFAState, wantRequired, wantPerUser)
	}
	for _, m := range w.MethodsRegistered {
		if m == "microsoftAuthenticatorPasswordless" {
			m = "microsoftAuthenticatorPush" // the methods API does not tell the two apart
		}
		if !slices.Contains(u.MFAMethods, m) {
			t.Errorf("user %s mfaMethods %v lack %s (registered %v)", u.UserPrincipalName, u.MFAMethods, m, w.MethodsRegistered)
		}
	}
}

func checkGroups(t *testing.T, s *stack, id string) {
	t.Helper()
	want := liveGroups(truthTenant(t, s, id))
	got := decodeAll[domain.Group](t, s.pageAll(t, "/api/tenants/"+id+"/groups?$top=3"))
	ids := map[string]bool{}
	for _, g := range got {
		w, ok := want[g.ID]
		switch {
		case !ok:
			t.Errorf("group %s is not in the scenario", g.ID)
		case g.DisplayName != w.DisplayName || g.MailEnabled != w.MailEnabled || g.SecurityEnabled != w.SecurityEnabled:
			t.Errorf("group %s: %+v, want %q mail=%v security=%v", g.ID, g, w.DisplayName, w.MailEnabled, w.SecurityEnabled)
		}
		ids[g.ID] = true
	}
	if len(got) != len(want) || len(ids) != len(want) {
		t.Errorf("groups API lists %d groups (%d distinct), the scenario has %d", len(got), len(ids), len(want))
	}
}

func checkDevices(t *testing.T, s *stack, id string, available bool) {
	t.Helper()
	tt := truthTenant(t, s, id)
	got := decodeAll[domain.Device](t, s.pageAll(t, "/api/tenants/"+id+"/devices?$top=4"))
	if !available {
		if len(got) != 0 {
			t.Errorf("devices unavailable, yet the API lists %d", len(got))
		}
		return
	}
	want := map[string]scenario.Device{}
	for i := 0; i < tt.DeviceCount(); i++ {
		d := tt.Device(i)
		want[d.ID] = d
	}
	for _, d := range got {
		w, ok := want[d.ID]
		switch {
		case !ok:
			t.Errorf("device %s is not in the scenario", d.ID)
		case d.UserID != w.UserID || d.DeviceName != w.DeviceName || d.UserPrincipalName != w.UserPrincipalName:
			t.Errorf("device %s: user %q %q name %q, want %q %q %q", d.ID, d.UserID, d.UserPrincipalName, d.DeviceName, w.UserID, w.UserPrincipalName, w.DeviceName)
		}
	}
	if len(got) != len(want) {
		t.Errorf("devices API lists %d devices, the scenario has %d", len(got), len(want))
	}
}

func checkLicences(t *testing.T, s *stack, id string) {
	t.Helper()
	tt := truthTenant(t, s, id)
	got := decodeAll[domain.License](t, s.pageAll(t, "/api/tenants/"+id+"/licenses"))
	if len(got) != len(tt.Skus) {
		t.Errorf("licenses API lists %d SKUs, the scenario has %d", len(got), len(tt.Skus))
	}
	for _, l := range got {
		var w *scenario.Sku
		for i := range tt.Skus {
			if strings.EqualFold(tt.Skus[i].SkuID, l.SkuID) {
				w = &tt.Skus[i]
			}
		}
		if w == nil {
			t.Errorf("licence %s (%s) is not subscribed in the scenario", l.SkuID, l.SkuPartNumber)
			continue
		}
		if l.SkuPartNumber != w.SkuPartNumber || l.Consumed != tt.Consumed(w.SkuID) || l.Enabled != w.Prepaid {
			t.Errorf("licence %s: part %q consumed %d enabled %d, want %q %d %d", l.SkuID, l.SkuPartNumber, l.Consumed, l.Enabled, w.SkuPartNumber, tt.Consumed(w.SkuID), w.Prepaid)
		}
	}
}

// mailboxUsers are the live users whose mailbox the usage report names properly (rows shown as
// "(Unknown)" or with a redacted name are skipped, see reportAnomalies).
func mailboxUsers(tt *scenario.Tenant) map[string]scenario.User {
	out := map[string]scenario.User{}
	for _, u := range liveUsers(tt) {
		if u.HasMailbox && u.ReportUPN == u.UserPrincipalName {
			out[strings.ToLower(u.UserPrincipalName)] = u
		}
	}
	return out
}

// reportAnomalies counts the live mailboxes the usage report shows without a usable name.
func reportAnomalies(tt *scenario.Tenant) int {
	n := 0
	for _, u := range liveUsers(tt) {
		if u.HasMailbox && u.ReportUPN != u.UserPrincipalName {
			n++
		}
	}
	return n
}

func checkMailboxes(t *testing.T, s *stack, id string, available bool) {
	t.Helper()
	tt := truthTenant(t, s, id)
	got := decodeAll[domain.Mailbox](t, s.pageAll(t, "/api/tenants/"+id+"/mailboxes?$top=9"))
	if !available {
		// Never store hashed names (or anything else) from a concealed report.
		if len(got) != 0 {
			t.Errorf("mailboxes unavailable, yet the API lists %d rows, first %+v", len(got), got[0])
		}
		return
	}
	want := mailboxUsers(tt)
	for _, m := range got {
		w, ok := want[strings.ToLower(m.UserPrincipalName)]
		switch {
		case !ok:
			t.Errorf("mailbox %q belongs to no live mailbox user", m.UserPrincipalName)
		case m.DisplayName != w.DisplayName || m.StorageUsedBytes != w.MailboxStorageBytes || m.ItemCount != w.MailboxItemCount:
			t.Errorf("mailbox %s: %q %d bytes %d items, want %q %d %d", m.UserPrincipalName, m.DisplayName, m.StorageUsedBytes, m.ItemCount,
				w.DisplayName, w.MailboxStorageBytes, w.MailboxItemCount)
		}
	}
	if len(got) != len(want) {
		t.Errorf("mailboxes API lists %d, the scenario has %d live users with a mailbox named in the report", len(got), len(want))
	}
	// Rows without a usable name are skipped and counted, on the tenant and on the run.
	skipped := reportAnomalies(tt)
	tn := s.tenant(t, id)
	cs := tn.Collections["mailboxes"]
	if cs.Skipped != skipped || (skipped > 0) != (cs.SkipReason != "") {
		t.Errorf("collections.mailboxes %+v, want %d skipped with a reason", cs, skipped)
	}
	if run, n := findRun(s.runs(t, id), tn.Sync.LastRunID); n == 0 || run.Collections["mailboxes"].Skipped != skipped {
		t.Errorf("run %s mailboxes %+v, want %d skipped", tn.Sync.LastRunID, run.Collections["mailboxes"], skipped)
	}
}

// checkSynced compares a consented tenant's summary and every collection with the truth.
// unavailable maps the collections the tenant cannot provide to the expected code.
func checkSynced(t *testing.T, s *stack, id string, unavailable map[string]string) {
	t.Helper()
	tt := truthTenant(t, s, id)
	tn := s.tenant(t, id)
	wantState := domain.SyncSucceeded
	if len(unavailable) > 0 {
		wantState = domain.SyncPartial
	}
	if tn.Sync.State != wantState || tn.Sync.LastSuccessAt.IsZero() || tn.Sync.LastRunID == "" {
		t.Errorf("sync %+v, want state %s with lastRunId and lastSuccessAt", tn.Sync, wantState)
	}
	if tn.Sync.Error != nil {
		t.Errorf("sync error %+v on a %s tenant", *tn.Sync.Error, wantState)
	}
	if tn.Consent.State != domain.ConsentConsented || tn.DisplayName != tt.DisplayName || tn.DefaultDomain != tt.DefaultDomain {
		t.Errorf("tenant consent %q name %q domain %q, want consented %q %q", tn.Consent.State, tn.DisplayName, tn.DefaultDomain, tt.DisplayName, tt.DefaultDomain)
	}
	for _, c := range []string{"users", "groups", "licenses", "devices", "mailboxes", "userSecurity"} {
		cs, ok := tn.Collections[c]
		code, unav := unavailable[c]
		switch {
		case !ok:
			t.Errorf("collections.%s missing: %+v", c, tn.Collections)
		case unav && (cs.Available || cs.Code() != code || cs.Reason() == "" || cs.Remediation() == ""):
			t.Errorf("collections.%s = %+v, want unavailable %s with reason and remediation", c, cs, code)
		case !unav && (!cs.Available || cs.Code() != ""):
			t.Errorf("collections.%s = %+v, want available", c, cs)
		}
	}
	users := liveUsers(tt)
	licensed := 0
	for _, u := range users {
		if len(u.AssignedSkuIDs) > 0 {
			licensed++
		}
	}
	want := domain.Counts{Users: len(users), LicensedUsers: licensed, Groups: len(liveGroups(tt)), Devices: tt.DeviceCount(),
		Mailboxes: len(mailboxUsers(tt)), Skus: len(tt.Skus)}
	if _, ok := unavailable["devices"]; ok {
		want.Devices = 0
	}
	if _, ok := unavailable["mailboxes"]; ok {
		want.Mailboxes = 0
	}
	if tn.Counts != want {
		t.Errorf("counts %+v, want %+v", tn.Counts, want)
	}
	noSecurity := unavailable["userSecurity"] == "MFAStateUnavailable"
	if !noSecurity && tn.MFASource != wantMFASource(tt) {
		t.Errorf("mfaSource %q, want %q", tn.MFASource, wantMFASource(tt))
	}
	switch {
	case noSecurity && tn.MFARegisteredPercent != nil:
		t.Errorf("mfaRegisteredPercent %v though MFA registration is unavailable", *tn.MFARegisteredPercent)
	case !noSecurity && tn.MFARegisteredPercent == nil:
		t.Errorf("mfaRegisteredPercent missing, want %.2f", mfaPercent(users))
	case !noSecurity && math.Abs(*tn.MFARegisteredPercent-mfaPercent(users)) > 0.01:
		t.Errorf("mfaRegisteredPercent %.4f, the scenario has %.4f", *tn.MFARegisteredPercent, mfaPercent(users))
	}
	checkUsers(t, s, id, !noSecurity)
	checkGroups(t, s, id)
	checkLicences(t, s, id)
	_, noDevices := unavailable["devices"]
	checkDevices(t, s, id, !noDevices)
	_, noMailboxes := unavailable["mailboxes"]
	checkMailboxes(t, s, id, !noMailboxes)
}

func hasFlag(tn domain.Tenant, code string) bool {
	return slices.ContainsFunc(tn.Flags, func(f domain.Problem) bool { return f.Code == code && f.Message != "" && f.Remediation != "" })
}

// ---- 1. the demo scenario, row by row ----

func TestSyncDemoScenarioMatchesTruth(t *testing.T) {
	start := time.Now()
	s := startStack(t)
	s.discover(t)
	s.fanout(t)
	q := s.waitIdle(t)
	t.Logf("stack up, discovery, fan-out and 8 syncs in %s; queue %+v", time.Since(start).Round(time.Millisecond), q)
	if q.Sent != 8 || q.Completed != 8 || q.DeadLettered != 0 {
		t.Errorf("queue %+v: want the 8 consented tenants sent and completed, none dead-lettered", q)
	}

	healthy := []string{scenario.DemoContosoDental, scenario.DemoLitware, scenario.DemoProseware, scenario.DemoWideWorldImporters}
	for _, id := range healthy {
		t.Run("healthy/"+truthTenant(t, s, id).DisplayName, func(t *testing.T) { checkSynced(t, s, id, nil) })
	}
	// Without Entra ID P1/P2: no sign-in dates (PremiumRequired, whose text says MFA comes from the
	// fallback), MFA state from per-user MFA (Fabrikam Legal) or security defaults (Coho Winery).
	for _, id := range []string{scenario.DemoFabrikamLegal, scenario.DemoCohoWinery} {
		t.Run("degraded/"+truthTenant(t, s, id).DisplayName+" (no premium)", func(t *testing.T) {
			checkSynced(t, s, id, map[string]string{"userSecurity": "PremiumRequired"})
			if cs := s.tenant(t, id).Collections["userSecurity"]; !strings.Contains(cs.Reason(), "MFA state is derived") {
				t.Errorf("userSecurity reason %q does not say where MFA state comes from", cs.Reason())
			}
		})
	}
	t.Run("degraded/Northwind Traders (no Intune)", func(t *testing.T) {
		checkSynced(t, s, scenario.DemoNorthwindTraders, map[string]string{"devices": "IntuneNotLicensed"})
	})
	t.Run("degraded/Tailspin Toys (concealed reports)", func(t *testing.T) {
		checkSynced(t, s, scenario.DemoTailspinToys, map[string]string{"mailboxes": "ReportsConcealed"})
		cs := s.tenant(t, scenario.DemoTailspinToys).Collections["mailboxes"]
		if !strings.Contains(cs.Remediation(), "turn off concealed names") {
			t.Errorf("mailboxes remediation %q does not say how to turn off concealed names", cs.Remediation())
		}
	})

	t.Run("not synced", func(t *testing.T) {
		for _, c := range []struct {
			id, consent, errPart string
		}{
			{scenario.DemoWoodgroveBank, domain.ConsentNone, ""},
			{scenario.DemoAdventureWorks, domain.ConsentNone, ""},
			{scenario.DemoAlpineSkiHouse, domain.ConsentNone, ""},
			{scenario.DemoFourthCoffee, domain.ConsentFailed, "AADSTS65001"},
			{scenario.DemoBlueYonderAirlines, domain.ConsentFailed, "AADSTS90002"},
		} {
			tn := s.tenant(t, c.id)
			name := truthTenant(t, s, c.id).DisplayName
			if tn.Consent.State != c.consent || !strings.Contains(tn.Consent.Error, c.errPart) {
				t.Errorf("%s consent %+v, want %s with an error naming %q", name, tn.Consent, c.consent, c.errPart)
			}
			if tn.Sync.State != domain.SyncNever || tn.Sync.LastRunID != "" || !tn.Sync.LastSuccessAt.IsZero() || tn.Counts != (domain.Counts{}) {
				t.Errorf("%s was synced: sync %+v counts %+v", name, tn.Sync, tn.Counts)
			}
			if runs := s.runs(t, c.id); len(runs) != 0 {
				t.Errorf("%s has %d runs, want none", name, len(runs))
			}
			if n := len(s.pageAll(t, "/api/tenants/"+c.id+"/users")); n != 0 {
				t.Errorf("%s has %d users stored", name, n)
			}
		}
	})

	t.Run("flags and sources", func(t *testing.T) {
		wwi := s.tenant(t, scenario.DemoWideWorldImporters)
		truthWWI := truthTenant(t, s, scenario.DemoWideWorldImporters)
		if !hasFlag(wwi, "relationshipExpiring") || wwi.Relationship.AutoExtend || wwi.Relationship.Status != "active" ||
			wwi.Relationship.EndDateTime.Sub(truthWWI.GDAP[0].EndDateTime).Abs() > time.Second {
			t.Errorf("Wide World Importers: flags %+v relationship %+v, want relationshipExpiring, active, no auto-extend, ending %s",
				wwi.Flags, wwi.Relationship, truthWWI.GDAP[0].EndDateTime)
		}
		if a := s.tenant(t, scenario.DemoAlpineSkiHouse); !hasFlag(a, "relationshipEnded") || a.Relationship.Status != "terminated" || !slices.Equal(a.Sources, []string{"gdap"}) {
			t.Errorf("Alpine Ski House: flags %+v relationship %+v sources %v, want relationshipEnded, terminated, [gdap]", a.Flags, a.Relationship, a.Sources)
		}
		if a := s.tenant(t, scenario.DemoAdventureWorks); !hasFlag(a, "missingRoles") {
			t.Errorf("Adventure Works: flags %+v, want missingRoles", a.Flags)
		}
		if c := s.tenant(t, scenario.DemoContosoDental); len(c.Flags) != 0 || !slices.Equal(c.Sources, []string{"csp", "gdap"}) || !c.Relationship.AutoExtend {
			t.Errorf("Contoso Dental: flags %+v sources %v relationship %+v, want no flags, [csp gdap], auto-extend", c.Flags, c.Sources, c.Relationship)
		}
		if c := s.tenant(t, scenario.DemoCohoWinery); !slices.Equal(c.Sources, []string{"csp"}) || c.Relationship.Status != "" || len(c.Flags) != 0 {
			t.Errorf("Coho Winery: sources %v relationship %+v flags %+v, want [csp] only, no relationship, no flags", c.Sources, c.Relationship, c.Flags)
		}
		var list struct {
			Value []domain.Tenant `json:"value"`
		}
		s.getJSON(t, "/api/tenants", &list)
		if n, want := len(list.Value), s.sim.World.TenantCount(); n != want {
			t.Errorf("GET /api/tenants lists %d tenants, the scenario has %d", n, want)
		}
	})

	t.Run("big alias list round-trips", func(t *testing.T) {
		tt := truthTenant(t, s, scenario.DemoContosoDental)
		u0, ok := tt.User(0)
		if !ok || len(u0.ProxyAddresses) != scenario.DemoBigAliasCount {
			t.Fatalf("scenario user 0 has %d proxy addresses, want %d", len(u0.ProxyAddresses), scenario.DemoBigAliasCount)
		}
		var got apiUser
		for _, raw := range s.pageAll(t, "/api/tenants/"+scenario.DemoContosoDental+"/users?$top=999") {
			var u apiUser
			if err := json.Unmarshal(raw, &u); err != nil {
				t.Fatal(err)
			}
			if u.ID == u0.ID {
				got = u
				if strings.Contains(string(raw), "Truncated") {
					t.Errorf("user 0 was stored truncated: %.300s", raw)
				}
			}
		}
		want := aliases(u0)
		if len(want) != scenario.DemoBigAliasCount-1 || !slices.Equal(got.Aliases, want) || got.Mail != u0.Mail {
			t.Errorf("user 0: %d aliases (mail %q), want exactly the %d non-primary proxy addresses in order (mail %q)", len(got.Aliases), got.Mail, len(want), u0.Mail)
		}
	})

	t.Run("storms were real", func(t *testing.T) {
		if c := s.sim.Metrics.Total("graph", scenario.DemoLitware); c.Throttled == 0 {
			t.Errorf("Litware: the simulator served no 429s (%+v): the throttling storm was not exercised", c)
		}
		if c := s.sim.Metrics.Total("graph", scenario.DemoProseware); c.Errors == 0 {
			t.Errorf("Proseware: the simulator served no 503s (%+v): the outage storm was not exercised", c)
		}
		// The MFA fallback's batch items were throttled too, and re-sent until answered.
		fallbackThrottled := map[string]int64{}
		for _, r := range s.sim.Metrics.Rows() {
			if r.TenantID == scenario.DemoFabrikamLegal && strings.Contains(r.Endpoint, "/authentication/") {
				fallbackThrottled[r.Endpoint] += r.Throttled
			}
		}
		for _, ep := range []string{"GET /users/{id}/authentication/methods", "GET /beta/users/{id}/authentication/requirements"} {
			if fallbackThrottled[ep] == 0 {
				t.Errorf("Fabrikam Legal: no throttled %s (%v): the fallback's retries were not exercised", ep, fallbackThrottled)
			}
		}
		if runs := s.runs(t, scenario.DemoFabrikamLegal); len(runs) != 1 || runs[0].State != domain.SyncPartial || runs[0].Error != nil {
			t.Errorf("Fabrikam Legal runs %+v: want one partial run (sign-ins only missing) without error", runs)
		} else {
			t.Logf("Fabrikam Legal: %+v; run took %s", s.sim.Metrics.Total("graph", scenario.DemoFabrikamLegal), runs[0].FinishedAt.Sub(runs[0].StartedAt))
		}
		for _, id := range []string{scenario.DemoLitware, scenario.DemoProseware} {
			runs := s.runs(t, id)
			// Retries happen inside the run; a redelivery would still be the same run id.
			if len(runs) != 1 || runs[0].State != domain.SyncSucceeded || runs[0].Error != nil {
				t.Errorf("%s runs %+v: want one succeeded run", id, runs)
			} else {
				t.Logf("%s: %+v; run at delivery %d", id, s.sim.Metrics.Total("graph", id), runs[0].DeliveryCount)
			}
		}
	})
}

// A tenant without P1/P2 whose consent predates the MFA fallback's permissions (Partner Center does
// not update an existing consent). Without Policy.Read.All, registration still comes from each
// user's methods (mfaSource methods; whether MFA is required stays unknown). Without
// UserAuthenticationMethod.Read.All as well, MFA state is unavailable with the re-consent fix, and
// the rest of the tenant still syncs.
func TestMFAFallbackWithOldConsent(t *testing.T) {
	s := startStack(t)
	appID := s.sim.World.App().AppID
	coho, fab := scenario.DemoCohoWinery, scenario.DemoFabrikamLegal
	if err := s.sim.Directory.WithdrawRoles(coho, appID, "Policy.Read.All"); err != nil {
		t.Fatal(err)
	}
	if err := s.sim.Directory.WithdrawRoles(fab, appID, "Policy.Read.All", "UserAuthenticationMethod.Read.All"); err != nil {
		t.Fatal(err)
	}
	s.discover(t)
	s.fanout(t)
	if q := s.waitIdle(t); q.DeadLettered != 0 || q.Completed != q.Sent {
		t.Fatalf("queue %+v: want every message completed", q)
	}

	t.Run("methods only", func(t *testing.T) {
		tt := truthTenant(t, s, coho)
		users := liveUsers(tt)
		tn := s.tenant(t, coho)
		if tn.MFASource != domain.MFASourceMethods || tn.MFARegisteredPercent == nil || math.Abs(*tn.MFARegisteredPercent-mfaPercent(users)) > 0.01 {
			t.Errorf("mfaSource %q mfaRegisteredPercent %v, want methods and %.2f", tn.MFASource, tn.MFARegisteredPercent, mfaPercent(users))
		}
		if cs := tn.Collections["userSecurity"]; cs.Code() != "PremiumRequired" || tn.Sync.State != domain.SyncPartial {
			t.Errorf("userSecurity %+v, sync %+v: want PremiumRequired (sign-ins) on a partial run", cs, tn.Sync)
		}
		got := decodeAll[apiUser](t, s.pageAll(t, "/api/tenants/"+coho+"/users?$top=999"))
		if len(got) != len(users) {
			t.Errorf("%d users, want %d", len(got), len(users))
		}
		for _, u := range got {
			w := users[u.ID]
			if u.MFARegistered == nil || *u.MFARegistered != w.MFARegistered || u.MFASource != domain.MFASourceMethods || u.MFARequired != nil || u.PerUserMFAState != "" {
				t.Errorf("user %s mfaRegistered %v source %q required %v perUser %q, want %v from methods, requirement unknown",
					u.UserPrincipalName, u.MFARegistered, u.MFASource, u.MFARequired, u.PerUserMFAState, w.MFARegistered)
			}
		}
	})
	t.Run("no methods either", func(t *testing.T) {
		checkSynced(t, s, fab, map[string]string{"userSecurity": "MFAStateUnavailable"})
		cs := s.tenant(t, fab).Collections["userSecurity"]
		if !strings.Contains(cs.Remediation(), "UserAuthenticationMethod.Read.All") || !strings.Contains(cs.Remediation(), "consent") {
			t.Errorf("userSecurity remediation %q does not say which permissions to re-consent", cs.Remediation())
		}
	})
}

// ---- 2. a delta round after the simulator's mutations ----

func TestDeltaRoundAfterMutations(t *testing.T) {
	s := startStack(t)
	id := scenario.DemoContosoDental
	tt := truthTenant(t, s, id)
	s.discover(t)
	first := s.syncNow(t, id)
	if q := s.waitIdle(t); q.Completed != 1 || q.DeadLettered != 0 {
		t.Fatalf("first sync: queue %+v", q)
	}
	run, _ := findRun(s.runs(t, id), first)
	if run.State != domain.SyncSucceeded || !run.Collections["users"].Full || !run.Collections["groups"].Full ||
		run.Collections["users"].Written != len(liveUsers(tt)) {
		t.Fatalf("first run %+v: want succeeded with full users and groups, every user written", run)
	}
	checkUsers(t, s, id, true)

	epoch := s.sim.World.Epoch()
	step := s.sim.World.Step()
	var wantWritten, wantDeleted int
	for _, c := range tt.UserChanges(epoch) {
		if c.Removed {
			wantDeleted++
		} else {
			wantWritten++
		}
	}
	groupChanges := len(tt.GroupChanges(epoch))
	if wantWritten == 0 || wantDeleted == 0 || groupChanges == 0 {
		t.Fatalf("step %+v changed too little for this test: users written %d deleted %d, groups %d", step, wantWritten, wantDeleted, groupChanges)
	}

	second := s.syncNow(t, id)
	if q := s.waitIdle(t); q.Completed != 2 || q.DeadLettered != 0 {
		t.Fatalf("delta sync: queue %+v", q)
	}
	runs := s.runs(t, id)
	run, n := findRun(runs, second)
	if n != 1 || runs[0].RunID != second {
		t.Fatalf("runs %+v: want run %s once, newest first", runs, second)
	}
	if run.State != domain.SyncSucceeded {
		t.Errorf("delta run state %s (%+v)", run.State, run.Error)
	}
	u := run.Collections["users"]
	if u.Full || u.Written != wantWritten || u.Deleted != wantDeleted || u.Unchanged != 0 || u.Count != len(liveUsers(tt)) {
		t.Errorf("delta users %+v, want full=false written=%d (added+changed) deleted=%d (removed) unchanged=0 count=%d",
			u, wantWritten, wantDeleted, len(liveUsers(tt)))
	}
	// Membership changes are all a group delta reports here; group rows hold no membership, so
	// the returned groups are unchanged rows and must not be rewritten.
	g := run.Collections["groups"]
	if g.Full || g.Written != 0 || g.Unchanged != groupChanges || g.Deleted != 0 || g.Count != len(liveGroups(tt)) {
		t.Errorf("delta groups %+v, want full=false written=0 unchanged=%d (the changed groups) deleted=0 count=%d", g, groupChanges, len(liveGroups(tt)))
	}
	d := run.Collections["devices"]
	if !d.Full || d.Written != 0 || d.Deleted != 0 || d.Unchanged != tt.DeviceCount() {
		t.Errorf("devices %+v, want a full read with all %d rows unchanged and none written", d, tt.DeviceCount())
	}
	checkSynced(t, s, id, nil)

	// Another round with nothing changed writes nothing.
	third := s.syncNow(t, id)
	if q := s.waitIdle(t); q.Completed != 3 || q.DeadLettered != 0 {
		t.Fatalf("idle sync: queue %+v", q)
	}
	run, _ = findRun(s.runs(t, id), third)
	for _, c := range []string{"users", "groups", "devices", "licenses", "mailboxes", "userSecurity"} {
		rc, ok := run.Collections[c]
		if !ok || rc.Written != 0 || rc.Deleted != 0 {
			t.Errorf("unchanged round: %s %+v (present %v), want nothing written or deleted", c, rc, ok)
		}
	}
	if u := run.Collections["users"]; u.Full || u.Unchanged != 0 {
		t.Errorf("unchanged round: users %+v, want an empty delta", u)
	}
	checkUsers(t, s, id, true)
}

// ---- 3. a redelivered message gives the same state ----

// snapshot is everything the read API shows for a tenant, minus timestamps a rerun legitimately moves.
func snapshot(t *testing.T, s *stack, id string) map[string]any {
	t.Helper()
	out := map[string]any{}
	var tn map[string]any
	s.getJSON(t, "/api/tenants/"+id, &tn)
	if sy, ok := tn["sync"].(map[string]any); ok {
		delete(sy, "lastSuccessAt")
	}
	// Each collection's age is when it was last read: a redelivery reads the delta collections again.
	if cs, ok := tn["collections"].(map[string]any); ok {
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				delete(m, "syncedAt")
			}
		}
	}
	out["tenant"] = tn
	for _, c := range []string{"users", "licenses", "groups", "devices", "mailboxes"} {
		var items []any
		for _, raw := range s.pageAll(t, "/api/tenants/"+id+"/"+c+"?$top=999") {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			items = append(items, v)
		}
		out[c] = items
	}
	return out
}

func TestRedeliveredMessageGivesIdenticalState(t *testing.T) {
	s := startStack(t)
	id := scenario.DemoContosoDental
	s.discover(t)
	req := domain.SyncRequest{TenantID: id, RunID: "20250101T0000Z-scheduled", Reason: "scheduled", QueuedAt: time.Now().UTC().Truncate(time.Minute)}
	body, _ := json.Marshal(req)
	input, _ := json.Marshal(map[string]string{"input": string(body)})
	deliver := func() {
		t.Helper()
		if status, b := s.do(t, "POST", "/admin/functions/TenantSync?wait=true", string(input)); status != http.StatusOK {
			t.Fatalf("invoke TenantSync: %d %s", status, b)
		}
	}

	deliver()
	before := snapshot(t, s, id)
	runsBefore := s.runs(t, id)
	deliver()
	after := snapshot(t, s, id)
	runsAfter := s.runs(t, id)

	for k := range before {
		if !reflect.DeepEqual(before[k], after[k]) {
			b1, _ := json.Marshal(before[k])
			b2, _ := json.Marshal(after[k])
			t.Errorf("%s differs after the second delivery:\n before %.2000s\n after  %.2000s", k, b1, b2)
		}
	}
	if len(before["users"].([]any)) == 0 {
		t.Errorf("the first delivery stored no users")
	}
	first, n1 := findRun(runsBefore, req.RunID)
	second, n2 := findRun(runsAfter, req.RunID)
	if n1 != 1 || n2 != 1 || len(runsAfter) != 1 {
		t.Fatalf("runs before %+v after %+v: want exactly one run %s", runsBefore, runsAfter, req.RunID)
	}
	if second.State != domain.SyncSucceeded || second.Reason != first.Reason || !second.QueuedAt.Equal(first.QueuedAt) || second.TenantID != id {
		t.Errorf("run after redelivery %+v, first %+v", second, first)
	}
	if tn := s.tenant(t, id); tn.Sync.LastRunID != req.RunID {
		t.Errorf("tenant lastRunId %q, want %q", tn.Sync.LastRunID, req.RunID)
	}
	for _, c := range []string{"users", "groups", "devices", "licenses", "mailboxes", "userSecurity"} {
		rc, ok := second.Collections[c]
		if !ok || rc.Written != 0 || rc.Deleted != 0 {
			t.Errorf("second delivery: %s %+v (present %v), want nothing written or deleted", c, rc, ok)
		}
	}
}

// ---- 4. a persistent outage ends in the dead-letter queue with the tenant's error ----

func TestPersistentOutageEndsInDeadLetterWithTenantError(t *testing.T) {
	now := time.Now()
	f := scenario.DemoFile(now)
	f.Name = "e2e-outage"
	var spec scenario.TenantSpec
	for _, ts := range f.Tenants {
		if ts.ID == scenario.DemoContosoDental {
			spec = ts
		}
	}
	spec.Faults = &scenario.Faults{UnavailableEvery: 1, RetryAfter: "0.01"}
	f.Tenants = []scenario.TenantSpec{spec}
	world, err := scenario.New(f, now)
	if err != nil {
		t.Fatal(err)
	}
	s := startStackWith(t, stackOptions{world: world})
	id := spec.ID
	s.discover(t)
	if tn := s.tenant(t, id); tn.Consent.State != domain.ConsentConsented {
		t.Fatalf("consent %+v after discovery, want consented", tn.Consent)
	}

	// The scenario cannot switch its faults off and on, so a previous good sync is seeded through
	// the store instead: one user row, and the tenant's last success with its counts.
	ctx := t.Context()
	prev := domain.User{ID: "00000000-0000-4000-8000-000000000001", UserPrincipalName: "kept@contosodental.com", DisplayName: "Kept From Last Sync", AccountEnabled: true}
	w := s.store.Collection(store.TableUsers, id)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(ctx, prev.ID, prev); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(ctx, false); err != nil {
		t.Fatal(err)
	}
	lastGood := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	if err := s.store.SetTenantSyncResult(ctx, id, store.TenantSyncResult{State: domain.SyncSucceeded, RunID: "previous-good-run", SucceededAt: lastGood,
		Counts: map[string]int{"users": 1}}); err != nil {
		t.Fatal(err)
	}

	s.fanout(t)
	q := s.waitIdle(t)
	if q.Sent != 1 || q.DeadLettered != 1 || q.Completed != 0 {
		t.Errorf("queue %+v: want the one message dead-lettered, none completed", q)
	}
	var dl struct {
		Value []struct {
			MessageID        string `json:"messageId"`
			DeliveryCount    int    `json:"deliveryCount"`
			DeadLetterReason string `json:"deadLetterReason"`
		} `json:"value"`
	}
	s.getJSON(t, "/admin/queues/tenant-sync/deadletter", &dl)
	if len(dl.Value) != 1 || dl.Value[0].DeliveryCount != 3 || dl.Value[0].DeadLetterReason != "MaxDeliveryCountExceeded" ||
		!strings.HasPrefix(dl.Value[0].MessageID, id+":") {
		t.Fatalf("dead letters %+v: want the tenant's message after 3 deliveries with MaxDeliveryCountExceeded", dl.Value)
	}
	if c := s.sim.Metrics.Total("graph", id); c.Errors == 0 {
		t.Errorf("the simulator served no errors for the tenant: %+v", c)
	}

	tn := s.tenant(t, id)
	if tn.Sync.State != domain.SyncFailed || tn.Sync.Error == nil {
		t.Fatalf("tenant sync %+v, want failed with an error", tn.Sync)
	}
	if e := tn.Sync.Error; (e.Code != "serviceNotAvailable" && e.Code != "ServiceUnavailable") || e.Message == "" || e.Remediation == "" {
		t.Errorf("sync error %+v, want a 503 code (serviceNotAvailable) with message and remediation", *e)
	}
	runs := s.runs(t, id)
	if len(runs) != 1 || runs[0].State != domain.SyncFailed || runs[0].DeliveryCount != 3 || runs[0].Error == nil || runs[0].Error.Code != tn.Sync.Error.Code ||
		tn.Sync.LastRunID != runs[0].RunID {
		t.Errorf("runs %+v: want one failed run, rewritten by each of the 3 deliveries, with the tenant's error", runs)
	}
	// The previous good data stays visible.
	if !tn.Sync.LastSuccessAt.Equal(lastGood) || tn.Counts.Users != 1 {
		t.Errorf("tenant lastSuccessAt %v counts %+v, want the previous %v and users 1", tn.Sync.LastSuccessAt, tn.Counts, lastGood)
	}
	users := decodeAll[apiUser](t, s.pageAll(t, "/api/tenants/"+id+"/users"))
	if len(users) != 1 || users[0].ID != prev.ID || users[0].DisplayName != prev.DisplayName {
		t.Errorf("users after the failed runs %+v, want the previously synced row", users)
	}
}

// ---- 5. the read API's shapes and errors ----

func requireKeys(t *testing.T, where string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", where, k, m)
		}
	}
}

func obj(t *testing.T, where string, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s is %T, want an object", where, v)
		return map[string]any{}
	}
	return m
}

func wantAPIError(t *testing.T, s *stack, method, path, body string, status int) {
	t.Helper()
	got, b := s.do(t, method, path, body)
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if got != status || json.Unmarshal(b, &e) != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s %s: %d %s, want %d {\"error\":{\"code\",\"message\"}}", method, path, got, b, status)
	}
}

func TestReadAPIShapesAndErrors(t *testing.T) {
	s := startStack(t)
	contoso, litware := scenario.DemoContosoDental, scenario.DemoLitware
	s.discover(t)
	// Exclusion: Litware (consented) is excluded before the first fan-out, so no message for it
	// exists in this schedule slot and including it again later must queue it.
	status, b := s.do(t, "PATCH", "/api/tenants/"+litware, `{"excluded":true}`)
	var patched domain.Tenant
	if status != http.StatusOK || json.Unmarshal(b, &patched) != nil || !patched.Excluded || patched.Consent.State != domain.ConsentConsented {
		t.Fatalf("PATCH excluded=true: %d %s", status, b)
	}
	s.fanout(t)
	if q := s.waitIdle(t); q.Sent != 7 || q.Completed != 7 || q.DeadLettered != 0 {
		t.Fatalf("queue %+v: want the 7 consented tenants other than Litware synced", q)
	}
	if runs, tn := s.runs(t, litware), s.tenant(t, litware); len(runs) != 0 || tn.Sync.State != domain.SyncNever || !tn.Excluded {
		t.Errorf("excluded Litware was queued by the fan-out: sync %+v runs %+v", tn.Sync, runs)
	}

	// Shapes: every field the README's API section lists, on every item (optional ones where they apply).
	var list struct {
		Value []map[string]any `json:"value"`
	}
	s.getJSON(t, "/api/tenants", &list)
	if len(list.Value) != s.sim.World.TenantCount() {
		t.Errorf("GET /api/tenants: %d items, want %d", len(list.Value), s.sim.World.TenantCount())
	}
	for _, it := range list.Value {
		name, _ := it["displayName"].(string)
		requireKeys(t, name, it, "tenantId", "displayName", "defaultDomain", "sources", "relationship", "consent", "sync", "counts", "excluded")
		rel := obj(t, name+".relationship", it["relationship"])
		requireKeys(t, name+".relationship", rel, "autoExtend", "roles")
		if src, _ := it["sources"].([]any); slices.Contains(src, any("gdap")) {
			requireKeys(t, name+".relationship", rel, "status", "endDateTime")
		}
		consent := obj(t, name+".consent", it["consent"])
		requireKeys(t, name+".consent", consent, "state", "updatedAt")
		switch consent["state"] {
		case domain.ConsentConsented:
			requireKeys(t, name+".consent", consent, "method")
		case domain.ConsentFailed:
			requireKeys(t, name+".consent", consent, "error")
		}
		sy := obj(t, name+".sync", it["sync"])
		requireKeys(t, name+".sync", sy, "state")
		switch sy["state"] {
		case domain.SyncSucceeded, domain.SyncPartial:
			requireKeys(t, name+".sync", sy, "lastRunId", "lastSuccessAt")
		case domain.SyncFailed:
			requireKeys(t, name+".sync", sy, "lastRunId", "error")
			requireKeys(t, name+".sync.error", obj(t, name+".sync.error", sy["error"]), "code", "message", "remediation")
		}
		requireKeys(t, name+".counts", obj(t, name+".counts", it["counts"]), "users", "licensedUsers", "groups", "devices", "mailboxes", "skus")
	}

	// Errors.
	if status, _ := s.call("GET", "/api/tenants", "", false); status != http.StatusUnauthorized {
		t.Errorf("GET /api/tenants without the function key: %d, want 401", status)
	}
	if status, _ := s.call("GET", "/api/tenants/"+contoso+"/users", "", false); status != http.StatusUnauthorized {
		t.Errorf("GET users without the function key: %d, want 401", status)
	}
	wantAPIError(t, s, "GET", "/api/tenants/not-a-tenant", "", http.StatusBadRequest)
	wantAPIError(t, s, "GET", "/api/tenants/not-a-tenant/users", "", http.StatusBadRequest)
	wantAPIError(t, s, "GET", "/api/tenants/00000000-0000-4000-8000-00000000abcd", "", http.StatusNotFound)
	wantAPIError(t, s, "GET", "/api/tenants/"+contoso+"/widgets", "", http.StatusNotFound)
	wantAPIError(t, s, "GET", "/api/tenants/"+contoso+"/users?$top=0", "", http.StatusBadRequest)
	wantAPIError(t, s, "GET", "/api/tenants/"+contoso+"/users?$top=1000", "", http.StatusBadRequest)
	wantAPIError(t, s, "GET", "/api/tenants/"+contoso+"/users?$top=ten", "", http.StatusBadRequest)
	wantAPIError(t, s, "POST", "/api/tenants/"+scenario.DemoWoodgroveBank+"/sync", "", http.StatusConflict)
	wantAPIError(t, s, "POST", "/api/tenants/00000000-0000-4000-8000-00000000abcd/sync", "", http.StatusNotFound)
	wantAPIError(t, s, "PATCH", "/api/tenants/"+contoso, `{"excluded":"yes"}`, http.StatusBadRequest)

	// Paging: a real $skiptoken works; altered or moved to another collection it is refused.
	var page struct {
		Value []json.RawMessage `json:"value"`
		Next  string            `json:"@odata.nextLink"`
	}
	s.getJSON(t, "/api/tenants/"+contoso+"/users?$top=5", &page)
	if len(page.Value) != 5 || page.Next == "" {
		t.Fatalf("first users page: %d items, nextLink %q", len(page.Value), page.Next)
	}
	next, err := url.Parse(page.Next)
	if err != nil {
		t.Fatal(err)
	}
	token := next.Query().Get("$skiptoken")
	if token == "" {
		t.Fatalf("nextLink %q has no $skiptoken", page.Next)
	}
	var page2 struct {
		Value []apiUser `json:"value"`
	}
	s.getJSON(t, next.RequestURI(), &page2)
	if len(page2.Value) != 5 {
		t.Errorf("second users page: %d items, want 5", len(page2.Value))
	}
	payload, sum, _ := strings.Cut(token, ".")
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for _, bad := range []string{
		flip(payload, len(payload)/2) + "." + sum,
		payload + "." + flip(sum, 0),
		payload,
		"garbage",
	} {
		wantAPIError(t, s, "GET", "/api/tenants/"+contoso+"/users?$top=5&$skiptoken="+url.QueryEscape(bad), "", http.StatusBadRequest)
	}
	wantAPIError(t, s, "GET", "/api/tenants/"+contoso+"/groups?$top=5&$skiptoken="+url.QueryEscape(token), "", http.StatusBadRequest)
	wantAPIError(t, s, "GET", "/api/tenants/"+litware+"/users?$top=5&$skiptoken="+url.QueryEscape(token), "", http.StatusBadRequest)

	// Rediscovery keeps the exclusion; a fan-out still skips it; including it again queues it.
	s.discover(t)
	if !s.tenant(t, litware).Excluded {
		t.Errorf("rediscovery cleared the exclusion")
	}
	s.fanout(t)
	s.waitIdle(t)
	if runs := s.runs(t, litware); len(runs) != 0 {
		t.Errorf("excluded Litware synced after rediscovery: runs %+v", runs)
	}
	if status, b := s.do(t, "PATCH", "/api/tenants/"+litware, `{"excluded":false}`); status != http.StatusOK {
		t.Fatalf("PATCH excluded=false: %d %s", status, b)
	}
	s.fanout(t)
	s.waitIdle(t)
	if runs := s.runs(t, litware); len(runs) != 1 || runs[0].Reason != "scheduled" || runs[0].State != domain.SyncSucceeded {
		t.Errorf("after including Litware again: runs %+v, want one succeeded scheduled run", runs)
	}

	// Sync now: 202 with a run id that is then a succeeded run.
	runID := s.syncNow(t, contoso)
	s.waitIdle(t)
	run, n := findRun(s.runs(t, contoso), runID)
	if n != 1 || run.State != domain.SyncSucceeded || run.Reason != "manual" {
		t.Errorf("run %s: %+v (found %d), want one succeeded manual run", runID, run, n)
	}
	if tn := s.tenant(t, contoso); tn.Sync.LastRunID != runID || tn.Sync.State != domain.SyncSucceeded {
		t.Errorf("tenant sync %+v, want lastRunId %s succeeded", tn.Sync, runID)
	}
}
