// Package ncrontab parses and evaluates Azure Functions timer-trigger
// schedules the way the Functions host does.
//
// The host (Azure/azure-webjobs-sdk-extensions, Extensions/Timers/Scheduling/
// TimerSchedule.Create) first tries the expression as an NCrontab cron
// expression (CronSchedule.TryCreate, atifaziz/NCrontab with seconds) and,
// only if that fails, as a .NET TimeSpan, which becomes a ConstantSchedule
// firing every interval. Both forms are accepted by Parse.
//
// Semantics below were checked against NCrontab's source (file names are in
// atifaziz/NCrontab/NCrontab/):
//
//   - Fields are split on the space character only, runs of spaces collapse
//     (CrontabSchedule.TryParse: Split(' ', RemoveEmptyEntries)). Tabs and
//     newlines are not separators, so they make a field invalid.
//   - Ranges: second 0-59, minute 0-59, hour 0-23, day-of-month 1-31,
//     month 1-12, day-of-week 0-6 with 0 = Sunday; 7 is rejected
//     (CrontabFieldImpl: the static Second..DayOfWeek field definitions).
//   - Element forms (CrontabFieldImpl.InternalParse): list "a,b", step "x/n",
//     "*", range "a-b", single value. "a/n" means "a-max/n" (not "a only").
//     A reversed range "5-1" is silently swapped to "1-5", not wrapped
//     (CrontabField.Accumulate).
//   - Month and day names (CrontabFieldImpl.ParseValue) are matched as a
//     case-insensitive prefix of the full English name, first match in
//     calendar order: "Jan", "JANUARY", "j" all mean 1; "Ju" means June;
//     "T" means Tuesday. Names are rejected in the numeric fields.
//   - Day-of-month and day-of-week combine with AND, unlike Vixie cron's OR:
//     TryGetNextOccurrence first finds a date matching day-of-month and
//     month, then rejects it unless daysOfWeek.Contains(DayOfWeek) and
//     retries from 23:59:59 that day. "0 0 0 13 * FRI" is Friday the 13th.
//   - A day-of-month past the end of the month is skipped, not clamped
//     ("day > 28 && ... > GetDaysInMonth" → retry next month).
//   - The next occurrence is strictly after the base time at whole-second
//     precision (baseSecond + 1, sub-second part dropped).
//   - Searching past year 9999 stops and yields DateTime.MaxValue, so an
//     impossible schedule such as "0 0 0 30 2 *" never loops forever; here
//     Next reports ok=false for it and for anything after 9999-12-31.
//
// Deliberate differences from the host, on the project's instructions:
//
//   - Only six-field cron expressions are accepted. The host also accepts
//     five fields (minute precision) since azure-webjobs-sdk-extensions #310
//     (CronSchedule.HasSeconds: IncludingSeconds = fieldCount != 5), but the
//     Azure Functions documentation requires six; Parse rejects five with a
//     hint to add a leading seconds field.
//   - Step values must be a positive decimal number. NCrontab accepts "*/0"
//     (and signed steps such as "*/-1" or "*/+2") and treats steps below 1 as
//     1 (CrontabField.Accumulate "if (interval < 1) interval = 1").
//   - Values and steps must be plain ASCII digits; .NET int.Parse would
//     also tolerate trailing whitespace such as tabs.
//   - TimeSpan intervals must be positive (the host would fire a zero or
//     negative interval continuously) and fit in a time.Duration (~292
//     years; .NET allows ~29,000), and fractions take at most 7 digits.
package ncrontab

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"
	"unicode"
)

// Schedule is a parsed timer schedule: either a six-field NCrontab expression
// or a constant interval. The zero value never fires.
type Schedule struct {
	expr string

	// interval > 0 marks a constant-interval (TimeSpan) schedule.
	interval time.Duration

	// Allowed values as bit sets, bit v set when value v is allowed.
	second, minute, hour, dom, month, dow uint64

	// feasible is false when no (month, day-of-month) pair is a real date,
	// e.g. "30 2"; such a schedule never fires. Any real date falls on every
	// weekday within one 400-year Gregorian cycle, so the day-of-week field
	// cannot make a feasible schedule infeasible.
	feasible bool
}

// Field indexes, in expression order (seconds first).
const (
	fSecond = iota
	fMinute
	fHour
	fDOM
	fMonth
	fDOW
	numFields
)

type fieldSpec struct {
	name     string
	min, max int
	names    []string // full English names, min..max; nil for numeric-only fields
}

