package graph

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A small OData $filter engine for the clauses directory clients use: eq/ne/lt/le/gt/ge, in,
// startswith/endswith, and/or/not, parentheses, and lambda any over string collections
// (groupTypes/any(c:c eq 'Unified')) or object collections
// (assignedLicenses/any(x:x/skuId eq 6fd2c87f-...)).

// filterExpr is a compiled filter; nil matches everything.
type filterExpr interface {
	eval(get getter) bool
}

// getter resolves a property path (lower-case, "/"-separated) of the object being tested.
type getter func(path string) any

type fAnd struct{ a, b filterExpr }
type fOr struct{ a, b filterExpr }
type fNot struct{ a filterExpr }
type fCmp struct {
	path string
	op   string
	lit  literal
}
type fIn struct {
	path string
	lits []literal
}
type fFunc struct {
	name string
	path string
	arg  string
}
type fAny struct {
	coll string
	v    string
	body filterExpr
}

func (f fAnd) eval(g getter) bool { return f.a.eval(g) && f.b.eval(g) }
func (f fOr) eval(g getter) bool  { return f.a.eval(g) || f.b.eval(g) }
func (f fNot) eval(g getter) bool { return !f.a.eval(g) }

func (f fCmp) eval(g getter) bool { return compare(g(f.path), f.op, f.lit) }

func (f fIn) eval(g getter) bool {
	v := g(f.path)
	for _, l := range f.lits {
		if compare(v, "eq", l) {
			return true
		}
	}
	return false
}

func (f fFunc) eval(g getter) bool {
	s, _ := g(f.path).(string)
	s, a := strings.ToLower(s), strings.ToLower(f.arg)
	switch f.name {
	case "startswith":
		return strings.HasPrefix(s, a)
	case "endswith":
		return strings.HasSuffix(s, a)
	}
	return false
}

func (f fAny) eval(g getter) bool {
	switch coll := g(f.coll).(type) {
	case []string:
		for _, e := range coll {
			e := e
			if f.body.eval(func(p string) any {
				if p == f.v {
					return e
				}
				return nil
			}) {
				return true
			}
		}
	case []map[string]any:
		for _, m := range coll {
			m := m
			if f.body.eval(func(p string) any {
				if rest, ok := strings.CutPrefix(p, f.v+"/"); ok {
					return m[rest]
				}
				return nil
			}) {
				return true
			}
		}
	}
	return false
}

// literal is a parsed constant.
type literal struct {
	kind string // string, bool, number, null, time, guid
	s    string
	b    bool
	n    float64
	t    time.Time
}

func compare(v any, op string, l literal) bool {
	if l.kind == "null" {
		isNull := v == nil || v == "" || (func() bool { t, ok := v.(time.Time); return ok && t.IsZero() })()
		return (op == "eq") == isNull
	}
	c, ok := 0, false
	switch v := v.(type) {
	case string:
		if l.kind == "string" || l.kind == "guid" {
			c, ok = strings.Compare(strings.ToLower(v), strings.ToLower(l.s)), true
		}
	case bool:
		if l.kind == "bool" && (op == "eq" || op == "ne") {
			if v == l.b {
				c = 0
			} else {
				c = 1
			}
			ok = true
		}
	case int:
		if l.kind == "number" {
			c, ok = cmpFloat(float64(v), l.n), true
		}
	case int64:
		if l.kind == "number" {
			c, ok = cmpFloat(float64(v), l.n), true
		}
	case time.Time:
		if l.kind == "time" {
			if v.IsZero() {
				return op == "ne"
			}
			c, ok = v.Compare(l.t), true
		}
	case nil:
		return op == "ne"
	}
	if !ok {
		return false
	}
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ---- parsing ----

type ftok struct {
	kind string // word, str, punct
	s    string
}

func lexFilter(s string) ([]ftok, bool) {
	var out []ftok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',' || c == ':':
			out = append(out, ftok{"punct", string(c)})
			i++
		case c == '\'':
			var sb strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						sb.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				sb.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, false
			}
			out = append(out, ftok{"str", sb.String()})
		default:
			j := i
			digit := c >= '0' && c <= '9'
			for j < len(s) {
				d := s[j]
				if d == ' ' || d == '\t' || d == '(' || d == ')' || d == ',' || d == '\'' || (d == ':' && !digit) {
					break
				}
				j++
			}
			if j == i {
				return nil, false
			}
			out = append(out, ftok{"word", s[i:j]})
			i = j
		}
	}
	return out, true
}

// filterSpec says which property paths an entity can be filtered on (lower-case).
type filterSpec struct {
	resource string          // for messages: User, Group, ...
	props    map[string]bool // comparable paths
	colls    map[string]bool // collections usable with any
}

type fparser struct {
	toks []ftok
	pos  int
	spec filterSpec
	vars map[string]bool
	err  *gerr
}

