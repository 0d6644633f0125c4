package graph

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// contentTypeJSON is what Graph sends for OData answers.
const contentTypeJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// ---- streamed JSON ----

// jw writes JSON straight to the response through a buffer, so a 999-user page never exists as
// one structure or one byte slice.
type jw struct {
	w     *bufio.Writer
	first []bool // per open object / array: no member written yet
	buf   []byte
}

func newJW(w io.Writer) *jw { return &jw{w: bufio.NewWriterSize(w, 32<<10)} }

func (j *jw) flush() error { return j.w.Flush() }

func (j *jw) sep() {
	if n := len(j.first); n > 0 {
		if j.first[n-1] {
			j.first[n-1] = false
		} else {
			j.w.WriteByte(',')
		}
	}
}

func (j *jw) open(c byte)  { j.w.WriteByte(c); j.first = append(j.first, true) }
func (j *jw) close(c byte) { j.w.WriteByte(c); j.first = j.first[:len(j.first)-1] }

// objStart begins an object as an array element or top-level value.
func (j *jw) objStart() { j.sep(); j.open('{') }
func (j *jw) objEnd()   { j.close('}') }

// key writes a member name inside an object; the value follows.
func (j *jw) key(k string) {
	j.sep()
	j.str(k)
	j.w.WriteByte(':')
}

// field writes one member.
func (j *jw) field(k string, v any) {
	j.key(k)
	j.value(v)
}

// arrStart opens an array as a member value (after key) or as an element.
func (j *jw) arrStart() { j.open('[') }
func (j *jw) arrEnd()   { j.close(']') }

// elem writes one array element.
func (j *jw) elem(v any) { j.sep(); j.value(v) }

func (j *jw) str(s string) {
	j.buf = appendJSONString(j.buf[:0], s)
	j.w.Write(j.buf)
}

// value writes v; func(*jw) values write themselves (nested objects).
func (j *jw) value(v any) {
	switch v := v.(type) {
	case nil:
		j.w.WriteString("null")
	case string:
		j.str(v)
	case bool:
		if v {
			j.w.WriteString("true")
		} else {
			j.w.WriteString("false")
		}
	case int:
		j.w.WriteString(strconv.Itoa(v))
	case int64:
		j.w.WriteString(strconv.FormatInt(v, 10))
	case time.Time:
		if v.IsZero() {
			j.w.WriteString("null")
		} else {
			j.str(graphTime(v))
		}
	case []string:
		j.arrStart()
		for _, s := range v {
			j.sep()
			j.str(s)
		}
		j.arrEnd()
	case json.RawMessage:
		j.w.Write(v)
	case obj:
		v.writeTo(j)
	case []obj:
		j.arrStart()
		for _, e := range v {
			j.sep()
			e.writeTo(j)
		}
		j.arrEnd()
	case func(*jw):
		v(j)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			j.w.WriteString("null")
			return
		}
		j.w.Write(b)
	}
}

// graphTime formats a DateTimeOffset as Graph does for directory objects.
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as JSON without HTML escaping (Graph does not escape <, >, &).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// ---- query options ----

// qget returns an OData system query option; the $ is optional in v1.0 and names are
// case-insensitive.
func qget(q url.Values, name string) (string, bool) {
	for k, v := range q {
		if strings.EqualFold(strings.TrimPrefix(k, "$"), name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

// parseTop reads $top: default def, 1..max, else Graph's page-size error.
func parseTop(q url.Values, def, max int) (int, *gerr) {
	v, ok := qget(q, "top")
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > max {
		return 0, errBadRequest("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", v, max)
	}
	return n, nil
}

// maxPageSize reads Prefer: odata.maxpagesize=N (delta queries honour it).
func maxPageSize(r *http.Request, def, max int) int {
	for _, p := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "odata.maxpagesize") {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
					return min(n, max)
				}
			}
		}
	}
	return def
}

// ---- entities and $select ----

// prop is one property of an entity type; get returns what value() can write.
type prop[T any] struct {
	name string
	def  bool // part of the default property set
	get  func(c *call, x *T) any
}

// entity describes a resource type for $select and streamed writing.
type entity[T any] struct {
	typeName string // e.g. user (for error messages)
	props    []prop[T]
}

// selection is the list of property indexes to write.
type selection []int