var fieldSpecs = [numFields]fieldSpec{
	fSecond: {name: "second", min: 0, max: 59},
	fMinute: {name: "minute", min: 0, max: 59},
	fHour:   {name: "hour", min: 0, max: 23},
	fDOM:    {name: "day-of-month", min: 1, max: 31},
	fMonth: {name: "month", min: 1, max: 12, names: []string{
		"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December",
	}},
	fDOW: {name: "day-of-week", min: 0, max: 6, names: []string{
		"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	}},
}

// maxYear mirrors .NET's DateTime.MaxValue year: NCrontab gives up beyond it.
const maxYear = 9999

// Parse parses an Azure Functions timer schedule: a six-field NCrontab
// expression "sec min hour day-of-month month day-of-week", or a TimeSpan
// string such as "00:05:00" meaning a constant interval.
func Parse(expr string) (*Schedule, error) {
	// NCrontab splits on ' ' only and drops empty entries.
	var tokens []string
	for _, t := range strings.Split(expr, " ") {
		if t != "" {
			tokens = append(tokens, t)
		}
	}

	switch len(tokens) {
	case numFields:
		return parseCron(expr, tokens)
	case 1:
		// The host falls back to TimeSpan.TryParse only when the cron parse
		// fails; a single token can never be a cron expression.
		iv, err := parseInterval(expr)
		if err != nil {
			return nil, fmt.Errorf("ncrontab: invalid schedule %q: not a 6-field cron expression "+
				"(second minute hour day-of-month month day-of-week) and not a TimeSpan interval like \"00:05:00\": %v",
				expr, err)
		}
		return &Schedule{expr: expr, interval: iv}, nil
	case 5:
		return nil, fmt.Errorf("ncrontab: invalid schedule %q: has 5 fields, want 6 "+
			"(second minute hour day-of-month month day-of-week); a five-field cron expression "+
			"needs a leading seconds field, e.g. %q", expr, "0 "+strings.Join(tokens, " "))
	default:
		return nil, fmt.Errorf("ncrontab: invalid schedule %q: has %d fields, want 6 "+
			"(second minute hour day-of-month month day-of-week) or a TimeSpan interval like \"00:05:00\"",
			expr, len(tokens))
	}
}

func parseCron(expr string, tokens []string) (*Schedule, error) {
	var sets [numFields]uint64
	for i, tok := range tokens {
		set, err := parseField(&fieldSpecs[i], tok)
		if err != nil {
			return nil, fmt.Errorf("ncrontab: invalid schedule %q: %s field %q: %v",
				expr, fieldSpecs[i].name, tok, err)
		}
		sets[i] = set
	}
	s := &Schedule{
		expr:   expr,
		second: sets[fSecond],
		minute: sets[fMinute],
		hour:   sets[fHour],
		dom:    sets[fDOM],
		month:  sets[fMonth],
		dow:    sets[fDOW],
	}
	s.feasible = s.hasRealDate()
	return s, nil
}

// hasRealDate reports whether some allowed month has some allowed day.
func (s *Schedule) hasRealDate() bool {
	if s.second == 0 || s.minute == 0 || s.hour == 0 || s.dow == 0 {
		return false
	}
	for m := 1; m <= 12; m++ {
		if s.month&(1<<m) == 0 {
			continue
		}
		// 2000 is a leap year, so February may have its 29th.
		last := daysIn(2000, m)
		if s.dom&(1<<(last+1)-1) != 0 {
			return true
		}
	}
	return false
}

// parseField parses one comma-separated field into a bit set.
func parseField(spec *fieldSpec, tok string) (uint64, error) {
	var set uint64
	for _, elem := range strings.Split(tok, ",") {
		lo, hi, step, err := parseElement(spec, elem)
		if err != nil {
			return 0, err
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << v
		}
	}
	return set, nil
}

// parseElement parses "*", "v", "a-b", each optionally followed by "/step",
// into an inclusive range and step.
func parseElement(spec *fieldSpec, elem string) (lo, hi, step int, err error) {
	if elem == "" {
		return 0, 0, 0, errors.New("empty list element")
	}
	base, stepStr, hasStep := strings.Cut(elem, "/")
	step = 1
	if hasStep {
		if base == "" {
			return 0, 0, 0, fmt.Errorf("step %q has nothing to step over", elem)
		}
		n, ok := parseDigits(stepStr)
		if !ok || n < 1 {
			return 0, 0, 0, fmt.Errorf("step %q must be a number from 1 to 999999999", stepStr)
		}
		step = n
	}

	if base == "*" {
		return spec.min, spec.max, step, nil
	}

	if a, b, isRange := strings.Cut(base, "-"); isRange && a != "" {
		if lo, err = spec.value(a); err != nil {
			return 0, 0, 0, err
		}
		if hi, err = spec.value(b); err != nil {
			return 0, 0, 0, err
		}
		// NCrontab swaps a reversed range rather than wrapping around.
		if lo > hi {
			lo, hi = hi, lo
		}
		if err = spec.check(lo); err != nil {
			return 0, 0, 0, err
		}
		if err = spec.check(hi); err != nil {
			return 0, 0, 0, err
		}
		return lo, hi, step, nil
	}

	v, err := spec.value(base)
	if err != nil {
		return 0, 0, 0, err
	}
	if err = spec.check(v); err != nil {
		return 0, 0, 0, err
	}
	if hasStep {
		// NCrontab reads "a/n" as "a-max/n".
		return v, spec.max, step, nil
	}
	return v, v, 1, nil
}

func (spec *fieldSpec) check(v int) error {
	if v < spec.min || v > spec.max {
		return fmt.Errorf("value %d out of range %d-%d", v, spec.min, spec.max)
	}
	return nil
}

// value parses a number, or for month/day-of-week a name prefix.
func (spec *fieldSpec) value(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty value")
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, ok := parseDigits(s)
		if !ok {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		return n, nil
	}
	if spec.names == nil {
		return 0, fmt.Errorf("%q is not a number between %d and %d", s, spec.min, spec.max)
	}
	// ASCII-only: a non-ASCII input can't be a prefix of an English name,
	// and this keeps Unicode case folding out of the match.
	if isASCII(s) {
		lower := strings.ToLower(s)
		for i, name := range spec.names {
			if strings.HasPrefix(strings.ToLower(name), lower) {
				return spec.min + i, nil
			}
		}
	}
	return 0, fmt.Errorf("%q is not a number or a known %s name (%s)",
		s, spec.name, strings.Join(spec.names, ", "))
}

// parseDigits parses a non-empty run of ASCII digits. Huge values are
// reported as not ok rather than overflowing.
func parseDigits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// String returns the expression exactly as given to Parse.
func (s *Schedule) String() string {
	if s == nil {
		return ""
	}
	return s.expr
}

// Interval returns the interval of a constant (TimeSpan) schedule, and false
// for a cron schedule.
func (s *Schedule) Interval() (time.Duration, bool) {
	if s == nil || s.interval <= 0 {
		return 0, false
	}
	return s.interval, true
}

// Next returns the first occurrence strictly after `after`, in UTC. ok is
// false if the schedule never fires (or would only fire after year 9999, as
// NCrontab gives up there).
//
// A constant-interval schedule returns after+interval, as the host's
// ConstantSchedule adds the interval to the time it is given rather than
// aligning to a wall-clock grid.
func (s *Schedule) Next(after time.Time) (time.Time, bool) {
	if s == nil {
		return time.Time{}, false
	}
	after = after.UTC()
	if s.interval > 0 {
		return after.Add(s.interval), true
	}
	if !s.feasible {
		return time.Time{}, false
	}

	y, mo, d := after.Date()
	h, mi, sec := after.Clock()
	// Whole-second precision: the candidate after 12:00:00.5 is 12:00:01.
	return s.search(y, int(mo), d, h, mi, sec+1)
}

// search finds the earliest matching time at or after the given, possibly
// overflowing (e.g. sec == 60), calendar components. Each step either
// returns or moves the candidate forward to the next value allowed by the
// first mismatching field (largest unit first), resetting smaller units.
func (s *Schedule) search(y, mo, d, h, mi, sec int) (time.Time, bool) {
	// A feasible schedule fires within any 400-year Gregorian cycle; the
	// extra bound only guards against bugs.
	limit := min(y+401, maxYear)
	for {
		// Carry overflowing components upward.
		if sec > 59 {
			sec, mi = 0, mi+1
		}
		if mi > 59 {
			mi, h = 0, h+1
		}
		if h > 23 {
			h, d = 0, d+1
		}
		if d > daysIn(y, mo) {
			d, mo = 1, mo+1
		}
		if mo > 12 {
			mo, y = 1, y+1
		}
		if y > limit {
			return time.Time{}, false
		}

		if n := nextIn(s.month, mo); n != mo {
			mo, d, h, mi, sec = orOver(n, 13), 1, 0, 0, 0
			continue
		}
		if n := nextIn(s.dom, d); n != d {
			// A day past this month's end (e.g. the 31st in April) pushes on
			// to the next month rather than being clamped.
			d, h, mi, sec = orOver(n, 32), 0, 0, 0
			continue
		}
		// AND, not Vixie's OR: the date must also match day-of-week.
		if s.dow&(1<<int(weekday(y, mo, d))) == 0 {
			d, h, mi, sec = d+1, 0, 0, 0
			continue
		}
		if n := nextIn(s.hour, h); n != h {
			h, mi, sec = orOver(n, 24), 0, 0
			continue
		}
		if n := nextIn(s.minute, mi); n != mi {
			mi, sec = orOver(n, 60), 0
			continue
		}
		if n := nextIn(s.second, sec); n != sec {
			sec = orOver(n, 60)
			continue
		}
		return time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC), true
	}
}

// nextIn returns the smallest value >= v in set, or -1 if none.
func nextIn(set uint64, v int) int {
	if v < 0 || v > 63 {
		return -1
	}
	rest := set >> uint(v) << uint(v)
	if rest == 0 {
		return -1
	}
	return bits.TrailingZeros64(rest)
}

// orOver maps "no next value" (-1) to an overflow value that carries.
func orOver(n, over int) int {
	if n < 0 {
		return over
	}
	return n
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	default:
		return 31
	}
}

