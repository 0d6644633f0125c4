package odataquery

import (
	"net/url"
	"strings"
	"testing"
)

func TestTop(t *testing.T) {
	for raw, want := range map[string]int{
		"":                 100, // absent: the default
		"$top=1":           1,
		"$top=999":         999,
		"$top=05":          5, // 1*DIGIT allows leading zeros
		"$top=0000000042":  42,
		"$skiptoken=x":     100,
		"$top=7&$filter=x": 7,
	} {
		q, _ := url.ParseQuery(raw)
		if got, err := Top(q, 100, 999); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", raw, got, err, want)
		}
	}
	for _, raw := range []string{
		"$top=%2B5", // +5
		"$top=+5",   // a literal + in a query string is a space: " 5"
		"$top=%205", "$top=5%20", "$top=-1", "$top=0", "$top=000", "$top=1000", "$top=5.0", "$top=0x5",
		"$top=", "$top", "$top=ten", "$top=99999999999999999999999", "$top=%EF%BC%95", // fullwidth 5
		"$top=5&$top=6", "$top=5&$top=5",
	} {
		q, _ := url.ParseQuery(raw)
		if got, err := Top(q, 100, 999); err == nil || !strings.Contains(err.Error(), "$top") {
			t.Errorf("%q accepted as %d (%v)", raw, got, err)
		}
	}
}

func TestSingle(t *testing.T) {
	q, _ := url.ParseQuery("$skiptoken=a&$skiptoken=b&x=1")
	if _, err := Single(q, "$skiptoken"); err == nil {
		t.Error("a repeated $skiptoken was accepted")
	}
	if v, err := Single(q, "x"); err != nil || v != "1" {
		t.Errorf("x: %q %v", v, err)
	}
	if v, err := Single(q, "absent"); err != nil || v != "" {
		t.Errorf("absent: %q %v", v, err)
	}
}
