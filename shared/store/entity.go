package store

// Encoding of domain structs into Table Storage entities and back into the domain's JSON.
//
// A struct field becomes one property named after its JSON name with the first letter upper-cased
// (userPrincipalName -> UserPrincipalName), so the reverse mapping is exact. Scalars keep their
// Edm type (time.Time -> Edm.DateTime, int64 -> Edm.Int64, ...); lists, maps and structs are
// stored as JSON text and listed in the JSONProps property so the reader knows to parse them.
// Strings over Table Storage's 64 KiB property limit are split across Name, Name_1, Name_2, ...
// Encoding/json's omitempty and omitzero are honoured, so reading an entity back gives the same
// JSON as json.Marshal of the original struct (times in UTC, to 100 ns).

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// Limits, from "Understanding the Table service data model" and "Performing entity group
// transactions" (learn.microsoft.com/rest/api/storageservices), and what Azurite enforces.
const (
	// A string property holds at most 64 KiB of UTF-16: 32K code units.
	maxStringUnits = 32 * 1024
	// 255 properties per entity including PartitionKey, RowKey and Timestamp.
	maxCustomProps = 252
	// An entity may hold 1 MiB (1,048,576 bytes) by the service's size formula; Azurite instead
	// measures the UTF-8 JSON body against 1 MiB. We keep both measures under this, leaving room
	// for overhead the published formula does not count.
	maxEntityBytes = 1_000_000
)

// Internal properties, removed again on read.
const (
	propHash      = "Hash"      // content hash: an unchanged object is not rewritten
	propJSONProps = "JSONProps" // comma-separated names of properties holding JSON text
	// encodingVersion is hashed in, so a change of encoding rewrites every row once.
	encodingVersion = "tenantsync-entity-v1"
)

var reservedProps = map[string]bool{
	"PartitionKey": true, "RowKey": true, "Timestamp": true, propHash: true, propJSONProps: true,
}

type edmKind uint8

const (
	edmString edmKind = iota
	edmJSON           // Edm.String holding JSON text
	edmBool
	edmInt32
	edmInt64 // sent as a decimal string with an Edm.Int64 annotation
	edmDouble
	edmDateTime // sent as text with an Edm.DateTime annotation
)

// entityProp is one encoded field before splitting. v is a string for edmString, edmJSON, edmInt64 and
// edmDateTime, a bool, an int64 (Int32) or a float64.
type entityProp struct {
	name string
	kind edmKind
	v    any
}

// listField is a slice field that may be truncated to make an oversized entity fit.
type listField struct {
	idx  int // index into the props
	v    reflect.Value
	size int // length of its JSON
}

// encodedEntity is an entity ready to send.
type encodedEntity struct {
	body      []byte // entity JSON including PartitionKey and RowKey
	hash      string
	truncated []string // properties (lists) cut short to fit
}

var errTooLarge = errors.New("entity exceeds Table Storage's limits")

// encodeEntity encodes v (a struct or pointer to one) as the entity (pk, rk).
func encodeEntity(pk, rk string, v any) (*encodedEntity, error) {
	props, lists, err := encodeProps(v)
	if err != nil {
		return nil, err
	}
	e, err := buildEntity(pk, rk, props)
	if !errors.Is(err, errTooLarge) {
		return e, err
	}
	// Too large: cut the longest lists until it fits, flagging each, rather than fail the sync
	// over one pathological object.
	sort.SliceStable(lists, func(i, j int) bool { return lists[i].size > lists[j].size })
	var truncated []string
	for _, l := range lists {
		name := props[l.idx].name
		flag := name + "Truncated"
		for _, p := range props {
			if p.name == flag {
				return nil, fmt.Errorf("cannot flag %s as truncated: the struct already has %s", name, flag)
			}
		}
		props = append(props, entityProp{name: flag, kind: edmBool, v: true})
		truncated = append(truncated, name)
		try := func(k int) (*encodedEntity, error) {
			b, err := json.Marshal(l.v.Slice(0, k).Interface())
			if err != nil {
				return nil, err
			}
			props[l.idx].v = string(b)
			return buildEntity(pk, rk, props)
		}
		if _, err := try(0); errors.Is(err, errTooLarge) {
			continue // even empty it does not fit: keep it empty, try the next list
		} else if err != nil {
			return nil, err
		}
		lo, hi := 0, l.v.Len() // lo fits; hi does not (it did not fit before the flag was added)
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if _, err := try(mid); err == nil {
				lo = mid
			} else if !errors.Is(err, errTooLarge) {
				return nil, err
			} else {
				hi = mid
			}
		}
		e, err := try(lo)
		if err != nil {
			return nil, err
		}
		e.truncated = truncated
		return e, nil
	}
	return nil, fmt.Errorf("%w even with its lists emptied", errTooLarge)
}