// parseSelect resolves $select (case-insensitive); unknown names are Graph's 400. Empty: the
// default set. id is always written.
func (e *entity[T]) parseSelect(sel string) (selection, *gerr) {
	var out selection
	seen := map[int]bool{}
	add := func(i int) {
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	for i, p := range e.props {
		if p.name == "id" {
			add(i)
		}
	}
	if strings.TrimSpace(sel) == "" {
		for i, p := range e.props {
			if p.def {
				add(i)
			}
		}
		return out, nil
	}
	for _, name := range strings.Split(sel, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		found := -1
		for i, p := range e.props {
			if strings.EqualFold(p.name, name) {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, errBadRequest("Could not find a property named '%s' on type 'microsoft.graph.%s'.", name, e.typeName)
		}
		add(found)
	}
	return out, nil
}

// has reports whether the selection includes the named property.
func (e *entity[T]) has(sel selection, name string) bool {
	for _, i := range sel {
		if strings.EqualFold(e.props[i].name, name) {
			return true
		}
	}
	return false
}

// write writes x with the selected properties as one object element.
func (e *entity[T]) write(j *jw, c *call, x *T, sel selection, extra func(*jw)) {
	j.objStart()
	for _, i := range sel {
		j.field(e.props[i].name, e.props[i].get(c, x))
	}
	if extra != nil {
		extra(j)
	}
	j.objEnd()
}

// ---- collections ----

// collection streams {"@odata.context", ["@odata.count"], "value":[...], links}.
type collection struct {
	c *call
	j *jw
}

func (c *call) startCollection(contextPath string, count *int) *collection {
	h := c.w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("OData-Version", "4.0")
	c.w.WriteHeader(http.StatusOK)
	j := newJW(c.w)
	j.objStart()
	j.field("@odata.context", c.s.contextURL(contextPath))
	if count != nil {
		j.field("@odata.count", *count)
	}
	j.key("value")
	j.arrStart()
	return &collection{c: c, j: j}
}

// end closes the array and writes the next or delta link.
func (col *collection) end(nextLink, deltaLink string) {
	j := col.j
	j.arrEnd()
	if nextLink != "" {
		j.field("@odata.nextLink", nextLink)
	}
	if deltaLink != "" {
		j.field("@odata.deltaLink", deltaLink)
	}
	j.objEnd()
	_ = j.flush()
}

// writeEntityDoc writes a single entity with its @odata.context.
func writeEntityDoc[T any](c *call, status int, contextPath string, e *entity[T], x *T, sel selection) {
	h := c.w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("OData-Version", "4.0")
	c.w.WriteHeader(status)
	j := newJW(c.w)
	j.objStart()
	j.field("@odata.context", c.s.contextURL(contextPath))
	for _, i := range sel {
		j.field(e.props[i].name, e.props[i].get(c, x))
	}
	j.objEnd()
	_ = j.flush()
}

// writeJSON writes a small document built as a map or struct.
func writeJSON(c *call, status int, v any) {
	h := c.w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("OData-Version", "4.0")
	c.w.WriteHeader(status)
	j := newJW(c.w)
	j.value(v)
	_ = j.flush()
}

// obj is an ordered JSON object for small answers (member order as Graph sends it).
type obj []kv

type kv struct {
	k string
	v any
}

// MarshalJSON keeps the order.
func (o obj) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	j := newJW(&sb)
	o.writeTo(j)
	_ = j.flush()
	return []byte(sb.String()), nil
}

func (o obj) writeTo(j *jw) {
	j.open('{')
	for _, f := range o {
		j.key(f.k)
		j.value(f.v)
	}
	j.close('}')
}

func (s *Service) contextURL(path string) string { return s.base + "/v1.0/$metadata#" + path }

// ---- opaque tokens ----

// Page, delta and report tokens are sealed with AES-GCM under a key born with the service:
// clients cannot read or forge them, and any change to one is detected.
func newAEAD(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return a
}

// state is what a $skiptoken, $deltatoken or report URL carries.
type state struct {
	Kind    string `json:"k"`           // users, groups, members, devices, urd, gdap, customers, delta:users, report, ...
	Tenant  string `json:"t"`           // tenant id the token belongs to
	Pos     int    `json:"p,omitempty"` // next index
	Pos2    int    `json:"q,omitempty"` // second index (GDAP: relationship within tenant)
	Top     int    `json:"n,omitempty"` // page size
	Select  string `json:"s,omitempty"`
	Filter  string `json:"f,omitempty"`
	Ref     string `json:"r,omitempty"` // the parent object (group id of /members) or report name
	Since   int    `json:"e,omitempty"` // delta: changes after this epoch (-1: full sync)
	Epoch   int    `json:"x,omitempty"` // delta: epoch the round started at (next deltaLink's Since)
	Issued  int64  `json:"i,omitempty"` // unix seconds (delta token age, report URL expiry)
	Flag    bool   `json:"b,omitempty"` // report: concealed names
	Members bool   `json:"m,omitempty"` // groups delta: include members@delta
}

func (s *Service) seal(purpose string, st state) string {
	plain, _ := json.Marshal(st)
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, plain, []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(out)
}

func (s *Service) open(purpose, tok string) (state, bool) {
	var st state
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < s.aead.NonceSize() {
		return st, false
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(purpose))
	if err != nil || json.Unmarshal(plain, &st) != nil {
		return st, false
	}
	return st, true
}

// skipState reads $skiptoken if present: (state, true, nil); a token that is not ours, is for
// another tenant or another collection answers Directory_ExpiredPageToken.
func (c *call) skipState(kind string) (state, bool, *gerr) {
	tok, ok := qget(c.q, "skiptoken")
	if !ok {
		return state{}, false, nil
	}
	st, ok := c.s.open("skip", tok)
	if !ok || st.Tenant != c.ten.id || st.Kind != kind {
		return state{}, false, errf(http.StatusBadRequest, "Directory_ExpiredPageToken", msgPageToken)
	}
	return st, true, nil
}

// nextLink builds an absolute nextLink for path with the original options and a new $skiptoken.
func (c *call) nextLink(path string, st state, keep ...string) string {
	var sb strings.Builder
	sb.WriteString(c.s.base)
	sb.WriteString("/v1.0")
	sb.WriteString(path)
	sep := byte('?')
	for _, k := range keep {
		if v, ok := qget(c.q, k); ok {
			sb.WriteByte(sep)
			sep = '&'
			sb.WriteString("$" + k + "=")
			sb.WriteString(url.QueryEscape(v))
		}
	}
	sb.WriteByte(sep)
	sb.WriteString("$skiptoken=")
	sb.WriteString(c.s.seal("skip", st))
	return sb.String()
}
