package console

import (
	"embed"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/insights"
	"github.com/tenantsync/tenantsync/shared/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/console.css assets/console.js
var assetFS embed.FS

// ContentSecurityPolicy allows only the console's own stylesheet and script: no inline script
// or style, no other origin, no framing, forms posting only back to the console.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// SecureHeaders sets the headers every console answer carries.
func SecureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

var pages = map[string]*template.Template{}

var funcs = template.FuncMap{"status": func(key, label string) Status { return Status{Key: key, Label: label} }}

func init() {
	for _, p := range []string{"overview", "tenant", "insights", "partner"} {
		pages[p] = template.Must(template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	pages["denied"] = template.Must(template.New("denied").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
}

// Chrome is what every page's frame shows.
type Chrome struct {
	Viewer    Viewer
	CSRF      string
	Flash     string
	FlashKind string // ok, bad
}

type page struct {
	Chrome
	Title, Nav string
	SignOut    string
}

func render(w io.Writer, name string, data any) error {
	return pages[name].ExecuteTemplate(w, "layout", data)
}

type overviewPage struct {
	page
	O      Overview
	Table  Table
	CSV    string
	States []struct{ V, L string }
}

// SortURL links a column heading: the same filters, sorted by key (toggling the direction).
func (p overviewPage) SortURL(key string) string {
	q := p.O.Query
	q.Desc = q.Sort == key && !q.Desc
	q.Sort = key
	return "/?" + q.Values().Encode()
}

// RenderOverview writes the overview page.
func RenderOverview(w io.Writer, c Chrome, o Overview) error {
	v := o.Query.Values()
	v.Set("format", "csv")
	return render(w, "overview", overviewPage{page: page{Chrome: c, Title: "Tenants", Nav: "overview", SignOut: SignOutURL}, O: o, Table: o.Table(),
		CSV: "/?" + v.Encode(), States: []struct{ V, L string }{{"problems", "Problems (attention or problem)"}, {"ok", "Synced"}, {"warn", "Attention"}, {"bad", "Problem"}, {"off", "Excluded"}}})
}

type tab struct {
	Name, Label, Href string
	Current           bool
}

type tenantView struct {
	page
	P            TenantPage
	Tabs         []tab
	CSV          string
	Next, Prev   string
	Relationship string
	ConsentText  string
	SentAt       string
	ExpiresAt    string
	LastSuccess  string
	DataAge      string
	MFA          string
	ProgressText string
}

// RenderTenant writes the tenant page.
func RenderTenant(w io.Writer, c Chrome, p TenantPage) error {
	base := "/tenants/" + p.T.TenantID
	link := func(extra url.Values) string {
		v := url.Values{"tab": {p.Query.Tab}}
		if p.Query.Search != "" {
			v.Set("q", p.Query.Search)
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return base + "?" + v.Encode()
	}
	tv := tenantView{page: page{Chrome: c, Title: nonEmpty(p.T.DisplayName, p.T.TenantID), Nav: "overview", SignOut: SignOutURL}, P: p,
		CSV: link(url.Values{"format": {"csv"}}), Relationship: RelationshipText(p.T.Relationship), ConsentText: ConsentText(p.Consent),
		SentAt: ShortTime(p.Consent.SentAt), ExpiresAt: ShortTime(p.Consent.ExpiresAt), LastSuccess: ShortTime(p.T.Sync.LastSuccessAt),
		DataAge: DataAgeText(p.T.Collections), MFA: PercentText(p.T.MFARegisteredPercent), ProgressText: "Sync " + p.T.Sync.State + "…"}
	for _, t := range Tabs {
		tv.Tabs = append(tv.Tabs, tab{Name: t.Name, Label: t.Label, Href: base + "?tab=" + t.Name, Current: t.Name == p.Query.Tab})
	}
	switch {
	case p.NextSkip != "":
		tv.Next = link(url.Values{"skip": {p.NextSkip}})
	case p.NextPage > 0:
		tv.Next = link(url.Values{"page": {strconv.Itoa(p.NextPage)}})
	}
	if p.Query.Skip != "" || p.Query.Page > 1 {
		tv.Prev = link(nil)
	}
	return render(w, "tenant", tv)
}

type insightsView struct {
	page
	In         Insights
	Tables     []Table
	Thresholds []int
}

// RenderInsights writes the insights page.
func RenderInsights(w io.Writer, c Chrome, in Insights) error {
	return render(w, "insights", insightsView{page: page{Chrome: c, Title: "Insights", Nav: "insights", SignOut: SignOutURL}, In: in,
		Tables: []Table{in.Attention, in.MFA, in.Inactive, in.Licences, in.Expiring}, Thresholds: insights.InactiveThresholds})
}

// PartnerPage is the partner connection page's model.
type PartnerPage struct {
	Connection    store.PartnerConnection
	AppCredential *identity.ExpiryStatus
	Now           time.Time
}

type partnerView struct {
	page
	P                          PartnerPage
	ConnectedAt, LastRefreshAt string
	CredExpires                string
}

// RenderPartner writes the partner connection page.
func RenderPartner(w io.Writer, c Chrome, p PartnerPage) error {
	v := partnerView{page: page{Chrome: c, Title: "Partner connection", Nav: "partner", SignOut: SignOutURL}, P: p,
		ConnectedAt: ShortTime(p.Connection.ConnectedAt), LastRefreshAt: ShortTime(p.Connection.LastRefreshAt)}
	if p.AppCredential != nil {
		v.CredExpires = ShortDate(p.AppCredential.ExpiresAt)
	}
	return render(w, "partner", v)
}

// RenderDenied writes the refusal page (not signed in as an admin, CSRF failure, not found).
func RenderDenied(w io.Writer, title, message string, offerSignOut bool) error {
	v := struct {
		Title, Message, SignOut string
	}{Title: title, Message: message}
	if offerSignOut {
		v.SignOut = SignOutURL
	}
	return pages["denied"].ExecuteTemplate(w, "denied", v)
}

// Asset returns an embedded stylesheet or script by file name.
func Asset(name string) (body []byte, contentType string, ok bool) {
	b, err := assetFS.ReadFile("assets/" + path.Base(name))
	if err != nil || path.Base(name) != name {
		return nil, "", false
	}
	switch path.Ext(name) {
	case ".css":
		contentType = "text/css; charset=utf-8"
	case ".js":
		contentType = "text/javascript; charset=utf-8"
	default:
		return nil, "", false
	}
	return b, contentType, true
}
