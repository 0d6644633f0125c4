// Package funchost is the project's local stand-in for the Azure Functions host: it reads
// host.json and functions/*/function.json, supervises the custom handler process and invokes it
// exactly as the host does (Microsoft Learn, "Azure Functions custom handlers", and the
// azure-functions-host source cited beside each rule). It serves HTTP
// triggers, fires timers on their NCRONTAB schedules and runs Service Bus triggers from an embedded
// queue with Service Bus semantics.
package funchost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/hostjson"
	"github.com/tenantsync/tenantsync/shared/localdev/funchost/ncrontab"
)

// App is a function app as read from disk.
type App struct {
	Root      string
	Host      HostConfig
	Functions []*Function
}

// HostConfig is the part of host.json the local host honours.
type HostConfig struct {
	Version         string
	FunctionTimeout time.Duration // 0: none
	Executable      string
	WorkingDir      string
	Arguments       []string
	Forwarding      bool
	RoutePrefix     string
	ServiceBus      ServiceBusConfig
}

// ServiceBusConfig is host.json's extensions.serviceBus.
type ServiceBusConfig struct {
	MaxConcurrentCalls   int
	AutoCompleteMessages bool
	MaxAutoLockRenewal   time.Duration
}

// Function is one functions/<Name>/function.json.
type Function struct {
	Name     string
	Bindings []Binding
	Trigger  Binding
	Retry    *RetryPolicy
	// Forwarded is true when HTTP requests are forwarded as-is (enableForwardingHttpRequest and
	// exactly one httpTrigger in plus one http out).
	Forwarded bool
	route     *routeTemplate
	schedule  *ncrontab.Schedule
}

// Binding is one entry of "bindings".
type Binding struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Direction    string   `json:"direction"`
	DataType     string   `json:"dataType"`
	AuthLevel    string   `json:"authLevel"`
	Methods      []string `json:"methods"`
	Route        string   `json:"route"`
	Schedule     string   `json:"schedule"`
	RunOnStartup bool     `json:"runOnStartup"`
	UseMonitor   *bool    `json:"useMonitor"`
	QueueName    string   `json:"queueName"`
	Connection   string   `json:"connection"`
}

// RetryPolicy is function.json's top-level "retry" (honoured for timers).
type RetryPolicy struct {
	Strategy        string `json:"strategy"`
	MaxRetryCount   int    `json:"maxRetryCount"`
	DelayInterval   string `json:"delayInterval"`
	MinimumInterval string `json:"minimumInterval"`
	MaximumInterval string `json:"maximumInterval"`
}

// Trigger types the local host runs.
const (
	TriggerHTTP       = "httpTrigger"
	TriggerTimer      = "timerTrigger"
	TriggerServiceBus = "serviceBusTrigger"
)

// LoadApp reads root/host.json and root/functions/*/function.json (and, like a deployed package,
// root/*/function.json). settings resolves %Name% in timer schedules.
func LoadApp(root string, settings map[string]string) (*App, error) {
	app := &App{Root: root}
	if err := app.loadHost(filepath.Join(root, "host.json")); err != nil {
		return nil, err
	}
	paths, _ := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	more, _ := filepath.Glob(filepath.Join(root, "*", "function.json"))
	paths = append(paths, more...)
	sort.Strings(paths)
	seen := map[string]string{}
	for _, p := range paths {
		f, err := loadFunction(p, app.Host, settings)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[strings.ToLower(f.Name)]; dup {
			return nil, fmt.Errorf("function %s is defined twice: %s and %s", f.Name, prev, p)
		}
		seen[strings.ToLower(f.Name)] = p
		app.Functions = append(app.Functions, f)
	}
	if len(app.Functions) == 0 {
		return nil, fmt.Errorf("no functions found under %s (expected functions/<Name>/function.json)", root)
	}
	return app, nil
}

