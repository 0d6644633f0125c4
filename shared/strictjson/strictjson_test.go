package strictjson

import (
	"errors"
	"strings"
	"testing"
)

type patch struct {
	Excluded *bool `json:"excluded"`
}

type link struct {
	Email string `json:"email"`
}

type cpv struct {
	TenantIDs []string `json:"tenantIds"`
}

type nested struct {
	Inner struct {
		Name string `json:"name"`
	} `json:"inner"`
	Labels map[string]string `json:"labels"`
	Any    any               `json:"any"`
}

// Each body encoding/json's Decoder would accept (issue 9, "What was measured" 7) and more; the
// message must name the problem.
func TestDecodeRefuses(t *testing.T) {
	for _, c := range []struct {
		name, body string
		into       any
		says       string
	}{
		{"trailing garbage", `{"excluded":true} garbage`, &patch{}, "more than one JSON value"},
		{"second value", `{"excluded":true}{"excluded":false}`, &patch{}, "more than one JSON value"},
		{"trailing array", `{"email":"a@b.com"}[]`, &link{}, "more than one JSON value"},
		{"duplicate key", `{"excluded":true,"excluded":false}`, &patch{}, `key "excluded" appears more than once`},
		{"duplicate key, escaped", `{"email":"a@b.com","em\u0061il":"c@d.com"}`, &link{}, `key "email" appears more than once`},
		{"case-variant key", `{"Excluded":true}`, &patch{}, `key "Excluded" must be spelled "excluded"`},
		{"case-variant after exact", `{"email":"a@b.com","EMAIL":"c@d.com"}`, &link{}, `key "EMAIL" must be spelled "email"`},
		{"long s folds to s", "{\"tenantId\u017f\":[]}", &cpv{}, `must be spelled "tenantIds"`},
		{"unknown key", `{"email":"a@b.com","requestedBy":"Mallory"}`, &link{}, `key "requestedBy" is not accepted here (accepted: email)`},
		{"unknown nested key", `{"inner":{"name":"x","nam":"y"}}`, &nested{}, `key "inner.nam" is not accepted`},
		{"case-variant nested key", `{"inner":{"Name":"x"}}`, &nested{}, `key "inner.Name" must be spelled "inner.name"`},
		{"duplicate key in a map", `{"labels":{"a":"1","a":"2"}}`, &nested{}, `key "labels.a" appears more than once`},
		{"duplicate key in any", `{"any":{"x":1,"x":2}}`, &nested{}, `key "any.x" appears more than once`},
		{"wrong type", `{"excluded":"yes"}`, &patch{}, `key "excluded" must be true or false, not string`},
		{"wrong element type", `{"tenantIds":[1]}`, &cpv{}, `must be a string`},
		{"array body", `[{"email":"a@b.com"}]`, &link{}, "must be a JSON object"},
		{"null body", `null`, &link{}, "must be a JSON object"},
		{"string body", `"a@b.com"`, &link{}, "must be a JSON object"},
		{"truncated", `{"email":"a@b.com"`, &link{}, "ends in the middle"},
		{"syntax", `{"email":}`, &link{}, "not valid JSON"},
		{"single quotes", `{'email':'a@b.com'}`, &link{}, "not valid JSON"},
		{"too deep", `{"any":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, &nested{}, "nests deeper than 32 levels"},
		{"megabyte of brackets", strings.Repeat("[", 1<<20), &nested{}, "must be a JSON object"},
		{"megabyte of brackets in any", `{"any":` + strings.Repeat("[", 1<<20), &nested{}, "nests deeper"},
		{"invalid UTF-8", "{\"email\":\"a\xff@b.com\"}", &link{}, "not valid UTF-8"},
	} {
		err := Unmarshal([]byte(c.body), c.into)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %s: got %v, want an *Error saying %q", c.name, c.body, err, c.says)
		}
	}
}

func TestDecodeAccepts(t *testing.T) {
	var p patch
	if err := Unmarshal([]byte(" \n{\"excluded\" : false}\r\n\t"), &p); err != nil || p.Excluded == nil || *p.Excluded {
		t.Errorf("white space around one value: %v %+v", err, p)
	}
	var l link
	if err := Unmarshal([]byte(`{"email":"a\u0040b.com"}`), &l); err != nil || l.Email != "a@b.com" {
		t.Errorf("escapes in a value: %v %+v", err, l)
	}
	var n nested
	if err := Unmarshal([]byte(`{"inner":{"name":"x"},"labels":{"A":"1","a":"2"},"any":[{"k":1},{"k":2}]}`), &n); err != nil ||
		n.Inner.Name != "x" || n.Labels["A"] != "1" || n.Labels["a"] != "2" {
		t.Errorf("map keys differing in case are different keys; repeated keys in different objects are fine: %v %+v", err, n)
	}
	var c cpv
	if err := Unmarshal([]byte(`{}`), &c); err != nil || c.TenantIDs != nil {
		t.Errorf("empty object: %v %+v", err, c)
	}
}

func TestDecodeEmptyAndLimit(t *testing.T) {
	for _, body := range []string{"", "  \n\t"} {
		if err := Decode(strings.NewReader(body), 100, &link{}); !errors.Is(err, ErrEmpty) {
			t.Errorf("%q: %v, want ErrEmpty", body, err)
		}
	}
	body := `{"email":"` + strings.Repeat("a", 80) + `@b.com"}`
	if err := Decode(strings.NewReader(body), int64(len(body)), &link{}); err != nil {
		t.Errorf("a body of exactly the limit: %v", err)
	}
	if err := Decode(strings.NewReader(body), int64(len(body)-1), &link{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("one byte over the limit: %v, want ErrTooLarge", err)
	}
	// Past the limit, nothing further is read.
	r := &countingReader{}
	if err := Decode(r, 1<<10, &link{}); !errors.Is(err, ErrTooLarge) || r.n > 1<<10+1<<12 {
		t.Errorf("endless body: %v after reading %d bytes", err, r.n)
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n += len(p)
	return len(p), nil
}
