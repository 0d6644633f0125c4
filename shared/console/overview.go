package console

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// OverviewQuery is the overview's search, filters and sort, read from the URL so every view can
// be bookmarked and downloaded.
type OverviewQuery struct {
	Search  string // name, domain or tenant id contains
	State   string // "", ok, warn, bad, off, problems (warn or bad)
	Problem string // a problem code
	Source  string // "", gdap, csp
	Sort    string // name, status, users, mfa, lastsync, relend
	Desc    bool
}

// ParseOverviewQuery reads q, state, problem, source, sort and dir; unknown values are ignored.
func ParseOverviewQuery(v url.Values) OverviewQuery {
	q := OverviewQuery{Search: strings.TrimSpace(v.Get("q")), Problem: v.Get("problem"), Sort: v.Get("sort"), Desc: v.Get("dir") == "desc"}
	switch s := v.Get("state"); s {
	case "ok", "warn", "bad", "off", "problems":
		q.State = s
	}
	switch s := v.Get("source"); s {
	case "gdap", "csp":
		q.Source = s
	}
	if _, ok := sorters[q.Sort]; !ok {
		q.Sort = "status"
	}
	if len(q.Search) > 200 {
		q.Search = q.Search[:200]
	}
	return q
}

// Values is the query as URL parameters (for links and the CSV download).
func (q OverviewQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", q.Search)
	set("state", q.State)
	set("problem", q.Problem)
	set("source", q.Source)
	if q.Sort != "status" {
		v.Set("sort", q.Sort)
	}
	if q.Desc {
		v.Set("dir", "desc")
	}
	return v
}

// OverviewRow is one tenant on the overview.
type OverviewRow struct {
	T       domain.Tenant
	Consent domain.Consent // effective
	Status  Status
	Problem *domain.Problem
}

// Totals are the counts at the top of the overview (over every tenant, not just the filtered).
type Totals struct {
	Tenants, OK, Warn, Bad, Off int
	Users, LicensedUsers        int
	Devices, Mailboxes          int
	MFAPercent                  string
}

// Overview is the overview page's model.
type Overview struct {
	Query    OverviewQuery
	Rows     []OverviewRow
	Totals   Totals
	Problems []string // problem codes present, for the filter
	Now      time.Time
}

var statusRank = map[string]int{"bad": 0, "warn": 1, "ok": 2, "off": 3}

var sorters = map[string]func(a, b OverviewRow) int{
	"name": func(a, b OverviewRow) int {
		return cmp.Compare(strings.ToLower(a.T.DisplayName), strings.ToLower(b.T.DisplayName))
	},
	"status": func(a, b OverviewRow) int { return cmp.Compare(statusRank[a.Status.Key], statusRank[b.Status.Key]) },
	"users":  func(a, b OverviewRow) int { return cmp.Compare(a.T.Counts.Users, b.T.Counts.Users) },
	"mfa": func(a, b OverviewRow) int {
		return cmp.Compare(pct(a.T.MFARegisteredPercent), pct(b.T.MFARegisteredPercent))
	},
	"lastsync": func(a, b OverviewRow) int { return a.T.Sync.LastSuccessAt.Compare(b.T.Sync.LastSuccessAt) },
	"relend":   func(a, b OverviewRow) int { return a.T.Relationship.EndDateTime.Compare(b.T.Relationship.EndDateTime) },
}

func pct(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// BuildOverview assesses every tenant, counts totals, and filters and sorts the rows.
func BuildOverview(tenants []domain.Tenant, q OverviewQuery, now time.Time) Overview {
	o := Overview{Query: q, Now: now}
	codes := map[string]bool{}
	var mfaSum float64
	mfaN := 0
	needle := strings.ToLower(q.Search)
	for _, t := range tenants {
		st, p := Assess(t, now)
		row := OverviewRow{T: t, Consent: t.Consent.Effective(now), Status: st, Problem: p}
		o.Totals.Tenants++
		switch st.Key {
		case "ok":
			o.Totals.OK++
		case "warn":
			o.Totals.Warn++
		case "bad":
			o.Totals.Bad++
		case "off":
			o.Totals.Off++
		}
		o.Totals.Users += t.Counts.Users
		o.Totals.LicensedUsers += t.Counts.LicensedUsers
		o.Totals.Devices += t.Counts.Devices
		o.Totals.Mailboxes += t.Counts.Mailboxes
		if t.MFARegisteredPercent != nil {
			mfaSum += *t.MFARegisteredPercent * float64(t.Counts.Users)
			mfaN += t.Counts.Users
		}
		if p != nil {
			codes[p.Code] = true
		}
		if !q.matches(row, needle) {
			continue
		}
		o.Rows = append(o.Rows, row)
	}
	if mfaN > 0 {
		o.Totals.MFAPercent = fmt.Sprintf("%.0f%%", mfaSum/float64(mfaN))
	}
	for c := range codes {
		o.Problems = append(o.Problems, c)
	}
	sort.Strings(o.Problems)
	less := sorters[q.Sort]
	slices.SortStableFunc(o.Rows, func(a, b OverviewRow) int {
		c := less(a, b)
		if q.Desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(strings.ToLower(a.T.DisplayName), strings.ToLower(b.T.DisplayName))
		}
		return c
	})
	return o
}

