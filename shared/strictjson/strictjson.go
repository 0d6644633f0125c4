// Package strictjson decodes request bodies strictly: exactly one JSON value, valid UTF-8, no
// unknown, duplicate or case-variant keys, and a size limit. encoding/json alone is lenient on
// each of these (it ignores trailing data after Decoder.Decode, keeps the last of duplicate keys,
// matches keys to struct fields case-insensitively, replaces invalid UTF-8), so a body can mean
// something other than what a reader of it sees. Every problem is an *Error naming it.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"
)

// ErrTooLarge is returned when the body is longer than the limit.
var ErrTooLarge = errors.New("the body is too large")

// ErrEmpty is returned for a body that is empty or only white space.
var ErrEmpty = errors.New("the body is empty")

// Error is a malformed body; its message names the problem (and the key, where there is one).
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func fail(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Decode reads at most limit bytes from r and decodes them into v (a pointer). Object keys must be
// spelled exactly as v's json tags (or field names) say; objects decoded into maps or interfaces
// accept any keys but no duplicates.
func Decode(r io.Reader, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return fail("the body could not be read: %v", err)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return Unmarshal(data, v)
}

// Unmarshal is Decode for a body already in memory.
func Unmarshal(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return ErrEmpty
	}
	if !utf8.Valid(data) {
		return fail("the body is not valid UTF-8")
	}
	rt := reflect.TypeOf(v)
	if rt == nil || rt.Kind() != reflect.Pointer {
		return fmt.Errorf("strictjson: Decode needs a pointer, got %T", v)
	}
	if err := check(data, rt.Elem()); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return fail("the body must be %s, not %s", jsonKind(te.Type), te.Value)
			}
			return fail("key %q must be %s, not %s", te.Field, jsonKind(te.Type), te.Value)
		}
		return fail("the body is not valid JSON: %v", err)
	}
	return nil
}

// maxDepth bounds nesting: the API's bodies are shallow, and the walk keeps a frame per level.
const maxDepth = 32

// frame is one open object or array while walking the token stream, with the Go type its
// contents decode into (nil: anything).
type frame struct {
	object  bool
	typ     reflect.Type
	wantKey bool
	key     string // the key whose value comes next
	seen    map[string]bool
	path    string
}

// check walks data's tokens once, refusing syntax errors, a second value, and bad keys.
func check(data []byte, root reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	done := false
	for !done {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err, dec)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				done = valueDone(stack)
				continue
			}
			key := tok.(string) // the decoder only yields strings in key position
			if err := checkKey(top, key); err != nil {
				return err
			}
			top.key, top.wantKey = key, false
			continue
		}
		typ, path := valueType(stack, root)
		if len(stack) == 0 && tok != json.Delim('{') {
			if k := deref(typ).Kind(); k == reflect.Struct || k == reflect.Map {
				return fail("the body must be a JSON object")
			}
		}
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') && len(stack) >= maxDepth {
			return fail("the body nests deeper than %d levels", maxDepth)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, typ: deref(typ), wantKey: true, seen: map[string]bool{}, path: path})
		case json.Delim('['):
			stack = append(stack, &frame{typ: deref(typ), path: path})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			done = valueDone(stack)
		default:
			done = valueDone(stack)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("the body holds more than one JSON value (unexpected data at byte %d)", dec.InputOffset())
	}
	return nil
}

// valueDone marks the enclosing object ready for its next key; it reports whether the top-level
// value is complete.
func valueDone(stack []*frame) bool {
	if len(stack) == 0 {
		return true
	}
	if top := stack[len(stack)-1]; top.object {
		top.wantKey = true
	}
	return false
}

// valueType is the Go type the next value decodes into, and its path for messages.
func valueType(stack []*frame, root reflect.Type) (reflect.Type, string) {
	if len(stack) == 0 {
		return root, ""
	}
	top := stack[len(stack)-1]
	if top.object {
		path := join(top.path, top.key)
		if top.typ == nil {
			return nil, path
		}
		switch top.typ.Kind() {
		case reflect.Struct:
			return fieldsOf(top.typ)[top.key], path
		case reflect.Map:
			return top.typ.Elem(), path
		}
		return nil, path
	}
	if top.typ != nil && (top.typ.Kind() == reflect.Slice || top.typ.Kind() == reflect.Array) {
		return top.typ.Elem(), top.path + "[]"
	}
	return nil, top.path + "[]"
}

func checkKey(f *frame, key string) error {
	where := join(f.path, key)
	if f.seen[key] {
		return fail("key %q appears more than once", where)
	}
	f.seen[key] = true
	if f.typ == nil || f.typ.Kind() != reflect.Struct {
		return nil
	}
	fields := fieldsOf(f.typ)
	if _, ok := fields[key]; ok {
		return nil
	}
	// encoding/json would match this key to a field spelled differently (it folds case, and
	// also matches U+212A KELVIN SIGN to k and U+017F LONG S to s, as strings.EqualFold does).
	names := make([]string, 0, len(fields))
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fail("key %q must be spelled %q (keys are case-sensitive)", where, join(f.path, name))
		}
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return fail("key %q is not accepted here: this object takes no keys", where)
	}
	return fail("key %q is not accepted here (accepted: %s)", where, strings.Join(names, ", "))
}

// fieldsOf lists the JSON names encoding/json decodes into struct t, with their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			if et := deref(sf.Type); et != nil && et.Kind() == reflect.Struct {
				for k, v := range fieldsOf(et) {
					if _, taken := out[k]; !taken {
						out[k] = v
					}
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out[name] = sf.Type
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func syntaxError(err error, dec *json.Decoder) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fail("the body ends in the middle of a JSON value")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fail("the body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
	}
	return fail("the body is not valid JSON: %v (at byte %d)", err, dec.InputOffset())
}

func jsonKind(t reflect.Type) string {
	switch deref(t).Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}