// buildEntity assembles and size-checks the entity.
func buildEntity(pk, rk string, props []entityProp) (*encodedEntity, error) {
	hash := hashProps(props)
	m := map[string]any{"PartitionKey": pk, "RowKey": rk, propHash: hash}
	var jsonProps []string
	for _, p := range props {
		switch p.kind {
		case edmString, edmJSON:
			parts := splitUTF16(p.v.(string), maxStringUnits)
			m[p.name] = parts[0]
			for i, part := range parts[1:] {
				m[p.name+"_"+strconv.Itoa(i+1)] = part
			}
			if p.kind == edmJSON {
				jsonProps = append(jsonProps, p.name)
			}
		case edmInt64:
			m[p.name], m[p.name+"@odata.type"] = p.v, "Edm.Int64"
		case edmDateTime:
			m[p.name], m[p.name+"@odata.type"] = p.v, "Edm.DateTime"
		default:
			m[p.name] = p.v
		}
	}
	if len(jsonProps) > 0 {
		sort.Strings(jsonProps)
		m[propJSONProps] = strings.Join(jsonProps, ",")
	}
	size, count := entitySize(m)
	if count > maxCustomProps {
		return nil, fmt.Errorf("%w: %d properties (at most %d)", errTooLarge, count, maxCustomProps)
	}
	if size > maxEntityBytes {
		return nil, fmt.Errorf("%w: %d bytes by the service's formula", errTooLarge, size)
	}
	// json.Marshal of a map matches what aztables sends (it re-marshals the entity as a map).
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(body) > maxEntityBytes {
		return nil, fmt.Errorf("%w: %d bytes of JSON", errTooLarge, len(body))
	}
	return &encodedEntity{body: body, hash: hash}, nil
}

// entitySize applies the published size formula: 4 + 2*len(PartitionKey+RowKey) + for each
// property 8 + 2*len(name) + the value's size (string 4 + 2*len, DateTime/Int64/Double 8,
// Int32 4, Boolean 1), lengths in UTF-16 code units. It also counts the custom properties.
func entitySize(m map[string]any) (size, count int) {
	size = 4
	for name, v := range m {
		switch {
		case name == "PartitionKey" || name == "RowKey":
			size += 2 * utf16Len(v.(string))
			continue
		case strings.HasSuffix(name, "@odata.type"):
			continue
		}
		count++
		size += 8 + 2*utf16Len(name)
		switch x := v.(type) {
		case string:
			if t, ok := m[name+"@odata.type"]; ok && (t == "Edm.Int64" || t == "Edm.DateTime") {
				size += 8
			} else {
				size += 4 + 2*utf16Len(x)
			}
		case bool:
			size++
		case int64:
			size += 4
		default:
			size += 8
		}
	}
	return size, count
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// splitUTF16 cuts s into pieces of at most max UTF-16 code units, never inside a character.
func splitUTF16(s string, max int) []string {
	var parts []string
	start, units := 0, 0
	for i, r := range s {
		n := utf16.RuneLen(r)
		if units+n > max {
			parts = append(parts, s[start:i])
			start, units = i, 0
		}
		units += n
	}
	return append(parts, s[start:])
}

// hashProps is SHA-256 over a canonical encoding: the version, then the properties sorted by
// name, each as [name, kind, value] JSON.
func hashProps(props []entityProp) string {
	sorted := append([]entityProp(nil), props...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	h := sha256.New()
	h.Write([]byte(encodingVersion))
	enc := json.NewEncoder(h)
	for _, p := range sorted {
		_ = enc.Encode([]any{p.name, p.kind, p.v}) // values are strings, bools and numbers
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// ---- struct reflection ----

type fieldInfo struct {
	index     []int
	name      string // property name
	omitEmpty bool
	omitZero  bool
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo or error

// jsonNameRe is what a field's JSON name must look like so that property names are valid C#
// identifiers, the first-letter mapping is reversible, and Name_N / NameTruncated stay ours.
var jsonNameRe = regexp.MustCompile(`^[a-z][A-Za-z0-9]{0,239}$`)

func fieldsOf(t reflect.Type) ([]fieldInfo, error) {
	if c, ok := fieldCache.Load(t); ok {
		if err, isErr := c.(error); isErr {
			return nil, err
		}
		return c.([]fieldInfo), nil
	}
	fields, err := collectFields(t, nil, map[string]bool{})
	if err != nil {
		fieldCache.Store(t, err)
		return nil, err
	}
	fieldCache.Store(t, fields)
	return fields, nil
}

func collectFields(t reflect.Type, prefix []int, names map[string]bool) ([]fieldInfo, error) {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		if tag == "-" {
			continue
		}
		// Defensive: nothing in these tables is secret, and nothing marked secret may get there.
		if f.Tag.Get("secret") == "true" {
			return nil, fmt.Errorf("%s.%s is tagged secret and must not be stored", t, f.Name)
		}
		name, opts, _ := strings.Cut(tag, ",")
		index := append(append([]int(nil), prefix...), i)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			sub, err := collectFields(f.Type, index, names) // flattened, as encoding/json does
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if !hasTag || name == "" {
			name = f.Name
		}
		if !jsonNameRe.MatchString(name) {
			return nil, fmt.Errorf("%s.%s: JSON name %q must match %s", t, f.Name, name, jsonNameRe)
		}
		p := strings.ToUpper(name[:1]) + name[1:]
		if reservedProps[p] || names[p] {
			return nil, fmt.Errorf("%s.%s: property %s is reserved or duplicated", t, f.Name, p)
		}
		names[p] = true
		fi := fieldInfo{index: index, name: p}
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "omitempty":
				fi.omitEmpty = true
			case "omitzero":
				fi.omitZero = true
			case "string":
				return nil, fmt.Errorf("%s.%s: the json \",string\" option is not supported", t, f.Name)
			}
		}
		out = append(out, fi)
	}
	return out, nil
}

var (
	timeReflectType   = reflect.TypeFor[time.Time]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	zeroerType        = reflect.TypeFor[interface{ IsZero() bool }]()
)

func encodeProps(v any) ([]entityProp, []listField, error) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, nil, fmt.Errorf("cannot store %T: want a struct", v)
	}
	fields, err := fieldsOf(rv.Type())
	if err != nil {
		return nil, nil, err
	}
	var props []entityProp
	var lists []listField
	for _, f := range fields {
		fv := rv.FieldByIndex(f.index)
		if f.omitEmpty && isEmptyValue(fv) || f.omitZero && isZeroValue(fv) {
			continue
		}
		p, err := encodeValue(f.name, fv)
		if err != nil {
			return nil, nil, err
		}
		props = append(props, p)
		if lv := derefValue(fv); lv.Kind() == reflect.Slice && lv.Len() > 0 {
			lists = append(lists, listField{idx: len(props) - 1, v: lv, size: len(p.v.(string))})
		}
	}
	return props, lists, nil
}

