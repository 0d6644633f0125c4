// Command funchost is the local Azure Functions host: it reads host.json and functions/*/function.json,
// starts the custom handler and invokes it as the real host does. See shared/funchost.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/tenantsync/tenantsync/shared/localdev/funchost"
	"github.com/tenantsync/tenantsync/shared/localdev/funchost/sbqueue"
)

type settingFlags map[string]string

func (s settingFlags) String() string { return "" }
func (s settingFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	s[k] = val
	return nil
}

func main() {
	overrides := settingFlags{}
	root := flag.String("root", ".", "function app root (host.json, functions/)")
	settingsPath := flag.String("settings", "local.settings.json", "local settings file (Values become the handler's environment)")
	flag.Var(overrides, "set", "override an app setting, NAME=VALUE (repeatable)")
	listen := flag.String("listen", "", "HTTP address (default 127.0.0.1:<Host.LocalHttpPort or 7071>)")
	handler := flag.String("handler", "", "custom handler executable (default: host.json's defaultExecutablePath)")
	key := flag.String("key", os.Getenv("FUNCHOST_KEY"), "local function and master key (default $FUNCHOST_KEY, else random)")
	state := flag.String("state", ".funchost", "directory for timer schedule status")
	maxDelivery := flag.Int("max-delivery-count", sbqueue.DefaultMaxDeliveryCount, "queue MaxDeliveryCount")
	noTimers := flag.Bool("no-timers", false, "do not fire timers on schedule (admin API still can)")
	flag.Parse()

	if err := run(*root, *settingsPath, overrides, *listen, *handler, *key, *state, *maxDelivery, *noTimers); err != nil {
		fmt.Fprintln(os.Stderr, "funchost: "+err.Error())
		os.Exit(1)
	}
}

func run(root, settingsPath string, overrides map[string]string, listen, handler, key, state string, maxDelivery int, noTimers bool) error {
	ls, err := funchost.LoadLocalSettings(settingsPath)
	if err != nil {
		return fmt.Errorf("%w (create it from local.settings.sample.json; `make` does)", err)
	}
	if added, err := funchost.FillMissing(ls, filepath.Join(root, "local.settings.sample.json")); err == nil && len(added) > 0 {
		fmt.Printf("funchost: %s lacks %s: using local.settings.sample.json's values\n", settingsPath, strings.Join(added, ", "))
	}
	for k, v := range overrides {
		ls.Values[k] = v
	}
	if listen == "" {
		port := 7071
		if ls.Port != 0 {
			port = ls.Port
		}
		listen = "127.0.0.1:" + strconv.Itoa(port)
	}
	h, err := funchost.Start(funchost.Options{
		Root: root, Settings: ls.Values, Listen: listen, Executable: handler, Key: key, StateDir: state,
		Queue: sbqueue.Options{MaxDeliveryCount: maxDelivery}, DisableTimers: noTimers, Log: os.Stdout,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Println("funchost: stopping")
	h.Close()
	return nil
}
