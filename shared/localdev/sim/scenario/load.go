package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

func load(nameOrPath string, now time.Time) (*World, error) {
	switch nameOrPath {
	case "demo":
		return newWorldWith(DemoFile(now), now, demoOptions())
	case "large":
		return newWorld(LargeFile(now), now)
	case "storm":
		return newWorld(StormFile(now, DefaultStorm), now)
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w (built-in scenarios: demo, large, storm)", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", nameOrPath, err)
	}
	w, err := newWorld(f, now)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", nameOrPath, err)
	}
	return w, nil
}

// Parse decodes a scenario file strictly: an unknown field is an error naming it and where it is
// (a misspelt "throttleEvry" would otherwise silently disable the fault it was meant to inject).
// The result is not validated; New validates.
func Parse(data []byte) (File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		if path := unknownField(data); path != "" {
			return File{}, errors.New(path)
		}
		return File{}, err
	}
	if dec.More() {
		return File{}, errors.New("unexpected data after the scenario object")
	}
	return f, nil
}

// unknownField walks the JSON against File's shape and describes the first member that matches no
// field, e.g. `tenants[2] "Fabrikam Legal": unknown field "usres"`; "" if there is none.
func unknownField(data []byte) string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	return walkUnknown(v, reflect.TypeOf(File{}), "")
}

var unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

func walkUnknown(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return ""
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		where := path
		if where != "" {
			where += ": "
		}
		for _, key := range sortedKeys(obj) {
			f, ok := fieldByJSONName(t, key)
			if !ok {
				return where + "unknown field " + strconv.Quote(key)
			}
			if p := walkUnknown(obj[key], f.Type, joinPath(path, key)); p != "" {
				return p
			}
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return ""
		}
		for i, e := range arr {
			p := path + "[" + strconv.Itoa(i) + "]"
			// Name tenants and users by display name too: indexes alone are hard to find in a file.
			if m, ok := e.(map[string]any); ok {
				if n, ok := m["displayName"].(string); ok && n != "" {
					p += " " + strconv.Quote(n)
				}
			}
			if r := walkUnknown(e, t.Elem(), p); r != "" {
				return r
			}
		}
	}
	return ""
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// fieldByJSONName matches like encoding/json: exact tag name first, then case-insensitively.
func fieldByJSONName(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold *reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f, true
		}
		if fold == nil && strings.EqualFold(name, key) {
			fold = &f
		}
	}
	if fold != nil {
		return *fold, true
	}
	return reflect.StructField{}, false
}

// Validation: every problem is reported (errors.Join), each naming where it is and the field.

var relationshipStatuses = map[string]bool{
	"activating": true, "active": true, "approvalPending": true, "approved": true, "created": true,
	"expired": true, "expiring": true, "terminated": true, "terminating": true, "terminationRequested": true,
}

// maxObjects bounds per-tenant counts: object ids embed the index in 32 bits, and a scenario
// beyond this is a typo rather than a test.
const maxObjects = 1 << 24

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

type validator struct{ errs []error }

func (v *validator) bad(where, field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		v.errs = append(v.errs, fmt.Errorf("%s: %s: %s", where, field, msg))
		return
	}
	v.errs = append(v.errs, fmt.Errorf("%s: %s", field, msg))
}

func (v *validator) count(where, field string, n int) {
	if n < 0 {
		v.bad(where, field, "must not be negative, got %d", n)
	} else if n > maxObjects {
		v.bad(where, field, "at most %d, got %d", maxObjects, n)
	}
}

func (v *validator) faults(where, prefix string, f Faults) {
	if f.TokenError != "" && !isNumeric(f.TokenError) {
		v.bad(where, prefix+"tokenError", "AADSTS code must be numeric (e.g. \"7000229\"), got %q", f.TokenError)
	}
	if f.RetryAfter != "" {
		if x, err := strconv.ParseFloat(f.RetryAfter, 64); err != nil || x < 0 {
			v.bad(where, prefix+"retryAfter", "must be a non-negative number of seconds (\"2\", \"0.5\"), got %q", f.RetryAfter)
		}
	}
	v.count(where, prefix+"throttleEvery", f.ThrottleEvery)
	v.count(where, prefix+"unavailableEvery", f.UnavailableEvery)
	v.count(where, prefix+"latencyMs", f.LatencyMs)
	for i, e := range f.Fail {
		at := fmt.Sprintf("%sfail[%d]", prefix, i)
		if !strings.HasPrefix(e.Path, "/") || strings.ContainsAny(e.Path, "?#") {
			v.bad(where, at+".path", "must be a path after /v1.0 without a query (e.g. \"/subscribedSkus\"), got %q", e.Path)
		}
		if e.Status < 400 || e.Status > 599 {
			v.bad(where, at+".status", "must be an HTTP error status (400-599), got %d", e.Status)
		}
		if e.RetryAfter != "" {
			if x, err := strconv.ParseFloat(e.RetryAfter, 64); err != nil || x < 0 {
				v.bad(where, at+".retryAfter", "must be a non-negative number of seconds, got %q", e.RetryAfter)
			}
		}
	}
}

