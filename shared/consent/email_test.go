package consent

import (
	"errors"
	"strings"
	"testing"
)

func TestParseEmail(t *testing.T) {
	for _, ok := range []string{
		"admin@adventureworks.com", "Admin.Name@AdventureWorks.onmicrosoft.com", "a+tag@sub.customer.co.uk",
		"o'brien@customer.ie", "x@xn--mnchen-3ya.de", "first_last-1@a-b.example", " admin@customer.com ",
		strings.Repeat("a", 64) + "@customer.com",
	} {
		if got, err := ParseEmail(ok); err != nil || got != strings.TrimSpace(ok) {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for bad, says := range map[string]string{
		"":                                       "empty",
		"a@[127.0.0.1]":                          "IP address literal",
		"a@[IPv6:::1]":                           "IP address literal",
		"a@127.0.0.1":                            "ends in a number",
		"admin@localhost":                        "with a dot",
		"Admin <admin@customer.com>":             "no quotes, spaces",
		`"a b"@customer.com`:                     "no quotes",
		`"admin"@customer.com`:                   "no quotes",
		"a@b.com, c@d.com":                       "more than one @",
		"a@b.com,c@d.com":                        "more than one @",
		"admin@@customer.com":                    "more than one @",
		"nobody":                                 "no @",
		"@customer.com":                          "1 to 64",
		"admin@":                                 "1 to 253",
		"admin@customer.com.":                    "empty label",
		"admin@.customer.com":                    "empty label",
		"admin@-customer.com":                    "hyphen",
		"admin@customer-.com":                    "hyphen",
		".admin@customer.com":                    "empty atom",
		"ad..min@customer.com":                   "empty atom",
		"admin.@customer.com":                    "empty atom",
		"admin@customer.com\r\nBcc: y@z":         "more than one @",
		"admin@cust omer.com":                    "only letters, digits, hyphens",
		"admin@customer_x.com":                   "only letters, digits, hyphens",
		"admin@münchen.de":                       "xn--",
		"adm\u00efn@customer.com":                "only letters, digits",
		"admin(comment)@customer.com":            "no quotes",
		strings.Repeat("a", 65) + "@c.com":       "1 to 64",
		"a@" + strings.Repeat("b", 64) + ".com":  "1 to 63",
		"a@" + strings.Repeat("b.", 130) + "com": "longer than 254",
	} {
		_, err := ParseEmail(bad)
		if !errors.Is(err, ErrInvalidEmail) || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v, want ErrInvalidEmail saying %q", bad, err, says)
		}
	}
}
