package ncrontab

import (
	"math/bits"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return tm
}

func mustParse(t testing.TB, expr string) *Schedule {
	t.Helper()
	s, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return s
}

func TestNext(t *testing.T) {
	tests := []struct {
		name  string
		expr  string
		after string
		want  string // "" means never (ok=false)
	}{
		{"every 5s", "*/5 * * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:00:05Z"},
		{"every 5s from mid-interval", "*/5 * * * * *", "2024-01-01T00:00:03Z", "2024-01-01T00:00:05Z"},
		{"every 5s minute carry", "*/5 * * * * *", "2024-01-01T00:00:55Z", "2024-01-01T00:01:00Z"},
		{"sub-second base is truncated", "* * * * * *", "2024-01-01T12:00:00.5Z", "2024-01-01T12:00:01Z"},
		{"strictly after a match", "* * * * * *", "2024-01-01T12:00:00Z", "2024-01-01T12:00:01Z"},

		{"every 5 min", "0 */5 * * * *", "2024-01-01T10:02:30Z", "2024-01-01T10:05:00Z"},
		{"every 5 min on the dot", "0 */5 * * * *", "2024-01-01T10:05:00Z", "2024-01-01T10:10:00Z"},
		{"every 5 min hour carry", "0 */5 * * * *", "2024-01-01T10:55:00Z", "2024-01-01T11:00:00Z"},

		{"every 6h", "0 0 */6 * * *", "2024-01-01T05:59:59Z", "2024-01-01T06:00:00Z"},
		{"every 6h day carry", "0 0 */6 * * *", "2024-01-01T18:00:00Z", "2024-01-02T00:00:00Z"},

		{"weekdays Fri→Mon", "0 30 9 * * 1-5", "2024-01-05T09:30:00Z", "2024-01-08T09:30:00Z"},
		{"weekdays from Sat", "0 30 9 * * 1-5", "2024-01-06T12:00:00Z", "2024-01-08T09:30:00Z"},
		{"weekdays same day", "0 30 9 * * 1-5", "2024-01-08T09:00:00Z", "2024-01-08T09:30:00Z"},

		{"names Feb→Jul", "0 0 12 * JAN,JUL MON", "2024-02-01T00:00:00Z", "2024-07-01T12:00:00Z"},
		{"names next Monday", "0 0 12 * JAN,JUL MON", "2024-07-01T12:00:00Z", "2024-07-08T12:00:00Z"},
		{"names July→January", "0 0 12 * JAN,JUL MON", "2024-07-29T12:00:00Z", "2025-01-06T12:00:00Z"},
		{"names lowercase", "0 0 12 * jan,jul mon", "2024-02-01T00:00:00Z", "2024-07-01T12:00:00Z"},
		{"names full", "0 0 12 * January,July Monday", "2024-02-01T00:00:00Z", "2024-07-01T12:00:00Z"},
		{"name ranges", "0 0 0 * * MON-FRI", "2024-01-05T00:00:00Z", "2024-01-08T00:00:00Z"},

		{"list+steps first", "0 5,10-20/5,*/30 * * * *", "2024-01-01T10:00:00Z", "2024-01-01T10:05:00Z"},
		{"list+steps range", "0 5,10-20/5,*/30 * * * *", "2024-01-01T10:10:00Z", "2024-01-01T10:15:00Z"},
		{"list+steps gap", "0 5,10-20/5,*/30 * * * *", "2024-01-01T10:20:00Z", "2024-01-01T10:30:00Z"},
		{"list+steps wrap", "0 5,10-20/5,*/30 * * * *", "2024-01-01T10:30:00Z", "2024-01-01T11:00:00Z"},
		{"a/n is a-max/n", "10/20 * * * * *", "2024-01-01T00:00:50Z", "2024-01-01T00:01:10Z"},
		{"a/n hours (NCrontab test)", "0 0 3/4 * * *", "2003-12-20T10:00:00Z", "2003-12-20T11:00:00Z"},
		{"reversed range is swapped", "0 0 0 * * 5-1", "2024-01-06T00:00:00Z", "2024-01-08T00:00:00Z"},

		{"Feb 29 next leap year", "0 0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"Feb 29 same year", "0 0 0 29 2 *", "2024-01-15T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"Feb 29 skips 2100", "0 0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},
		{"Feb 29 from Feb 29", "0 0 0 29 FEB *", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"},

		{"31st skips Feb", "0 0 0 31 * *", "2024-01-31T00:00:00Z", "2024-03-31T00:00:00Z"},
		{"31st skips Apr", "0 0 0 31 * *", "2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z"},
		{"31st Jul→Aug", "0 0 0 31 * *", "2024-07-31T00:00:00Z", "2024-08-31T00:00:00Z"},
		{"30th skips Feb", "0 0 0 15,30 * *", "2024-02-15T00:00:00Z", "2024-03-15T00:00:00Z"},

		{"year rollover every second", "* * * * * *", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"},
		{"year rollover new year", "0 0 0 1 1 *", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z"},
		{"year rollover yearly", "0 0 0 1 1 *", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"},
		{"Dec only wraps year", "0 0 0 * 12 *", "2024-12-31T00:00:00Z", "2025-12-01T00:00:00Z"},

		// Day-of-month AND day-of-week (Vixie cron's OR would give 2024-01-05).
		{"Friday the 13th", "0 0 0 13 * FRI", "2024-01-01T00:00:00Z", "2024-09-13T00:00:00Z"},
		{"Friday the 13th again", "0 0 0 13 * FRI", "2024-09-13T00:00:00Z", "2024-12-13T00:00:00Z"},
		{"1st that is Monday (NCrontab test)", "0 45 16 1 * Mon", "2003-01-01T12:00:00Z", "2003-09-01T16:45:00Z"},
		{"Feb 29 on Monday", "0 0 0 29 2 1", "2024-03-01T00:00:00Z", "2044-02-29T00:00:00Z"},

		{"never Feb 30", "0 0 0 30 2 *", "2024-01-01T00:00:00Z", ""},
		{"never Feb 31", "0 0 0 31 FEB *", "2024-01-01T00:00:00Z", ""},
		{"never 31st in 30-day months", "0 0 0 31 4,6,9,11 *", "2024-01-01T00:00:00Z", ""},
		{"never even with dow", "0 0 0 30 2 MON", "2024-01-01T00:00:00Z", ""},
		// NCrontab stops at DateTime.MaxValue (year 9999).
		{"last Feb 29 Monday before 10000", "0 0 0 29 2 MON", "9988-01-01T00:00:00Z", "9988-02-29T00:00:00Z"},
		{"none left before year 10000", "0 0 0 29 2 MON", "9988-02-29T00:00:00Z", ""},
		{"last second of 9999", "* * * * * *", "9999-12-31T23:59:58Z", "9999-12-31T23:59:59Z"},
		{"past year 9999", "* * * * * *", "9999-12-31T23:59:59Z", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.expr)
			after := mustTime(t, tc.after)
			got, ok := s.Next(after)
			if tc.want == "" {
				if ok {
					t.Fatalf("Parse(%q).Next(%s) = %s, want never", tc.expr, tc.after, got.Format(time.RFC3339))
				}
				return
			}
			want := mustTime(t, tc.want)
			if !ok || !got.Equal(want) {
				t.Fatalf("Parse(%q).Next(%s) = %s, %v; want %s", tc.expr, tc.after, got.Format(time.RFC3339), ok, tc.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("Next returned location %v, want UTC", got.Location())
			}
		})
	}
}

func TestNextConvertsToUTC(t *testing.T) {
	s := mustParse(t, "0 0 9 * * *")
	// 08:30 in UTC+02:00 is 06:30 UTC, so the next 09:00 UTC is the same day.
	after := time.Date(2024, 1, 1, 8, 30, 0, 0, time.FixedZone("X", 2*3600))
	got, ok := s.Next(after)
	want := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	if !ok || !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Next(%v) = %v, %v; want %v", after, got, ok, want)
	}
}

// values lists a field's bit set, for checking parse semantics directly.
func values(set uint64) []int {
	var out []int
	for set != 0 {
		v := bits.TrailingZeros64(set)
		out = append(out, v)
		set &^= 1 << v
	}
	return out
}

func TestFieldExpansion(t *testing.T) {
	tests := []struct {
		expr  string
		field int
		want  []int
	}{
		{"*/15 * * * * *", fSecond, []int{0, 15, 30, 45}},
		{"0 5,10-20/5,*/30 * * * *", fMinute, []int{0, 5, 10, 15, 20, 30}},
		{"0 0 3/4 * * *", fHour, []int{3, 7, 11, 15, 19, 23}},
		{"0 0 0 */10 * *", fDOM, []int{1, 11, 21, 31}},
		{"0 0 0 * */3 *", fMonth, []int{1, 4, 7, 10}},
		{"0 0 0 * * */2", fDOW, []int{0, 2, 4, 6}},
		{"0 0 23/5 * * *", fHour, []int{23}},
		{"0 0 20-10/5 * * *", fHour, []int{10, 15, 20}}, // swapped, then stepped
		{"0 0 0 * * FRI-MON", fDOW, []int{1, 2, 3, 4, 5}},
		{"0 0 0 * * 0,6", fDOW, []int{0, 6}},
		{"0 0 0 * * sun,SAT", fDOW, []int{0, 6}},
		{"0 0 0 * */100 *", fMonth, []int{1}},
		// Names match as prefixes of the full name, first in calendar order.
		{"0 0 0 * J *", fMonth, []int{1}},
		{"0 0 0 * Ju *", fMonth, []int{6}},
		{"0 0 0 * jul *", fMonth, []int{7}},
		{"0 0 0 * SEPT-October *", fMonth, []int{9, 10}},
		{"0 0 0 * DECEM *", fMonth, []int{12}},
		{"0 0 0 * * T", fDOW, []int{2}},
		{"0 0 0 * * th", fDOW, []int{4}},
		{"0 0 0 * * wednesday", fDOW, []int{3}},
		{"0 0 0 * 1-MAR *", fMonth, []int{1, 2, 3}},
	}
	for _, tc := range tests {
		s := mustParse(t, tc.expr)
		sets := [numFields]uint64{s.second, s.minute, s.hour, s.dom, s.month, s.dow}
		if got := values(sets[tc.field]); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) %s = %v, want %v", tc.expr, fieldSpecs[tc.field].name, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr    string
		wantErr string // substring of the error, besides the quoted expression
	}{
		{"", "0 fields"},
		{"   ", "0 fields"},
		{"0 */5 * * *", "leading seconds field"},
		{"0 0 0 * * * 2024", "7 fields"},
		{"* * * *", "4 fields"},
		{"60 * * * * *", "second field"},
		{"* 60 * * * *", "minute field"},
		{"* * 24 * * *", "hour field"},
		{"* * * 0 * *", "day-of-month field"},
		{"* * * 32 * *", "day-of-month field"},
		{"* * * 0-5 * *", "out of range 1-31"},
		{"* * * * 13 *", "month field"},
		{"* * * * 0 *", "month field"},
		{"* * * * * 7", "day-of-week field"},
		{"* * * * * 8", "out of range 0-6"},
		{"* * * * * 5-7", "day-of-week field"},
		{"* * * * * SUN-7", "day-of-week field"},
		{"*/0 * * * * *", "step"},
		{"0 0 1-5/0 * * *", "step"},
		{"0 0 5/0 * * *", "step"},
		{"*/-1 * * * * *", "step"},
		{"*/+2 * * * * *", "step"},
		{"*/ * * * * *", "step"},
		{"/5 * * * * *", "second field"},
		{"*/5/2 * * * * *", "step"},
		{"*/9999999999 * * * * *", "step"},
		{"99999999999 * * * * *", "second field"},
		{"1-2-3 * * * * *", "second field"},
		{"5- * * * * *", "empty value"},
		{"-5 * * * * *", "second field"},
		{"1,,2 * * * * *", "empty list element"},
		{",1 * * * * *", "empty list element"},
		{"1, * * * * *", "empty list element"},
		{"+5 * * * * *", "second field"},
		{"0x10 * * * * *", "second field"},
		{"a * * * * *", "not a number"},
		{"JAN * * * * *", "second field"},
		{"* * * MON * *", "day-of-month field"},
		{"* * * * FOO *", "month name"},
		{"* * * * * FRIDAYS", "day-of-week name"},
		{"* * * * * mon,bad,wed", "day-of-week field"},
		{"* * * * * ＭＯＮ", "day-of-week field"},
		{"** * * * * *", "second field"},
		{"*-5 * * * * *", "second field"},
		{"0\t0 * * * *", "5 fields"}, // only ' ' separates fields
		{"0 0 0 * * *\n", "day-of-week field"},
		{"hello world", "2 fields"},
		{"garbage", "TimeSpan"},
		{"*", "TimeSpan"},
		{"@daily", "TimeSpan"},
		{"00:00:00", "positive"},
		{"-00:05:00", "positive"},
		{"24:00:00", "hours"},
		{"00:60:00", "minutes"},
		{"00:00:60", "seconds"},
		{"1.2.3", "TimeSpan format"},
		{"00:05:", "TimeSpan"},
		{"1:2:3:4:5", "TimeSpan format"},
		{"0:0:0.12345678", "fraction"},
		{"10675199.00:00:00", "too long"},
		{"10675200", "days"},
	}
	for _, tc := range tests {
		s, err := Parse(tc.expr)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error", tc.expr, s)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, strconv.Quote(tc.expr)) {
			t.Errorf("Parse(%q) error %q does not name the expression", tc.expr, msg)
		}
		if !strings.Contains(msg, tc.wantErr) {
			t.Errorf("Parse(%q) error %q does not mention %q", tc.expr, msg, tc.wantErr)
		}
	}
}

func TestFiveFieldHint(t *testing.T) {
	_, err := Parse("*/5 * * * *")
	if err == nil || !strings.Contains(err.Error(), `"0 */5 * * * *"`) {
		t.Fatalf("error %v should suggest the six-field form", err)
	}
}

func TestInterval(t *testing.T) {
	tests := []struct {
		expr string
		want time.Duration
	}{
		{"00:05:00", 5 * time.Minute},
		{"0:5:0", 5 * time.Minute},
		{"01:30", 90 * time.Minute},
		{"00:00:01", time.Second},
		{"00:00:00.5", 500 * time.Millisecond},
		{"0:0:0.0000001", 100 * time.Nanosecond},
		{"1.02:03:04", 26*time.Hour + 3*time.Minute + 4*time.Second},
		{"1.02:03", 26*time.Hour + 3*time.Minute},
		{"1.02:03:04.25", 26*time.Hour + 3*time.Minute + 4250*time.Millisecond},
		{"1:02:03:04", 26*time.Hour + 3*time.Minute + 4*time.Second},
		{"1:02:03:04.5", 26*time.Hour + 3*time.Minute + 4500*time.Millisecond},
		{"7", 7 * 24 * time.Hour}, // a bare number is days in .NET
		{"  00:05:00 ", 5 * time.Minute},
		{"000023:059:0059", 23*time.Hour + 59*time.Minute + 59*time.Second},
		{"106751.00:00:00", 106751 * 24 * time.Hour},
	}
	after := time.Date(2024, 1, 1, 0, 0, 0, 123, time.FixedZone("X", 3600))
	for _, tc := range tests {
		s := mustParse(t, tc.expr)
		iv, ok := s.Interval()
		if !ok || iv != tc.want {
			t.Errorf("Parse(%q).Interval() = %v, %v; want %v", tc.expr, iv, ok, tc.want)
			continue
		}
		got, ok := s.Next(after)
		if want := after.UTC().Add(tc.want); !ok || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("Parse(%q).Next(%v) = %v, %v; want %v", tc.expr, after, got, ok, want)
		}
		if s.String() != tc.expr {
			t.Errorf("String() = %q, want %q", s.String(), tc.expr)
		}
	}
	if _, ok := mustParse(t, "0 * * * * *").Interval(); ok {
		t.Error("cron schedule reported an interval")
	}
}

