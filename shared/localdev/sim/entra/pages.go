package entra

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The simulator's pages are plain HTML forms: a person (or a demo script) can click through
// them, tests use the sim_* query parameters instead.

var layout = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} - Microsoft Entra (simulated)</title>
<style>
body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}
main{max-width:460px;margin:48px auto;background:#fff;padding:32px 40px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600;margin:0 0 16px}
label{display:block;margin:12px 0 4px}
select,input[type=text]{width:100%;padding:6px;font-size:15px;box-sizing:border-box}
button{margin:20px 8px 0 0;padding:6px 20px;font-size:15px}
button.primary{background:#0067b8;color:#fff;border:0}
.small{color:#666;font-size:13px}
ul{padding-left:20px}
</style></head>
<body><main><div class="small">Microsoft (simulated)</div><h1>{{.Title}}</h1>{{.Body}}</main></body></html>`))

func page(w http.ResponseWriter, status int, title string, body template.HTML) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = layout.Execute(w, struct {
		Title string
		Body  template.HTML
	}{title, body})
}

func render(t *template.Template, data any) template.HTML {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return template.HTML(template.HTMLEscapeString(err.Error()))
	}
	return template.HTML(b.String())
}

// errorPageFor shows an error Entra cannot send back to the client (no valid redirect URI).
func errorPageFor(w http.ResponseWriter, ids reqIDs, e *aadError) {
	body := render(errorTmpl, struct {
		Desc string
		Err  string
	}{e.description(ids), e.Err})
	page(w, e.Status, "Sorry, but we're having trouble signing you in.", body)
}

var errorTmpl = template.Must(template.New("err").Parse(`<p>{{.Err}}</p><pre style="white-space:pre-wrap">{{.Desc}}</pre>`))

// respond returns parameters to the client's redirect URI in the response mode it asked for.
func respond(w http.ResponseWriter, redirectURI, mode string, v url.Values) {
	switch mode {
	case "form_post":
		body := render(formPostTmpl, struct {
			Action string
			Values url.Values
		}{redirectURI, v})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(body))
	case "fragment":
		u := redirectURI
		if i := strings.IndexByte(u, '#'); i >= 0 {
			u = u[:i]
		}
		w.Header().Set("Location", u+"#"+v.Encode())
		w.WriteHeader(http.StatusFound)
	default:
		u, err := url.Parse(redirectURI)
		if err != nil {
			http.Error(w, "bad redirect URI", http.StatusBadRequest)
			return
		}
		q := u.Query()
		for k, vs := range v {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
		w.Header().Set("Location", u.String())
		w.WriteHeader(http.StatusFound)
	}
}

var formPostTmpl = template.Must(template.New("fp").Parse(`<!doctype html><html><head><title>Working...</title></head>
<body onload="document.forms[0].submit()"><form method="POST" action="{{.Action}}">
{{range $k, $vs := .Values}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
<noscript><button type="submit">Continue</button></noscript></form></body></html>`))

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
