// Package transport is the process's one HTTP transport to Microsoft (Graph, the reports, Entra
// through azidentity and MSAL, Key Vault, Partner Center). One transport means one connection pool:
// a thousand tenant syncs reuse a handful of TLS connections instead of each sync (and each cached
// credential) keeping its own, and the trusted roots are loaded once.
//
// The system root pool is loaded on first use, not when the transport is handed out: loading it
// takes tens of milliseconds, and the handler must listen before anything slow (Warm starts it in
// the background once listening).
package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Connection pool bounds. Idle connections are what stays open between requests; each tenant sync
// reads at most SYNC_CONCURRENCY (≤ 16) collections at once, and the handler runs a bounded number
// of syncs, so 32 idle connections per host serve a busy fan-out without reconnecting while 100 in
// all cap the descriptors held open however many tenants are synced.
const (
	MaxIdleConns        = 100
	MaxIdleConnsPerHost = 32
	IdleConnTimeout     = 90 * time.Second
)

// Transport is a shared http.RoundTripper trusting the system roots plus extra CAs.
type Transport struct {
	extra []*x509.Certificate

	once sync.Once
	t    *http.Transport
	err  error

	dials  atomic.Int64
	dialMu sync.Mutex
	dialTo map[string]int64 // host:port → connections opened
	sentTo sync.Map         // host:port → *atomic.Int64 requests sent
}

var (
	mu     sync.Mutex
	shared = map[string]*Transport{}
)

// For returns the process's transport trusting the system roots plus the PEM certificates in
// caFile ("" for none). The same caFile always gives the same transport. The CA file is read
// here, so a bad one is reported at start-up; the system roots load on first use (or Warm).
func For(caFile string) (*Transport, error) {
	mu.Lock()
	defer mu.Unlock()
	if t, ok := shared[caFile]; ok {
		return t, nil
	}
	t := &Transport{dialTo: map[string]int64{}}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		if t.extra, err = parsePEM(b); err != nil {
			return nil, fmt.Errorf("CA file %s: %w", caFile, err)
		}
	}
	shared[caFile] = t
	return t, nil
}

func parsePEM(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" || len(blk.Headers) != 0 {
			continue // as x509.CertPool.AppendCertsFromPEM does
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			continue
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("holds no PEM certificate")
	}
	return certs, nil
}

// build makes the one *http.Transport: DefaultTransport's proxy, dial and TLS handshake settings,
// bounded idle connections, verification against the system roots plus the extra CAs.
func (t *Transport) build() {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range t.extra {
		pool.AddCert(c)
	}
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	ht.MaxIdleConns, ht.MaxIdleConnsPerHost, ht.IdleConnTimeout = MaxIdleConns, MaxIdleConnsPerHost, IdleConnTimeout
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	ht.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		t.dials.Add(1)
		t.dialMu.Lock()
		t.dialTo[addr]++
		t.dialMu.Unlock()
		return dialer.DialContext(ctx, network, addr)
	}
	t.t = ht
}

// Warm loads the trusted roots now (the handler calls it in the background once it listens), so the
// first request does not pay for it.
func (t *Transport) Warm() { t.once.Do(t.build) }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.once.Do(t.build)
	n, _ := t.sentTo.LoadOrStore(r.URL.Host, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	return t.t.RoundTrip(r)
}

// RequestsTo is how many requests the transport has sent to host (host:port as in the URL).
func (t *Transport) RequestsTo(host string) int64 {
	if n, ok := t.sentTo.Load(host); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// CloseIdleConnections closes idle connections (http.Client.CloseIdleConnections reaches it).
func (t *Transport) CloseIdleConnections() {
	t.once.Do(t.build)
	t.t.CloseIdleConnections()
}

// TLSConfig is a copy of the TLS configuration connections are verified with.
func (t *Transport) TLSConfig() *tls.Config {
	t.once.Do(t.build)
	return t.t.TLSClientConfig.Clone()
}

// Dials is how many connections the transport has opened so far.
func (t *Transport) Dials() int64 { return t.dials.Load() }

// DialsTo is how many connections the transport has opened to addr (host:port).
func (t *Transport) DialsTo(addr string) int64 {
	t.dialMu.Lock()
	defer t.dialMu.Unlock()
	return t.dialTo[addr]
}

// Client is an http.Client over the shared transport (a client is only settings; its connections
// are the transport's).
func (t *Transport) Client(timeout time.Duration) *http.Client {
	return &http.Client{Transport: t, Timeout: timeout}
}