func TestString(t *testing.T) {
	for _, expr := range []string{"0 */5 * * * *", "  0  0 12 * jan,JUL Mon ", "00:05:00"} {
		if got := mustParse(t, expr).String(); got != expr {
			t.Errorf("String() = %q, want %q", got, expr)
		}
	}
}

func TestZeroAndNilScheduleNeverFire(t *testing.T) {
	var zero Schedule
	if got, ok := zero.Next(time.Now()); ok {
		t.Errorf("zero Schedule fired at %v", got)
	}
	var nilSched *Schedule
	if got, ok := nilSched.Next(time.Now()); ok {
		t.Errorf("nil Schedule fired at %v", got)
	}
}

// bruteNext is a slow, independent oracle: walk day by day, then through
// each second of a matching day. Bounded by maxDays.
func bruteNext(s *Schedule, after time.Time, maxDays int) (time.Time, bool) {
	after = after.UTC()
	day := time.Date(after.Year(), after.Month(), after.Day(), 0, 0, 0, 0, time.UTC)
	for i := 0; i < maxDays; i, day = i+1, day.AddDate(0, 0, 1) {
		if day.Year() > 9999 {
			return time.Time{}, false
		}
		if s.month&(1<<int(day.Month())) == 0 || s.dom&(1<<day.Day()) == 0 || s.dow&(1<<int(day.Weekday())) == 0 {
			continue
		}
		for h := 0; h < 24; h++ {
			if s.hour&(1<<h) == 0 {
				continue
			}
			for m := 0; m < 60; m++ {
				if s.minute&(1<<m) == 0 {
					continue
				}
				for sec := 0; sec < 60; sec++ {
					if s.second&(1<<sec) == 0 {
						continue
					}
					c := day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second)
					if c.After(after) {
						return c, true
					}
				}
			}
		}
	}
	return time.Time{}, false
}