func (q OverviewQuery) matches(r OverviewRow, needle string) bool {
	switch q.State {
	case "":
	case "problems":
		if r.Status.Key != "warn" && r.Status.Key != "bad" {
			return false
		}
	default:
		if r.Status.Key != q.State {
			return false
		}
	}
	if q.Problem != "" && (r.Problem == nil || r.Problem.Code != q.Problem) {
		return false
	}
	if q.Source != "" && !slices.Contains(r.T.Sources, q.Source) {
		return false
	}
	if needle != "" && !strings.Contains(strings.ToLower(r.T.DisplayName+" "+r.T.DefaultDomain+" "+r.T.TenantID), needle) {
		return false
	}
	return true
}

// ConsentText is the consent state and method in words.
func ConsentText(c domain.Consent) string {
	if c.Method != "" && c.State == domain.ConsentConsented {
		return c.State + " (" + c.Method + ")"
	}
	if c.State == "" {
		return "unknown"
	}
	return c.State
}

// PercentText formats an MFA percentage; "" when unknown.
func PercentText(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 0, 64) + "%"
}

// RelationshipText is the GDAP relationship's status, end and auto-extend in words.
func RelationshipText(r domain.Relationship) string {
	if r.Status == "" {
		return "none"
	}
	s := r.Status
	if !r.EndDateTime.IsZero() {
		s += ", ends " + ShortDate(r.EndDateTime)
	}
	if r.AutoExtend {
		s += ", auto-extends"
	}
	return s
}

// Table is the overview as a table (HTML and CSV share it).
func (o Overview) Table() Table {
	t := Table{Name: "tenants", Caption: "Tenants", Empty: "No tenant matches these filters.",
		Columns: []Column{
			{Label: "Tenant", SortKey: "name"}, {Label: "Status", SortKey: "status"}, {Label: "Consent"},
			{Label: "Sources"}, {Label: "GDAP relationship", SortKey: "relend"}, {Label: "Last sync", SortKey: "lastsync"},
			{Label: "Users", Numeric: true, SortKey: "users"}, {Label: "Licensed", Numeric: true}, {Label: "Groups", Numeric: true},
			{Label: "Devices", Numeric: true}, {Label: "Mailboxes", Numeric: true}, {Label: "MFA", Numeric: true, SortKey: "mfa"},
			{Label: "Problem"}, {Label: "Fix"},
		}}
	for _, r := range o.Rows {
		name := r.T.DisplayName
		if name == "" {
			name = r.T.TenantID
		}
		prob, fix := "", ""
		if r.Problem != nil {
			prob, fix = r.Problem.Message, r.Problem.Remediation
		}
		last := ShortTime(r.T.Sync.LastSuccessAt)
		if r.T.Sync.State != "" && r.T.Sync.State != domain.SyncSucceeded {
			last = strings.TrimSpace(r.T.Sync.State + " " + last)
		}
		c := r.T.Counts
		t.Rows = append(t.Rows, []Cell{
			{Text: name, Href: "/tenants/" + r.T.TenantID}, {Text: r.Status.Label, Status: r.Status.Key}, text(ConsentText(r.Consent)),
			text(strings.Join(r.T.Sources, ", ")), text(RelationshipText(r.T.Relationship)), text(last),
			text(strconv.Itoa(c.Users)), text(strconv.Itoa(c.LicensedUsers)), text(strconv.Itoa(c.Groups)),
			text(strconv.Itoa(c.Devices)), text(strconv.Itoa(c.Mailboxes)), text(PercentText(r.T.MFARegisteredPercent)),
			text(prob), text(fix),
		})
	}
	return t
}
