package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// tableCounter sits between a client and Azurite and counts Table Storage round trips as Azure
// bills and throttles them: every request is one transaction, a batch ($batch, up to 100
// operations on one partition) included; writes are anything but GET (queries and point reads).
// https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions
// ("An entity group transaction ... is executed as a single request").
type tableCounter struct {
	proxy          *httputil.ReverseProxy
	writes, reads  atomic.Int64
	batches, table atomic.Int64 // batch transactions among writes; table create/delete calls
	errors         atomic.Int64 // requests Azurite did not answer (reset connections)
}

func newTableCounter(target string) (*tableCounter, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	c := &tableCounter{proxy: httputil.NewSingleHostReverseProxy(u)}
	// Node closes an idle keep-alive connection after 5 s (http.Server keepAliveTimeout); reusing
	// one as it closes resets a non-idempotent request, so idle ones are dropped sooner.
	c.proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true, IdleConnTimeout: 3 * time.Second}
	c.proxy.ErrorLog = log.New(io.Discard, "", 0)
	c.proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		c.errors.Add(1) // the client sees a 502 and retries as it would any server error
		w.WriteHeader(http.StatusBadGateway)
	}
	return c, nil
}

func (c *tableCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet:
		c.reads.Add(1)
	case strings.HasSuffix(r.URL.Path, "/$batch"):
		c.writes.Add(1)
		c.batches.Add(1)
	default:
		if strings.HasSuffix(r.URL.Path, "/Tables") || strings.Contains(r.URL.Path, "/Tables(") {
			c.table.Add(1)
		}
		c.writes.Add(1)
	}
	c.proxy.ServeHTTP(w, r)
}

// tableCounts is a snapshot of the counters.
type tableCounts struct {
	Writes  int64 `json:"writes"`  // write transactions: each batch, insert, upsert, merge or delete request
	Batches int64 `json:"batches"` // of which entity group transactions ($batch)
	Reads   int64 `json:"reads"`   // queries and point reads (each page of a query is one request)
	Errors  int64 `json:"proxyErrors"`
}

func (c *tableCounter) snapshot() tableCounts {
	return tableCounts{Writes: c.writes.Load(), Batches: c.batches.Load(), Reads: c.reads.Load(), Errors: c.errors.Load()}
}

func (a tableCounts) minus(b tableCounts) tableCounts {
	return tableCounts{Writes: a.Writes - b.Writes, Batches: a.Batches - b.Batches, Reads: a.Reads - b.Reads, Errors: a.Errors - b.Errors}
}