func TestNextMatchesBruteForce(t *testing.T) {
	exprs := []string{
		"* * * * * *",
		"*/7 * * * * *",
		"30 */13 * * * *",
		"0 0 */5 * * *",
		"15 45 23 * * *",
		"0 0 0 31 * *",
		"0 0 12 29 2 *",
		"0 0 12 13 * FRI",
		"0 30 9 * * MON-FRI",
		"0 0 0 1 JAN,JUL MON",
		"5-10,50 59 23 28-31 * SAT,SUN",
		"0 0 0 * 2 *",
		"0 0 6/6 * * *",
	}
	rng := rand.New(rand.NewSource(1))
	start := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, expr := range exprs {
		s := mustParse(t, expr)
		for i := 0; i < 40; i++ {
			after := start.Add(time.Duration(rng.Int63n(int64(120 * 365 * 24 * time.Hour))))
			if i%2 == 0 {
				after = after.Truncate(time.Second)
			}
			want, wantOK := bruteNext(s, after, 366*12)
			got, ok := s.Next(after)
			if ok != wantOK || !got.Equal(want) {
				t.Errorf("Parse(%q).Next(%s) = %s, %v; brute force %s, %v",
					expr, after.Format(time.RFC3339Nano), got, ok, want, wantOK)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"*/5 * * * * *", "0 */5 * * * *", "0 0 */6 * * *", "0 30 9 * * 1-5",
		"0 0 12 * JAN,JUL MON", "0 5,10-20/5,*/30 * * * *", "0 0 0 29 2 *",
		"0 0 0 31 * *", "0 0 0 13 * FRI", "0 0 0 30 2 *", "0 0 0 29 2 MON",
		"10/20 * * * * *", "0 0 0 * * 5-1", "00:05:00", "1.02:03:04.5", "7",
		"0 */5 * * *", "60 * * * * *", "*/0 * * * * *", "garbage", "",
	}
	for i, s := range seeds {
		f.Add(s, int64(1704067200+i*86399), uint32(i*1000003))
	}
	const (
		minUnix = -62135596800 // 0001-01-01T00:00:00Z
		maxUnix = 253402300799 // 9999-12-31T23:59:59Z
	)
	f.Fuzz(func(t *testing.T, expr string, sec int64, nsec uint32) {
		s, err := Parse(expr)
		if err != nil {
			if s != nil {
				t.Fatalf("Parse(%q) returned both a schedule and error %v", expr, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(expr)) {
				t.Fatalf("Parse(%q) error %q does not name the expression", expr, err)
			}
			return
		}
		if s.String() != expr {
			t.Fatalf("String() = %q, want %q", s.String(), expr)
		}
		span := int64(maxUnix - minUnix)
		after := time.Unix(minUnix+((sec%span)+span)%span, int64(nsec%1e9)).UTC()

		n, ok := s.Next(after)
		if !ok {
			return
		}
		if !n.After(after) {
			t.Fatalf("Parse(%q).Next(%s) = %s, not after", expr, after, n)
		}
		if n.Location() != time.UTC {
			t.Fatalf("Next returned location %v", n.Location())
		}
		if iv, isInterval := s.Interval(); isInterval {
			if !n.Equal(after.Add(iv)) {
				t.Fatalf("interval Next(%s) = %s, want +%v", after, n, iv)
			}
			return
		}
		if n.Nanosecond() != 0 {
			t.Fatalf("Parse(%q).Next(%s) = %s, not a whole second", expr, after, n)
		}
		if again, ok2 := s.Next(n.Add(-time.Nanosecond)); !ok2 || !again.Equal(n) {
			t.Fatalf("Parse(%q): Next(Next(t)-1ns) = %s, %v; want %s", expr, again, ok2, n)
		}
		// Nothing may be skipped: check every second in between when cheap.
		if n.Sub(after) <= 10*time.Minute {
			if want, _ := bruteNext(s, after, 2); !want.Equal(n) {
				t.Fatalf("Parse(%q).Next(%s) = %s, brute force %s", expr, after, n, want)
			}
		}
	})
}
