// Package routefold matches request paths to route patterns the way the Functions host does:
// literal segments case-insensitively (ASP.NET Core's RoutePatternMatcher compares them with
// StringComparison.OrdinalIgnoreCase, dotnet/aspnetcore src/Http/Routing/src/Patterns/
// RoutePatternMatcher.cs TryMatchLiterals; the host builds its function routes as ASP.NET Core
// Routes in Azure/azure-webjobs-sdk-extensions src/WebJobs.Extensions.Http/Routing/
// WebJobsRouteBuilder.cs), parameter values as sent. The host forwards the path as the caller
// wrote it, so /api/Tenants reaches the handler as /api/Tenants; Fold rewrites it to the pattern's
// spelling so a case-sensitive router (Go's ServeMux) finds the same function the host did.
package routefold

import (
	"net/url"
	"strings"
)

// Folder knows a set of route patterns.
type Folder struct{ routes []route }

type route struct {
	method   string
	segments []string // "" marks a {parameter}
	literals int
}

// New takes ServeMux-style patterns: "METHOD /literal/{param}/...". Patterns without a method
// match every method.
func New(patterns ...string) *Folder {
	f := &Folder{}
	for _, p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			method, path = "", p
		}
		rt := route{method: method}
		for _, s := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				rt.segments = append(rt.segments, "")
				continue
			}
			rt.segments = append(rt.segments, s)
			rt.literals++
		}
		f.routes = append(f.routes, rt)
	}
	return f
}

// Fold returns escapedPath (a URL's EscapedPath) with each literal segment spelled as the best
// matching pattern spells it, and whether it changed. The best pattern is one for the request's
// method with the most literal segments; failing that, one for any method (so the router can
// still say which methods exist). A path no pattern matches is returned unchanged.
func (f *Folder) Fold(method, escapedPath string) (string, bool) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	var best *route
	bestScore := -1
	for i := range f.routes {
		rt := &f.routes[i]
		if !rt.matches(segs) {
			continue
		}
		score := rt.literals
		if rt.method == "" || rt.method == method {
			score += 1000
		}
		if score > bestScore {
			best, bestScore = rt, score
		}
	}
	if best == nil {
		return escapedPath, false
	}
	out := make([]string, len(segs))
	changed := false
	for i, s := range segs {
		out[i] = s
		if lit := best.segments[i]; lit != "" && s != lit {
			out[i], changed = lit, true
		}
	}
	return "/" + strings.Join(out, "/"), changed
}

func (rt *route) matches(segs []string) bool {
	if len(segs) != len(rt.segments) {
		return false
	}
	for i, lit := range rt.segments {
		if segs[i] == "" {
			return false // an empty segment matches nothing, as in ASP.NET Core
		}
		if lit == "" {
			continue
		}
		v, err := url.PathUnescape(segs[i])
		if err != nil || !strings.EqualFold(v, lit) {
			return false
		}
	}
	return true
}
