package funchost

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// routeTemplate is an ASP.NET Core route template as Functions HTTP triggers use them:
// literal segments, {name}, {name?}, {name:constraint}, {*catchAll}. Literals match
// case-insensitively, as in ASP.NET.
type routeTemplate struct {
	text     string
	segments []routeSegment
}

type routeSegment struct {
	literal     string
	param       string
	optional    bool
	catchAll    bool
	constraints []constraint
}

type constraint struct {
	name string
	test func(string) bool
}

func parseRoute(text string) (*routeTemplate, error) {
	t := &routeTemplate{text: text}
	if text == "" {
		return t, nil
	}
	parts := strings.Split(text, "/")
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("empty segment")
		}
		if !strings.HasPrefix(p, "{") {
			if strings.ContainsAny(p, "{}") {
				return nil, fmt.Errorf("segment %q mixes literal text and parameters, which the local host does not support", p)
			}
			t.segments = append(t.segments, routeSegment{literal: p})
			continue
		}
		if !strings.HasSuffix(p, "}") {
			return nil, fmt.Errorf("segment %q is not closed", p)
		}
		body := p[1 : len(p)-1]
		seg := routeSegment{}
		if strings.HasPrefix(body, "*") {
			seg.catchAll = true
			body = strings.TrimLeft(body, "*")
		}
		if strings.HasSuffix(body, "?") {
			seg.optional = true
			body = strings.TrimSuffix(body, "?")
		}
		name, cons, _ := strings.Cut(body, ":")
		if name == "" {
			return nil, fmt.Errorf("segment %q has no parameter name", p)
		}
		seg.param = name
		if cons != "" {
			for _, c := range splitConstraints(cons) {
				k, err := parseConstraint(c)
				if err != nil {
					return nil, fmt.Errorf("parameter %s: %w", name, err)
				}
				seg.constraints = append(seg.constraints, k)
			}
		}
		if (seg.catchAll || seg.optional) && i != len(parts)-1 {
			return nil, fmt.Errorf("%q must be the last segment", p)
		}
		t.segments = append(t.segments, seg)
	}
	return t, nil
}

// splitConstraints splits "int:min(1)" on colons outside parentheses.
func splitConstraints(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ':':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

var guidRe = regexp.MustCompile(`^(\{)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(\})?$`)

func parseConstraint(c string) (constraint, error) {
	name, arg, hasArg := strings.Cut(c, "(")
	arg = strings.TrimSuffix(arg, ")")
	nums := func() ([]float64, error) {
		var out []float64
		for _, a := range strings.Split(arg, ",") {
			f, err := strconv.ParseFloat(strings.TrimSpace(a), 64)
			if err != nil {
				return nil, fmt.Errorf("constraint %q: bad argument", c)
			}
			out = append(out, f)
		}
		return out, nil
	}
	k := constraint{name: c}
	switch strings.ToLower(name) {
	case "int", "long":
		bits := 32
		if name == "long" {
			bits = 64
		}
		k.test = func(s string) bool { _, err := strconv.ParseInt(s, 10, bits); return err == nil }
	case "double", "decimal", "float":
		k.test = func(s string) bool { _, err := strconv.ParseFloat(s, 64); return err == nil }
	case "bool":
		k.test = func(s string) bool { l := strings.ToLower(s); return l == "true" || l == "false" }
	case "guid":
		k.test = guidRe.MatchString
	case "alpha":
		k.test = func(s string) bool {
			for _, r := range s {
				if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
					return false
				}
			}
			return s != ""
		}
	case "min", "max", "range", "minlength", "maxlength", "length":
		if !hasArg {
			return k, fmt.Errorf("constraint %q needs an argument", c)
		}
		n, err := nums()
		if err != nil {
			return k, err
		}
		lo, hi := math.Inf(-1), math.Inf(1)
		switch strings.ToLower(name) {
		case "min", "minlength":
			lo = n[0]
		case "max", "maxlength":
			hi = n[0]
		case "range", "length":
			lo = n[0]
			hi = n[len(n)-1]
		}
		byLength := strings.HasSuffix(strings.ToLower(name), "length")
		k.test = func(s string) bool {
			var v float64
			if byLength {
				v = float64(len([]rune(s)))
			} else {
				i, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return false
				}
				v = float64(i)
			}
			return v >= lo && v <= hi
		}
	case "regex":
		re, err := regexp.Compile(arg)
		if err != nil {
			return k, fmt.Errorf("constraint %q: %v", c, err)
		}
		k.test = re.MatchString
	default:
		return k, fmt.Errorf("constraint %q is not supported", c)
	}
	return k, nil
}

// match returns the route values for path (without leading slash), or ok=false.
func (t *routeTemplate) match(path string) (map[string]string, bool) {
	path = strings.Trim(path, "/")
	var parts []string
	if path != "" {
		parts = strings.Split(path, "/")
	}
	values := map[string]string{}
	for i, seg := range t.segments {
		if i >= len(parts) {
			if seg.optional || seg.catchAll {
				return values, true
			}
			return nil, false
		}
		if seg.catchAll {
			v := strings.Join(parts[i:], "/")
			if !seg.accepts(v) {
				return nil, false
			}
			values[seg.param] = v
			return values, true
		}
		if seg.param == "" {
			if !strings.EqualFold(seg.literal, parts[i]) {
				return nil, false
			}
			continue
		}
		if !seg.accepts(parts[i]) {
			return nil, false
		}
		values[seg.param] = parts[i]
	}
	return values, len(parts) == len(t.segments)
}

func (s routeSegment) accepts(v string) bool {
	for _, c := range s.constraints {
		if !c.test(v) {
			return false
		}
	}
	return true
}

// precedence orders templates as ASP.NET does, segment by segment: literal before constrained
// parameter before parameter before optional before catch-all. Lower sorts first.
func (t *routeTemplate) precedence() string {
	var b strings.Builder
	for _, s := range t.segments {
		switch {
		case s.param == "":
			b.WriteByte('1')
		case s.catchAll:
			b.WriteByte('5')
		case s.optional:
			b.WriteByte('4')
		case len(s.constraints) > 0:
			b.WriteByte('2')
		default:
			b.WriteByte('3')
		}
	}
	return b.String()
}