func derefValue(v reflect.Value) reflect.Value {
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	return v
}

func encodeValue(name string, v reflect.Value) (entityProp, error) {
	p := entityProp{name: name}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			p.kind, p.v = edmJSON, "null" // what encoding/json writes for it
			return p, nil
		}
		v = v.Elem()
	}
	t := v.Type()
	if t == timeReflectType {
		return encodeTime(p, v.Interface().(time.Time))
	}
	if t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) ||
		reflect.PointerTo(t).Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType) {
		return encodeJSON(p, v)
	}
	switch t.Kind() {
	case reflect.Bool:
		p.kind, p.v = edmBool, v.Bool()
	case reflect.Int8, reflect.Int16, reflect.Int32:
		p.kind, p.v = edmInt32, v.Int()
	case reflect.Uint8, reflect.Uint16:
		p.kind, p.v = edmInt32, int64(v.Uint())
	case reflect.Int:
		// Counts are plain ints: Int32 while they fit, so they filter as numbers in tools.
		if i := v.Int(); i >= math.MinInt32 && i <= math.MaxInt32 {
			p.kind, p.v = edmInt32, i
		} else {
			p.kind, p.v = edmInt64, strconv.FormatInt(i, 10)
		}
	case reflect.Uint:
		if u := v.Uint(); u <= math.MaxInt32 {
			p.kind, p.v = edmInt32, int64(u)
		} else if u <= math.MaxInt64 {
			p.kind, p.v = edmInt64, strconv.FormatUint(u, 10)
		} else {
			return p, fmt.Errorf("%s: %d does not fit Edm.Int64", name, u)
		}
	case reflect.Int64:
		p.kind, p.v = edmInt64, strconv.FormatInt(v.Int(), 10)
	case reflect.Uint32, reflect.Uint64:
		u := v.Uint()
		if u > math.MaxInt64 {
			return p, fmt.Errorf("%s: %d does not fit Edm.Int64", name, u)
		}
		p.kind, p.v = edmInt64, strconv.FormatUint(u, 10)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return p, fmt.Errorf("%s: %v cannot be stored (JSON has no such number)", name, f)
		}
		p.kind, p.v = edmDouble, f
	case reflect.String:
		p.kind, p.v = edmString, v.String()
	default: // slices, arrays, maps, structs
		return encodeJSON(p, v)
	}
	return p, nil
}

// encodeJSON stores what encoding/json makes of v: a JSON string as a plain string, anything
// else as JSON text.
func encodeJSON(p entityProp, v reflect.Value) (entityProp, error) {
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return p, fmt.Errorf("%s: %w", p.name, err)
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return p, err
		}
		p.kind, p.v = edmString, s
		return p, nil
	}
	p.kind, p.v = edmJSON, string(b)
	return p, nil
}