func weekday(y, m, d int) time.Weekday {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Weekday()
}

// parseInterval parses a .NET TimeSpan the way TimeSpan.TryParse does for the
// invariant and en-US cultures (dotnet/runtime TimeSpanParse.cs):
//
//	d | h:m | h:m:s | d.h:m | d.h:m:s | h:m:s.f | d.h:m:s.f | d:h:m:s | d:h:m:s.f
//
// with an optional leading '-' and surrounding whitespace; h 0-23, m and s
// 0-59, f 1-7 digits. The rarely used "h:m:.f" app-compat form is not
// supported. Only positive intervals are accepted.
func parseInterval(expr string) (time.Duration, error) {
	s := strings.TrimFunc(expr, unicode.IsSpace)
	neg := false
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		neg, s = true, rest
	}

	// Split into digit runs and the separators between them.
	var nums []string
	var seps []byte
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("unexpected %q", s[i:])
		}
		nums = append(nums, s[i:j])
		if j == len(s) {
			break
		}
		if c := s[j]; (c != ':' && c != '.') || j+1 == len(s) {
			return 0, fmt.Errorf("unexpected %q", s[j:])
		}
		seps = append(seps, s[j])
		i = j + 1
	}
	if len(nums) == 0 {
		return 0, errors.New("empty")
	}

	var days, hours, mins, secs, frac string
	switch string(seps) {
	case "":
		days = nums[0]
	case ":":
		hours, mins = nums[0], nums[1]
	case "::":
		hours, mins, secs = nums[0], nums[1], nums[2]
	case ".:":
		days, hours, mins = nums[0], nums[1], nums[2]
	case ".::", ":::":
		days, hours, mins, secs = nums[0], nums[1], nums[2], nums[3]
	case "::.":
		hours, mins, secs, frac = nums[0], nums[1], nums[2], nums[3]
	case ".::.", ":::.":
		days, hours, mins, secs, frac = nums[0], nums[1], nums[2], nums[3], nums[4]
	default:
		return 0, errors.New("not in a TimeSpan format such as [d.]hh:mm[:ss[.fffffff]]")
	}

	total := time.Duration(0)
	for _, p := range []struct {
		name string
		s    string
		max  int
		unit time.Duration
	}{
		{"days", days, 10675199, 24 * time.Hour},
		{"hours", hours, 23, time.Hour},
		{"minutes", mins, 59, time.Minute},
		{"seconds", secs, 59, time.Second},
	} {
		if p.s == "" {
			continue
		}
		// .NET allows any number of leading zeros.
		n, ok := 0, true
		if digits := strings.TrimLeft(p.s, "0"); digits != "" {
			n, ok = parseDigits(digits)
		}
		if !ok || n > p.max {
			return 0, fmt.Errorf("%s %q out of range 0-%d", p.name, p.s, p.max)
		}
		if time.Duration(n) > (1<<63-1-total)/p.unit {
			return 0, errors.New("interval too long (max ~292 years)")
		}
		total += time.Duration(n) * p.unit
	}
	if frac != "" {
		if len(frac) > 7 {
			return 0, fmt.Errorf("fraction %q has more than 7 digits", frac)
		}
		n, _ := parseDigits(frac)
		for i := len(frac); i < 9; i++ {
			n *= 10
		}
		total += time.Duration(n)
	}
	if neg || total <= 0 {
		// The host would fire such a timer continuously.
		return 0, errors.New("interval must be positive")
	}
	return total, nil
}
