// Command handler is tenantsync's Azure Functions custom handler: the Functions host starts it,
// forwards HTTP requests to it and posts non-HTTP invocations to /{FunctionName}.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantsync/tenantsync/handlers"
	"github.com/tenantsync/tenantsync/shared/azcred"
	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/logging"
	"github.com/tenantsync/tenantsync/shared/queue"
	"github.com/tenantsync/tenantsync/shared/queue/localqueue"
	"github.com/tenantsync/tenantsync/shared/queue/servicebus"
	"github.com/tenantsync/tenantsync/shared/store"
)

func main() {
	if err := run(); err != nil {
		// stderr becomes an Error log line in the host; exit non-zero so the host restarts us
		// and the cause is the last thing logged.
		fmt.Fprintln(os.Stderr, "handler: "+err.Error())
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	log := logging.New(os.Stdout, cfg.LogFormat, cfg.LogLevel)
	slog.SetDefault(log)

	var cred azcore.TokenCredential
	if cfg.Tables.Endpoint != "" || cfg.Queue.ServiceBusNamespace != "" {
		if cred, err = azcred.Managed(cfg.AzureClientID); err != nil {
			return fmt.Errorf("managed identity: %w", err)
		}
	}
	st, err := store.Open(cfg.Tables, cred)
	if err != nil {
		return err
	}
	var sender queue.Sender
	if cfg.Queue.ServiceBusNamespace != "" {
		if sender, err = servicebus.New(cfg.Queue.ServiceBusNamespace, cfg.Queue.Name, cred); err != nil {
			return err
		}
	} else {
		sender = localqueue.New(cfg.Queue.LocalEndpoint, cfg.Queue.Name)
	}

	deps := handlers.Deps{Store: st, Queue: sender, Log: log, Now: time.Now}
	srv := &http.Server{
		Handler:           handlers.New(deps),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on %s=%d: %w", config.SettingPort, cfg.Port, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("handler listening", "port", cfg.Port)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		err = sender.Close(shutdown)
	}
	return err
}
