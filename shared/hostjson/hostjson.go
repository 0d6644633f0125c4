// Package hostjson reads what the handler needs from the Functions host's host.json, which is
// deployed at the app root (FUNCTIONS_APP_ROOT_PATH, set by the host for the custom handler).
package hostjson

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// overrideTimeout is the app setting the host reads over host.json's functionTimeout: the host's
// configuration takes AzureFunctionsJobHost__<path> settings over host.json values (Microsoft's
// Functions container images set AzureFunctionsJobHost__Logging__Console__IsEnabled this way).
// Not verified in this project against the learn.microsoft.com host.json page itself.
const overrideTimeout = "AzureFunctionsJobHost__functionTimeout"

// FunctionTimeout is the functionTimeout the host applies: how long it lets one invocation run
// before it fails it and restarts the handler. The app setting override wins over host.json.
// Absent or "-1" (no limit): 0.
func FunctionTimeout(appRoot string, lookupEnv func(string) (string, bool)) (time.Duration, error) {
	var raw struct {
		FunctionTimeout string `json:"functionTimeout"`
	}
	if v, ok := lookupEnv(overrideTimeout); ok {
		raw.FunctionTimeout = v
	} else {
		b, err := os.ReadFile(filepath.Join(appRoot, "host.json"))
		if err != nil {
			return 0, fmt.Errorf("host.json: %w", err)
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			return 0, fmt.Errorf("host.json: %w", err)
		}
	}
	if raw.FunctionTimeout == "" || raw.FunctionTimeout == "-1" {
		return 0, nil
	}
	d, err := ParseTimeSpan(raw.FunctionTimeout)
	if err != nil {
		return 0, fmt.Errorf("host.json: functionTimeout: %w", err)
	}
	return d, nil
}

// ParseTimeSpan parses a .NET TimeSpan as host.json writes it: [d.]hh:mm:ss[.fffffff].
func ParseTimeSpan(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a TimeSpan (want hh:mm:ss, e.g. 00:10:00)", s)
	if strings.ContainsAny(s, "-+ ") {
		return 0, bad
	}
	var days int64
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s, ':') {
		d, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil {
			return 0, bad
		}
		days, s = d, s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, bad
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec >= 60 {
		return 0, bad
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec*float64(time.Second)), nil
}
