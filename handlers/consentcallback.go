package handlers

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/consent"
)

// consentCallback serves GET /api/consent/callback (anonymous: it relies on the signed state).
// The customer's admin lands here; the page says what happened in plain words.
func (d Deps) consentCallback(w http.ResponseWriter, r *http.Request) {
	out, err := d.Consent.Callback(r.Context(), r.URL.Query())
	status := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, consent.ErrUnavailable):
		status = http.StatusServiceUnavailable
	default:
		status = http.StatusBadRequest
	}
	if err != nil {
		// The error names the failed check; the query (the state) is not logged.
		d.Log.Warn("consent callback", "tenantId", out.TenantID, "status", status, "error", err.Error())
	}
	writeConsentPage(w, status, out)
}

var consentPage = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font-family:Segoe UI,Arial,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#222}
h1{font-size:1.4rem}.ok{color:#107c10}.fail{color:#a4262c}</style></head>
<body><h1 class="{{if .OK}}ok{{else}}fail{{end}}">{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Granted}}<p>It holds exactly these Microsoft Graph permissions in your tenant, all read-only:</p>
<ul>{{range .Granted}}<li><b>{{.Value}}</b>: {{.Why}}</li>{{end}}</ul>{{end}}</body></html>
`))

func writeConsentPage(w http.ResponseWriter, status int, out consent.Outcome) {
	title := "Approval not completed"
	if out.OK {
		title = "Approval received"
	}
	msg := out.Message
	if msg == "" {
		msg = "Something went wrong. Please open the link from your e-mail again."
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = consentPage.Execute(w, struct {
		Title, Message string
		OK             bool
		Granted        []appperms.Permission
	}{title, msg, out.OK, out.Granted})
}
