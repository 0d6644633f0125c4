package store

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

func TestEscapeKey(t *testing.T) {
	guid := "0f8fad5b-d9cb-469f-a165-70867728950e"
	if EscapeKey(guid) != guid {
		t.Errorf("a GUID changed: %s", EscapeKey(guid))
	}
	inputs := []string{
		"a/b", "a\\b", "a#b", "a?b", "a\x01b", "a\x7fb", "a\u0085b", "o'brien@contoso.com", "100%",
		"john_contoso.com#EXT#@tenant.onmicrosoft.com", "a!2Fb", "a!b", "ünï", "a b", "a+b",
	}
	seen := map[string]string{}
	for _, in := range inputs {
		out := EscapeKey(in)
		if strings.ContainsAny(out, "/\\#?'%") || strings.ContainsFunc(out, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
			t.Errorf("EscapeKey(%q) = %q keeps a forbidden or awkward character", in, out)
		}
		if prev, dup := seen[out]; dup {
			t.Errorf("EscapeKey(%q) == EscapeKey(%q) == %q", in, prev, out)
		}
		seen[out] = in
	}
	long := strings.Repeat("x/", 1000)
	if k := EscapeKey(long); len(k) > maxKeyLen || k != EscapeKey(long) || k == EscapeKey(long+"y") {
		t.Errorf("long key: %d chars, stable/unique broken", len(k))
	}
	if MailboxKey(" Alice.Smith@Contoso.COM ") != "alice.smith@contoso.com" {
		t.Error("MailboxKey does not normalise the UPN")
	}
}

type textish struct{ s string }

func (x textish) MarshalText() ([]byte, error) { return []byte("text:" + x.s), nil }

type Embedded struct {
	Inner string `json:"inner"`
}

type exotic struct {
	Embedded
	ID        string            `json:"id"`
	Kind      kindString        `json:"kind"`
	Big       int64             `json:"big"`
	Small     int8              `json:"small"`
	Unsigned  uint              `json:"unsigned"`
	Ratio     float64           `json:"ratio"`
	Tags      map[string]int    `json:"tags"`
	Nested    struct{ A []int } `json:"nested"`
	NilPtr    *bool             `json:"nilPtr"`
	NilSlice  []string          `json:"nilSlice"`
	Bytes     []byte            `json:"bytes"`
	Zero      time.Time         `json:"zero"`
	Local     time.Time         `json:"local"`
	Addr      netip.Addr        `json:"addr"`
	Text      textish           `json:"text"`
	Any       any               `json:"any"`
	Skipped   string            `json:"-"`
	Empty     string            `json:"empty,omitempty"`
	ZeroTime  time.Time         `json:"zeroTime,omitzero"`
	EmptyStr  string            `json:"emptyStr"`
	unexp     int
	WithEmoji string `json:"withEmoji"`
}

type kindString string

func TestEncodeDecodeRoundTrip(t *testing.T) {
	v := exotic{
		Embedded: Embedded{Inner: "in"}, ID: "x", Kind: "security", Big: -1 << 62, Small: -5, Unsigned: 1 << 40,
		Ratio: 0.25, Tags: map[string]int{"b": 2, "a": 1}, Bytes: []byte{1, 2, 3},
		Local: time.Date(2024, 2, 29, 23, 30, 0, 0, time.FixedZone("CET", 3600)),
		Addr:  netip.MustParseAddr("192.0.2.1"), Text: textish{"t"}, Any: []any{"x", 1.5},
		WithEmoji: strings.Repeat("😀", 20_000), // 40,000 UTF-16 units: split, never inside a pair
	}
	v.Nested.A = []int{1, 2}
	enc, err := encodeEntity(newTenant(t), "x", v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(enc.body, &m)
	for name, val := range m {
		if s, ok := val.(string); ok && len(utf16.Encode([]rune(s))) > maxStringUnits {
			t.Errorf("%s holds %d UTF-16 units", name, len(utf16.Encode([]rune(s))))
		}
	}
	if m["Big@odata.type"] != "Edm.Int64" || m["Local@odata.type"] != "Edm.DateTime" || m["Zero@odata.type"] != nil {
		t.Errorf("types: big %v local %v zero %v", m["Big@odata.type"], m["Local@odata.type"], m["Zero@odata.type"])
	}
	got, err := entityJSON(enc.body)
	if err != nil {
		t.Fatal(err)
	}
	// Times come back in UTC (the instant is kept); everything else is encoding/json's output.
	v.Local = v.Local.UTC()
	want, _ := json.Marshal(v)
	if canonical(t, got) != canonical(t, want) {
		t.Errorf("round trip\n got %s\nwant %s", trim(got), trim(want))
	}
	// The hash ignores the time zone of an equal instant and changes with content.
	v.Local = v.Local.In(time.FixedZone("X", -7200))
	enc2, _ := encodeEntity("p", "x", v)
	v.Ratio = 0.5
	enc3, _ := encodeEntity("p", "x", v)
	if enc2.hash != enc.hash || enc3.hash == enc.hash {
		t.Error("content hash is not a function of the content")
	}
}

func trim(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

func TestEncoderRefusals(t *testing.T) {
	type reserved struct {
		Hash string `json:"hash"`
	}
	type untagged struct{ ID string }
	type secret struct {
		Token string `json:"token" secret:"true"`
	}
	for name, v := range map[string]any{
		"not a struct": "x", "reserved name": reserved{}, "untagged": untagged{}, "secret": secret{},
	} {
		if _, err := encodeEntity("p", "r", v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEntitySizeFormula(t *testing.T) {
	// 4 + 2*len("pk"+"rk") + (8 + 2*len("S") + 4 + 2*3) + (8 + 2*len("N") + 4) + (8+2*len("B")+1)
	size, count := entitySize(map[string]any{"PartitionKey": "pk", "RowKey": "rk", "S": "abc", "N": int64(1), "B": true})
	if want := 4 + 8 + (8 + 2 + 4 + 6) + (8 + 2 + 4) + (8 + 2 + 1); size != want || count != 3 {
		t.Fatalf("size %d count %d, want %d 3", size, count, want)
	}
}
