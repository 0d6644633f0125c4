// Package odataquery reads the read API's OData-style query options strictly: a value the API
// would have to guess at is refused with a message naming it, never reinterpreted.
package odataquery

import (
	"fmt"
	"net/url"
)

// Top reads $top: absent means def; present, it must be 1*DIGIT (OData ABNF, oasis-tcs/odata-abnf
// abnf/odata-abnf-construction-rules.txt: `top = ( "$top" / "top" ) EQ 1*DIGIT`) with a value from
// 1 to max. So "+5", " 5", "5 ", "-1", "5.0", "0x5" and an empty value are refused; "05" is the
// ABNF's and is 5. Given twice it is refused too: which one would win is a guess.
func Top(q url.Values, def, max int) (int, error) {
	vs, ok := q["$top"]
	if !ok {
		return def, nil
	}
	if len(vs) != 1 {
		return 0, fmt.Errorf("$top is given %d times: give it once", len(vs))
	}
	s := vs[0]
	bad := fmt.Errorf("$top must be a whole number from 1 to %d in digits only, not %q", max, clip(s))
	if s == "" {
		return 0, bad
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, bad
		}
		if n = n*10 + int(c-'0'); n > max {
			return 0, bad
		}
	}
	if n < 1 {
		return 0, bad
	}
	return n, nil
}

// Single reads an option that may appear at most once ("" when absent).
func Single(q url.Values, name string) (string, error) {
	vs := q[name]
	if len(vs) > 1 {
		return "", fmt.Errorf("%s is given %d times: give it once", name, len(vs))
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], nil
}

func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}