// edmTimeLayout has the 7 fractional digits (100 ns ticks) the service keeps.
const edmTimeLayout = "2006-01-02T15:04:05.0000000Z"

func encodeTime(p entityProp, t time.Time) (entityProp, error) {
	u := t.UTC().Truncate(100 * time.Nanosecond)
	if y := u.Year(); y < 1601 || y > 9999 {
		// Outside Edm.DateTime's range: keep encoding/json's text rather than fail.
		b, err := json.Marshal(t)
		if err != nil {
			return p, fmt.Errorf("%s: %w", p.name, err)
		}
		p.kind, p.v = edmString, string(b[1:len(b)-1])
		return p, nil
	}
	p.kind, p.v = edmDateTime, u.Format(edmTimeLayout)
	return p, nil
}

// isEmptyValue is encoding/json's omitempty test.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZeroValue is encoding/json's omitzero test: an IsZero method if there is one, else the zero value.
func isZeroValue(v reflect.Value) bool {
	if v.Type().Implements(zeroerType) {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return true
		}
		return v.Interface().(interface{ IsZero() bool }).IsZero()
	}
	if v.CanAddr() && reflect.PointerTo(v.Type()).Implements(zeroerType) {
		return v.Addr().Interface().(interface{ IsZero() bool }).IsZero()
	}
	return v.IsZero()
}

// ---- reading ----

var chunkNameRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*)_([1-9][0-9]*)$`)

// entityJSON turns a stored entity (as aztables returns it, minimal metadata) back into the
// domain object's JSON: split strings joined, JSON text parsed, DateTime as RFC 3339 (UTC),
// Int64 as a number, internal and system properties dropped, names lower-cased back.
func entityJSON(raw []byte) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("entity: %w", err)
	}
	jsonProps := map[string]bool{}
	if r, ok := m[propJSONProps]; ok {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return nil, fmt.Errorf("entity %s: %w", propJSONProps, err)
		}
		for _, n := range strings.Split(s, ",") {
			jsonProps[n] = true
		}
	}
	out := make(map[string]json.RawMessage, len(m))
	for name, val := range m {
		if reservedProps[name] || strings.HasPrefix(name, "odata.") || strings.Contains(name, "@") || chunkNameRe.MatchString(name) {
			continue
		}
		typ := ""
		if t, ok := m[name+"@odata.type"]; ok {
			if err := json.Unmarshal(t, &typ); err != nil {
				return nil, fmt.Errorf("entity %s@odata.type: %w", name, err)
			}
		}
		// Join split strings: Name, Name_1, Name_2, ...
		if _, split := m[name+"_1"]; split {
			var sb strings.Builder
			for i := 0; ; i++ {
				key := name
				if i > 0 {
					key = name + "_" + strconv.Itoa(i)
				}
				part, ok := m[key]
				if !ok {
					break
				}
				var s string
				if err := json.Unmarshal(part, &s); err != nil {
					return nil, fmt.Errorf("entity property %s: %w", key, err)
				}
				sb.WriteString(s)
			}
			b, err := json.Marshal(sb.String())
			if err != nil {
				return nil, err
			}
			val = b
		}
		v, err := decodeProp(name, typ, val, jsonProps[name])
		if err != nil {
			return nil, err
		}
		out[strings.ToLower(name[:1])+name[1:]] = v
	}
	return json.Marshal(out)
}

func decodeProp(name, typ string, val json.RawMessage, isJSON bool) (json.RawMessage, error) {
	switch {
	case isJSON:
		var s string
		if err := json.Unmarshal(val, &s); err != nil {
			return nil, fmt.Errorf("entity property %s: %w", name, err)
		}
		if !json.Valid([]byte(s)) {
			return nil, fmt.Errorf("entity property %s: stored JSON is not valid", name)
		}
		return compactJSON(s), nil
	case typ == "Edm.DateTime":
		var s string
		if err := json.Unmarshal(val, &s); err != nil {
			return nil, fmt.Errorf("entity property %s: %w", name, err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("entity property %s: %w", name, err)
		}
		return json.Marshal(t.UTC())
	case typ == "Edm.Int64" || typ == "Edm.Double":
		var s string
		if json.Unmarshal(val, &s) != nil {
			return val, nil // already a number
		}
		if typ == "Edm.Int64" {
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				return nil, fmt.Errorf("entity property %s: %w", name, err)
			}
			return json.RawMessage(s), nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return val, nil // NaN/Infinity have no JSON number; keep the service's text
		}
		return json.Marshal(f)
	}
	return val, nil
}

func compactJSON(s string) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return json.RawMessage(s)
	}
	return b.Bytes()
}