func validate(f *File) error {
	var v validator
	p := f.Partner
	if !isGUID(p.TenantID) {
		v.bad("", "partner.tenantId", "must be a GUID, got %q", p.TenantID)
	}
	for i, u := range p.Users {
		where := fmt.Sprintf("partner.users[%d] %q", i, u.UPN)
		if u.UPN == "" || !strings.Contains(u.UPN, "@") {
			v.bad(where, "userPrincipalName", "must be user@domain, got %q", u.UPN)
		}
		if u.ID != "" && !isGUID(u.ID) {
			v.bad(where, "id", "must be a GUID, got %q", u.ID)
		}
		if u.SignInError != "" && !isNumeric(u.SignInError) {
			v.bad(where, "signInError", "AADSTS code must be numeric (e.g. \"53003\"), got %q", u.SignInError)
		}
	}
	if a := f.App; a != nil {
		if !isGUID(a.AppID) {
			v.bad("app", "appId", "must be a GUID, got %q", a.AppID)
		}
		for i, s := range a.Secrets {
			if s.KeyID != "" && !isGUID(s.KeyID) {
				v.bad(fmt.Sprintf("app.secrets[%d]", i), "keyId", "must be a GUID, got %q", s.KeyID)
			}
			if s.Value == "" {
				v.bad(fmt.Sprintf("app.secrets[%d]", i), "value", "required")
			}
		}
	}
	v.faults("", "faults.", f.Faults)

	ids := map[string]int{}
	domains := map[string]string{}
	if p.Domain != "" {
		domains[strings.ToLower(p.Domain)] = "partner.domain"
	}
	for i := range f.Tenants {
		t := &f.Tenants[i]
		name := t.DisplayName
		if name == "" {
			name = t.ID
		}
		where := fmt.Sprintf("tenants[%d] %q", i, name)
		if !isGUID(t.ID) {
			v.bad(where, "id", "must be a GUID, got %q", t.ID)
		} else if j, dup := ids[strings.ToLower(t.ID)]; dup {
			v.bad(where, "id", "%s already used by tenants[%d]", t.ID, j)
		} else {
			ids[strings.ToLower(t.ID)] = i
		}
		if strings.EqualFold(t.ID, p.TenantID) {
			v.bad(where, "id", "is the partner's tenant id")
		}
		if t.DisplayName == "" {
			v.bad(where, "displayName", "required")
		}
		for _, d := range []struct{ field, value string }{{"domain", t.Domain}, {"customDomain", t.CustomDomain}} {
			if d.value == "" {
				if d.field == "domain" {
					v.bad(where, d.field, "required (e.g. contoso.onmicrosoft.com)")
				}
				continue
			}
			if !strings.Contains(d.value, ".") || strings.ContainsAny(d.value, " @/") {
				v.bad(where, d.field, "not a domain name: %q", d.value)
				continue
			}
			k := strings.ToLower(d.value)
			if other, dup := domains[k]; dup {
				v.bad(where, d.field, "%s already used as %s", d.value, other)
				continue
			}
			domains[k] = where + ": " + d.field
		}
		v.count(where, "users", t.Users)
		v.count(where, "groups", t.Groups)
		v.count(where, "devices", t.Devices)
		for j, s := range t.Skus {
			sw := fmt.Sprintf("%s skus[%d]", where, j)
			if !isGUID(s.SkuID) {
				v.bad(sw, "skuId", "must be a GUID, got %q", s.SkuID)
			}
			v.count(sw, "prepaid", s.Prepaid)
			v.count(sw, "assignEvery", s.AssignEvery)
		}
		for j, r := range t.GDAP {
			rw := fmt.Sprintf("%s gdap[%d]", where, j)
			if !relationshipStatuses[r.Status] {
				v.bad(rw, "status", "unknown status %q (active, expired, terminated, approvalPending, ...)", r.Status)
			}
			for k, role := range r.Roles {
				if !isGUID(role) {
					v.bad(rw, fmt.Sprintf("roles[%d]", k), "must be a role definition GUID, got %q", role)
				}
			}
		}
		if t.Faults != nil {
			v.faults(where, "faults.", *t.Faults)
		}
	}
	if g := f.Generate; g != nil {
		v.count("generate", "count", g.Count)
		v.count("generate", "minUsers", g.MinUsers)
		v.count("generate", "maxUsers", g.MaxUsers)
		if g.MaxUsers < g.MinUsers {
			v.bad("generate", "maxUsers", "%d is below minUsers %d", g.MaxUsers, g.MinUsers)
		}
		for _, fr := range []struct {
			name string
			x    float64
		}{{"premium", g.Premium}, {"intune", g.Intune}, {"concealReports", g.ConcealReports}, {"consented", g.Consented}, {"csp", g.CSP}, {"securityDefaults", g.SecurityDefaults}} {
			if fr.x < 0 || fr.x > 1 {
				v.bad("generate", fr.name, "a fraction between 0 and 1, got %v", fr.x)
			}
		}
	}
	return errors.Join(v.errs...)
}
