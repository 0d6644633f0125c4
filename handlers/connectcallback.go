package handlers

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// connectCallback serves GET /api/connect/callback (anonymous: it relies on the signed state).
// It answers a plain HTML page: 200 naming the connected account, 400 with the reason, 500
// without internals. Everything shown is escaped; no token ever reaches it.
func (d Deps) connectCallback(w http.ResponseWriter, r *http.Request) {
	rec, err := d.Partner.Callback(r.Context(), r.URL.Query())
	var pe *domain.Problem
	switch {
	case err == nil:
		writePage(w, http.StatusOK, resultPage{Title: "Partner account connected", OK: true,
			Message: "tenantsync is now connected to Partner Center as " + rec.ConnectedBy + ".",
			Detail:  "The refresh token is kept in Key Vault and renewed every week. You can close this window."})
	case errors.As(err, &pe):
		writePage(w, http.StatusBadRequest, resultPage{Title: "The partner account was not connected",
			Message: pe.Message, Remediation: pe.Remediation, Code: pe.Code})
	default:
		d.Log.Error("partner connect callback failed", "error", err.Error())
		writePage(w, http.StatusInternalServerError, resultPage{Title: "The partner account was not connected",
			Message:     "tenantsync could not complete the connection because of an internal error.",
			Remediation: "Try again from /api/connect; if it persists, an administrator can find the cause in the function logs."})
	}
}

type resultPage struct {
	Title, Message, Detail, Remediation, Code string
	OK                                        bool
}

var resultTmpl = template.Must(template.New("result").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tenantsync: {{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.5}h1{font-size:1.4rem;color:{{if .OK}}#107c10{{else}}#a4262c{{end}}}.code{color:#605e5c;font-size:.85rem}</style>
</head><body>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Detail}}<p>{{.Detail}}</p>{{end}}
{{if .Remediation}}<p><strong>What to do:</strong> {{.Remediation}}</p>{{end}}
{{if .Code}}<p class="code">Reason code: {{.Code}}</p>{{end}}
</body></html>
`))

// writePage answers an HTML result page. The page loads nothing, so the callback URL (which held
// the authorization code) cannot leak through a Referer; it is never cached.
func writePage(w http.ResponseWriter, status int, p resultPage) {
	var b bytes.Buffer
	if err := resultTmpl.Execute(&b, p); err != nil {
		b.Reset()
		b.WriteString("<!doctype html><title>tenantsync</title><p>The page could not be rendered.</p>")
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