func (app *App) loadHost(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("host.json: %w", err)
	}
	var raw struct {
		Version         string `json:"version"`
		FunctionTimeout string `json:"functionTimeout"`
		CustomHandler   *struct {
			Description struct {
				DefaultExecutablePath string   `json:"defaultExecutablePath"`
				WorkingDirectory      string   `json:"workingDirectory"`
				Arguments             []string `json:"arguments"`
			} `json:"description"`
			EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
		Extensions struct {
			HTTP *struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
			ServiceBus struct {
				MaxConcurrentCalls         *int   `json:"maxConcurrentCalls"`
				AutoCompleteMessages       *bool  `json:"autoCompleteMessages"`
				MaxAutoLockRenewalDuration string `json:"maxAutoLockRenewalDuration"`
			} `json:"serviceBus"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("host.json: %w", err)
	}
	h := &app.Host
	h.Version = raw.Version
	if raw.Version != "2.0" {
		return fmt.Errorf("host.json: version is %q, the Functions host requires \"2.0\"", raw.Version)
	}
	if raw.CustomHandler == nil || raw.CustomHandler.Description.DefaultExecutablePath == "" {
		return fmt.Errorf("host.json: customHandler.description.defaultExecutablePath is missing")
	}
	h.Executable = raw.CustomHandler.Description.DefaultExecutablePath
	h.WorkingDir = raw.CustomHandler.Description.WorkingDirectory
	h.Arguments = raw.CustomHandler.Description.Arguments
	h.Forwarding = raw.CustomHandler.EnableForwardingHTTPRequest
	h.RoutePrefix = "api"
	if raw.Extensions.HTTP != nil && raw.Extensions.HTTP.RoutePrefix != nil {
		h.RoutePrefix = strings.Trim(*raw.Extensions.HTTP.RoutePrefix, "/")
	}
	if raw.FunctionTimeout != "" && raw.FunctionTimeout != "-1" {
		if h.FunctionTimeout, err = ParseTimeSpan(raw.FunctionTimeout); err != nil {
			return fmt.Errorf("host.json: functionTimeout: %w", err)
		}
	}
	sb := raw.Extensions.ServiceBus
	h.ServiceBus = ServiceBusConfig{MaxConcurrentCalls: 16, AutoCompleteMessages: true, MaxAutoLockRenewal: 5 * time.Minute}
	if sb.MaxConcurrentCalls != nil {
		if *sb.MaxConcurrentCalls < 1 {
			return fmt.Errorf("host.json: extensions.serviceBus.maxConcurrentCalls must be at least 1")
		}
		h.ServiceBus.MaxConcurrentCalls = *sb.MaxConcurrentCalls
	}
	if sb.AutoCompleteMessages != nil {
		h.ServiceBus.AutoCompleteMessages = *sb.AutoCompleteMessages
	}
	if sb.MaxAutoLockRenewalDuration != "" {
		if h.ServiceBus.MaxAutoLockRenewal, err = ParseTimeSpan(sb.MaxAutoLockRenewalDuration); err != nil {
			return fmt.Errorf("host.json: extensions.serviceBus.maxAutoLockRenewalDuration: %w", err)
		}
	}
	return nil
}

var settingRef = regexp.MustCompile(`%([^%]+)%`)

func loadFunction(path string, host HostConfig, settings map[string]string) (*Function, error) {
	name := filepath.Base(filepath.Dir(path))
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Bindings []Binding    `json:"bindings"`
		Retry    *RetryPolicy `json:"retry"`
		Disabled bool         `json:"disabled"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &Function{Name: name, Bindings: raw.Bindings, Retry: raw.Retry}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("function %s (%s): %s", name, path, fmt.Sprintf(format, args...))
	}
	triggers := 0
	for _, bnd := range raw.Bindings {
		if bnd.Name == "" || bnd.Type == "" || (bnd.Direction != "in" && bnd.Direction != "out" && bnd.Direction != "inout") {
			return nil, fail("every binding needs name, type and direction in/out")
		}
		if strings.HasSuffix(strings.ToLower(bnd.Type), "trigger") {
			triggers++
			f.Trigger = bnd
		}
	}
	if triggers != 1 {
		return nil, fail("has %d triggers, a function needs exactly one", triggers)
	}
	t := &f.Trigger
	switch t.Type {
	case TriggerHTTP:
		if t.AuthLevel == "" {
			t.AuthLevel = "function" // the host's default
		}
		switch strings.ToLower(t.AuthLevel) {
		case "anonymous", "function", "admin":
		default:
			return nil, fail("authLevel %q is not anonymous, function or admin", t.AuthLevel)
		}
		route := t.Route
		if route == "" {
			route = name
		}
		if f.route, err = parseRoute(joinRoute(host.RoutePrefix, route)); err != nil {
			return nil, fail("route %q: %v", t.Route, err)
		}
		f.Forwarded = host.Forwarding && len(raw.Bindings) == 2 && raw.Bindings[1-indexOf(raw.Bindings, t.Name)].Type == "http"
	case TriggerTimer:
		expr := settingRef.ReplaceAllStringFunc(t.Schedule, func(m string) string {
			key := strings.Trim(m, "%")
			if v, ok := settings[key]; ok {
				return v
			}
			err = fail("schedule %q refers to app setting %s, which is not set", t.Schedule, key)
			return m
		})
		if err != nil {
			return nil, err
		}
		if f.schedule, err = ncrontab.Parse(expr); err != nil {
			return nil, fail("schedule %q: %v", expr, err)
		}
	case TriggerServiceBus:
		if t.QueueName == "" {
			return nil, fail("serviceBusTrigger needs queueName (topics are not supported locally)")
		}
		if t.Connection == "" {
			return nil, fail("serviceBusTrigger needs connection")
		}
	default:
		return nil, fail("trigger type %q is not supported by the local host (httpTrigger, timerTrigger, serviceBusTrigger are)", t.Type)
	}
	if f.Retry != nil && t.Type == TriggerTimer {
		if _, _, err := f.Retry.delays(); err != nil {
			return nil, fail("retry: %v", err)
		}
	}
	return f, nil
}

func indexOf(bs []Binding, name string) int {
	for i, b := range bs {
		if b.Name == name {
			return i
		}
	}
	return -1
}

func joinRoute(prefix, route string) string {
	route = strings.Trim(route, "/")
	if prefix == "" {
		return route
	}
	return prefix + "/" + route
}

// delays returns the first and maximum retry delays.
func (p *RetryPolicy) delays() (time.Duration, time.Duration, error) {
	switch p.Strategy {
	case "fixedDelay":
		d, err := ParseTimeSpan(p.DelayInterval)
		return d, d, err
	case "exponentialBackoff":
		lo, err := ParseTimeSpan(p.MinimumInterval)
		if err != nil {
			return 0, 0, err
		}
		hi, err := ParseTimeSpan(p.MaximumInterval)
		return lo, hi, err
	}
	return 0, 0, fmt.Errorf("strategy %q is not fixedDelay or exponentialBackoff", p.Strategy)
}

// ParseTimeSpan parses a .NET TimeSpan as host.json writes it (shared with the handler).
func ParseTimeSpan(s string) (time.Duration, error) { return hostjson.ParseTimeSpan(s) }

// LocalSettings is local.settings.json.
type LocalSettings struct {
	Values map[string]string
	Port   int
}

// LoadLocalSettings reads local.settings.json (Values and Host.LocalHttpPort).
func LoadLocalSettings(path string) (*LocalSettings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Values map[string]any `json:"Values"`
		Host   struct {
			LocalHTTPPort int `json:"LocalHttpPort"`
		} `json:"Host"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ls := &LocalSettings{Values: map[string]string{}, Port: raw.Host.LocalHTTPPort}
	for k, v := range raw.Values {
		switch v := v.(type) {
		case string:
			ls.Values[k] = v
		case nil:
		default:
			// Core Tools rejects non-string values too; say which one.
			return nil, fmt.Errorf("%s: Values.%s must be a string", path, k)
		}
	}
	return ls, nil
}

// FillMissing adds to ls every setting of the sample file that ls lacks, except secrets
// (config.Secrets), and returns their names. local.settings.json is created from the sample once
// and then belongs to the developer, so settings added by later versions would otherwise be
// missing after an upgrade; a missing secret stays missing so the handler names it.
func FillMissing(ls *LocalSettings, samplePath string) ([]string, error) {
	sample, err := LoadLocalSettings(samplePath)
	if err != nil {
		return nil, err
	}
	var added []string
	for k, v := range sample.Values {
		if _, ok := ls.Values[k]; !ok && !slices.Contains(config.Secrets, k) {
			ls.Values[k] = v
			added = append(added, k)
		}
	}
	sort.Strings(added)
	return added, nil
}