// parseFilter compiles $filter for spec; empty gives nil (match all).
func parseFilter(s string, spec filterSpec) (filterExpr, *gerr) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, ok := lexFilter(s)
	if !ok {
		return nil, errBadRequest("Invalid filter clause")
	}
	p := &fparser{toks: toks, spec: spec, vars: map[string]bool{}}
	e := p.or()
	if p.err == nil && p.pos != len(p.toks) {
		p.fail("Syntax error at position %d in '%s'.", p.pos, s)
	}
	if p.err != nil {
		return nil, p.err
	}
	return e, nil
}

func (p *fparser) fail(format string, a ...any) {
	if p.err == nil {
		p.err = errBadRequest(format, a...)
	}
}

func (p *fparser) unsupported(path string) {
	if p.err == nil {
		p.err = errf(http.StatusBadRequest, "Request_UnsupportedQuery",
			"Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", path, p.spec.resource)
	}
}

func (p *fparser) peek() ftok {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ftok{}
}

func (p *fparser) next() ftok { t := p.peek(); p.pos++; return t }

func (p *fparser) isWord(w string) bool {
	t := p.peek()
	return t.kind == "word" && strings.EqualFold(t.s, w)
}

func (p *fparser) expect(punct string) {
	if t := p.next(); t.kind != "punct" || t.s != punct {
		p.fail("Syntax error: '%s' expected.", punct)
	}
}

func (p *fparser) or() filterExpr {
	e := p.and()
	for p.err == nil && p.isWord("or") {
		p.next()
		e = fOr{e, p.and()}
	}
	return e
}

func (p *fparser) and() filterExpr {
	e := p.unary()
	for p.err == nil && p.isWord("and") {
		p.next()
		e = fAnd{e, p.unary()}
	}
	return e
}

func (p *fparser) unary() filterExpr {
	if p.isWord("not") {
		p.next()
		return fNot{p.unary()}
	}
	return p.primary()
}

func (p *fparser) primary() filterExpr {
	t := p.next()
	if p.err != nil {
		return nil
	}
	if t.kind == "punct" && t.s == "(" {
		e := p.or()
		p.expect(")")
		return e
	}
	if t.kind != "word" {
		p.fail("Syntax error: unexpected '%s'.", t.s)
		return nil
	}
	name := strings.ToLower(t.s)
	// Functions.
	if (name == "startswith" || name == "endswith") && p.peek().s == "(" {
		p.next()
		path := p.path(p.next())
		p.expect(",")
		arg := p.next()
		if arg.kind != "str" {
			p.fail("Syntax error: string literal expected.")
		}
		p.expect(")")
		return fFunc{name: name, path: path, arg: arg.s}
	}
	// Lambda any.
	if coll, ok := strings.CutSuffix(name, "/any"); ok && p.peek().s == "(" {
		p.next()
		if p.err == nil && !p.spec.colls[coll] {
			p.unsupported(coll)
		}
		v := p.next()
		if v.kind != "word" {
			p.fail("Syntax error: range variable expected.")
			return nil
		}
		p.expect(":")
		vn := strings.ToLower(v.s)
		p.vars[vn] = true
		body := p.or()
		delete(p.vars, vn)
		p.expect(")")
		return fAny{coll: coll, v: vn, body: body}
	}
	path := p.path(t)
	op := strings.ToLower(p.next().s)
	switch op {
	case "eq", "ne", "lt", "le", "gt", "ge":
		return fCmp{path: path, op: op, lit: p.literal()}
	case "in":
		p.expect("(")
		var lits []literal
		for p.err == nil {
			lits = append(lits, p.literal())
			if p.peek().s == "," {
				p.next()
				continue
			}
			break
		}
		p.expect(")")
		return fIn{path: path, lits: lits}
	}
	p.fail("Syntax error: comparison operator expected after '%s'.", t.s)
	return nil
}

// path validates a property path (or a lambda variable path).
func (p *fparser) path(t ftok) string {
	if t.kind != "word" {
		p.fail("Syntax error: property expected.")
		return ""
	}
	s := strings.ToLower(t.s)
	root, _, _ := strings.Cut(s, "/")
	if p.vars[root] {
		return s
	}
	if !p.spec.props[s] {
		p.unsupported(t.s)
	}
	return s
}

func (p *fparser) literal() literal {
	t := p.next()
	switch t.kind {
	case "str":
		return literal{kind: "string", s: t.s}
	case "word":
		w := strings.ToLower(t.s)
		switch w {
		case "true", "false":
			return literal{kind: "bool", b: w == "true"}
		case "null":
			return literal{kind: "null"}
		}
		if tm, err := time.Parse(time.RFC3339, t.s); err == nil {
			return literal{kind: "time", t: tm}
		}
		if n, err := strconv.ParseFloat(t.s, 64); err == nil {
			return literal{kind: "number", n: n}
		}
		if len(t.s) == 36 && strings.Count(t.s, "-") == 4 {
			return literal{kind: "guid", s: t.s}
		}
	}
	p.fail("Syntax error: literal expected, found '%s'.", t.s)
	return literal{}
}

// matches evaluates f (nil matches everything).
func matches(f filterExpr, g getter) bool { return f == nil || f.eval(g) }
