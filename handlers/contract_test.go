package handlers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/config"
)

// Every function folder has a handler and every handler a folder: a function on one side only
// would either 404 in the host or never be invoked. Each has its own file and test file.
func TestFunctionFoldersMatchHandlers(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "functions", "*", "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, d := range dirs {
		folders = append(folders, filepath.Base(filepath.Dir(d)))
	}
	var handled []string
	for name := range Functions(Deps{}) {
		handled = append(handled, name)
	}
	for name := range HTTPRoutes(Deps{}) {
		handled = append(handled, name)
	}
	sort.Strings(folders)
	sort.Strings(handled)
	if strings.Join(folders, ",") != strings.Join(handled, ",") {
		t.Errorf("functions/ has %v, handlers has %v", folders, handled)
	}
	// One hop from a function to its code: functions/<Name> is handlers/<lowercase name>.go, its
	// test beside it. A signed-in twin (<Name>SignedIn, the console's anonymous route to a keyed API
	// function) is served by its keyed function's code through signedin.go, tested there.
	for _, name := range folders {
		file := strings.ToLower(name)
		if base, ok := strings.CutSuffix(name, signedInSuffix); ok {
			if _, keyed := HTTPRoutes(Deps{})[base]; !keyed {
				t.Errorf("signed-in twin %s has no keyed function %s", name, base)
			}
			file = "signedin"
		}
		for _, f := range []string{file + ".go", file + "_test.go"} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("function %s has no handlers/%s", name, f)
			}
		}
	}
	// HTTP functions are matched by route: the handler's pattern must serve the function's route.
	for name, r := range HTTPRoutes(Deps{}) {
		b, err := os.ReadFile(filepath.Join("..", "functions", name, "function.json"))
		if err != nil {
			t.Fatal(err)
		}
		var fj struct {
			Bindings []struct{ Type, Route, AuthLevel string }
		}
		if err := json.Unmarshal(b, &fj); err != nil {
			t.Fatal(err)
		}
		// host.json's routePrefix is "" (the console lives at the site root), so the route is the
		// whole path; the root itself is the optional empty segment (see host.json's test).
		route := fj.Bindings[0].Route
		want := "/" + route
		if route == "{ignored:maxlength(0)?}" {
			want = "/{$}"
		}
		if _, path, _ := strings.Cut(r.Pattern, " "); path != want {
			t.Errorf("%s: handler pattern %q does not serve route %q", name, r.Pattern, route)
		}
		// Anonymous at the Functions level: the OAuth callbacks (signed state), the console and
		// the signed-in twins of the API (App Service Authentication's principal, checked by the
		// handler). The API under /api/ keeps keys for automation.
		anonymous := fj.Bindings[0].AuthLevel == "anonymous"
		callback := strings.HasSuffix(route, "/callback")
		isConsole := strings.HasPrefix(name, "Console")
		twin, isTwin := strings.CutSuffix(name, signedInSuffix)
		if anonymous != r.Anonymous || anonymous != (callback || isConsole || isTwin) {
			t.Errorf("%s: authLevel %q, handler anonymous=%v: only OAuth callbacks, the console and signed-in twins may be anonymous", name, fj.Bindings[0].AuthLevel, r.Anonymous)
		}
		switch {
		case isTwin:
			keyed, ok := HTTPRoutes(Deps{})[twin]
			if !ok || keyed.Anonymous || "/"+route != SignedInPrefix+"/"+keyedRoute(t, twin) {
				t.Errorf("%s: route %q is not the signed-in twin of a keyed API function", name, route)
			}
		case !isConsole && !strings.HasPrefix(route, "api/"):
			t.Errorf("%s: route %q must keep its /api/ URL", name, route)
		case !anonymous:
			if _, ok := HTTPRoutes(Deps{})[name+signedInSuffix]; !ok {
				t.Errorf("%s: keyed API function without a signed-in twin (functions/%s%s)", name, name, signedInSuffix)
			}
		}
	}
}

func keyedRoute(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "functions", name, "function.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fj struct{ Bindings []struct{ Route string } }
	if err := json.Unmarshal(b, &fj); err != nil {
		t.Fatal(err)
	}
	return fj.Bindings[0].Route
}

// Every setting the handler reads is listed, with a working local value or empty for the
// Azure-only alternative, in local.settings.sample.json.
func TestSampleSettingsListEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "local.settings.sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ls struct{ Values map[string]string }
	if err := json.Unmarshal(b, &ls); err != nil {
		t.Fatal(err)
	}
	for _, name := range config.Known() {
		if name == config.SettingPort {
			continue // set by the host for each handler process
		}
		if _, ok := ls.Values[name]; !ok {
			t.Errorf("setting %s is read by the handler but missing from local.settings.sample.json", name)
		}
	}
	// And the sample configuration itself is valid.
	// The CA file is written by the simulator when it starts (make run / make sim); stand in for it.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("placeholder"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		switch k {
		case config.SettingPort:
			return "7072", true
		case config.SettingCloudCAFile:
			return ca, true
		}
		v, ok := ls.Values[k]
		return v, ok
	}
	if _, err := config.Load(env); err != nil {
		t.Errorf("local.settings.sample.json does not configure a valid handler: %v", err)
	}
}
