package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Entity group transaction limits ("Performing entity group transactions"): at most 100
// operations and 4 MiB of payload, all in one partition.
const (
	maxBatchActions = 100
	// The payload counts the multipart envelope too; each action is charged its entity JSON plus
	// actionOverhead, and the whole kept well under 4 MiB.
	maxBatchBytes  = 4*1024*1024 - 128*1024
	actionOverhead = 1024
)

// Stats says what a CollectionWriter did.
type Stats struct {
	Written      int // rows inserted or replaced
	Unchanged    int // Puts skipped because the stored row has the same content hash
	Deleted      int // rows deleted (a row that was already gone is not counted)
	Transactions int // SubmitTransaction calls made, retries included
	Truncated    int // rows written with a list cut short to fit the entity size limit
}

// CollectionWriter writes one tenant's rows of one collection table: Load, any number of Put and
// Delete, then Finish. Writes are batched into entity group transactions. A writer belongs to one
// goroutine; writers for different tables or tenants may run concurrently.
type CollectionWriter struct {
	table, tenantID string
	client          *aztables.Client

	err      error // sticky: once a call fails the writer only reports it
	loaded   bool
	lazy     bool // LoadOnWrite: Load before the first Put or Delete, not before
	finished bool
	known    map[string]string   // RowKey -> content hash of the row as stored (or about to be)
	seen     map[string]struct{} // RowKeys Put in this run
	pending  []batchAction
	index    map[string]int // RowKey -> position in pending: one action per row per transaction
	bytes    int            // pending payload estimate
	stats    Stats
	inflight *inflightTx // the transaction being submitted while the next batch fills
}

type batchAction struct {
	rk        string
	del       bool
	body      []byte // entity JSON; for a delete just the keys
	truncated bool
}

// Collection starts a writer for one tenant's rows in table. Problems with the arguments surface
// from the writer's first call.
func (s *Store) Collection(table, tenantID string) *CollectionWriter {
	w := &CollectionWriter{
		table: table, tenantID: tenantID, client: s.svc.NewClient(table),
		known: map[string]string{}, seen: map[string]struct{}{}, index: map[string]int{},
	}
	if err := checkTableTenant(table, tenantID); err != nil {
		w.err = fmt.Errorf("collection: %w", err)
	}
	return w
}

func (w *CollectionWriter) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

func (w *CollectionWriter) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return fmt.Errorf("%s/%s: writer already finished", w.table, w.tenantID)
	}
	return nil
}

// Load reads the keys and content hashes of the tenant's stored rows (one paged query selecting
// only RowKey and Hash), so Put can skip unchanged rows and Finish can remove unseen ones.
func (w *CollectionWriter) Load(ctx context.Context) error {
	if err := w.usable(); err != nil {
		return err
	}
	if len(w.seen) > 0 || len(w.pending) > 0 || w.stats != (Stats{}) {
		// Loading now would forget what this run already wrote or deleted.
		return w.fail(fmt.Errorf("%s/%s: Load must come before Put and Delete", w.table, w.tenantID))
	}
	filter := fmt.Sprintf("PartitionKey eq '%s'", w.tenantID)
	sel := "RowKey," + propHash
	pager := w.client.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: &sel})
	known := map[string]string{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return w.fail(fmt.Errorf("%s/%s: load: %w", w.table, w.tenantID, err))
		}
		for _, raw := range page.Entities {
			var e struct {
				RowKey string
				Hash   string
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				return w.fail(fmt.Errorf("%s/%s: load: %w", w.table, w.tenantID, err))
			}
			known[e.RowKey] = e.Hash // a row without a hash is rewritten on its next Put
		}
	}
	w.known, w.loaded = known, true
	return nil
}

// LoadOnWrite defers Load to the first Put or Delete: a delta round that brings no change then
// reads nothing from the table, and one that does still skips unchanged rows and counts exactly.
func (w *CollectionWriter) LoadOnWrite() { w.lazy = true }

func (w *CollectionWriter) loadIfDeferred(ctx context.Context) error {
	if !w.lazy || w.loaded {
		return nil
	}
	w.lazy = false
	return w.Load(ctx)
}

// Count is the number of the tenant's rows in the table once Finish has run; ok is false when the
// writer never loaded the stored rows (a delta round without changes), so it cannot know.
func (w *CollectionWriter) Count() (n int, ok bool) {
	return len(w.known), w.loaded
}

// Put stores v (a domain struct) under key; key is escaped with EscapeKey. A row whose content
// hash matches the stored one is not rewritten.
func (w *CollectionWriter) Put(ctx context.Context, key string, v any) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.loadIfDeferred(ctx); err != nil {
		return err
	}
	rk, err := escapeRowKey(key)
	if err != nil {
		return fmt.Errorf("%s/%s: put: %w", w.table, w.tenantID, err)
	}
	// Seen even if it cannot be encoded: removing unseen rows must not delete its last good row.
	w.seen[rk] = struct{}{}
	// Not sticky: one object the encoder refuses should not stop the rest of the sync.
	enc, err := encodeEntity(w.tenantID, rk, v)
	if err != nil {
		return fmt.Errorf("%s/%s: put %q: %w", w.table, w.tenantID, key, err)
	}
	if h, ok := w.known[rk]; ok && h == enc.hash {
		w.stats.Unchanged++
		return nil
	}
	w.known[rk] = enc.hash
	return w.add(ctx, batchAction{rk: rk, body: enc.body, truncated: len(enc.truncated) > 0})
}

// Delete removes the row stored under key. After Load, a key that is not stored is a no-op; a
// row that vanishes meanwhile does not fail the batch.
func (w *CollectionWriter) Delete(ctx context.Context, key string) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.loadIfDeferred(ctx); err != nil {
		return err
	}
	rk, err := escapeRowKey(key)
	if err != nil {
		return fmt.Errorf("%s/%s: delete: %w", w.table, w.tenantID, err)
	}
	delete(w.seen, rk)
	if _, ok := w.known[rk]; !ok && w.loaded {
		return nil
	}
	delete(w.known, rk)
	return w.add(ctx, deleteBatchAction(w.tenantID, rk))
}

func deleteBatchAction(pk, rk string) batchAction {
	b, _ := json.Marshal(map[string]string{"PartitionKey": pk, "RowKey": rk})
	return batchAction{rk: rk, del: true, body: b}
}

// Finish flushes the buffered writes and, when removeUnseen (after a full sync), deletes every
// loaded row that was not Put in this run. It needs Load for that.
func (w *CollectionWriter) Finish(ctx context.Context, removeUnseen bool) (Stats, error) {
	if err := w.usable(); err != nil {
		return w.stats, err
	}
	if removeUnseen {
		if !w.loaded {
			return w.stats, w.fail(fmt.Errorf("%s/%s: finish: removing unseen rows needs Load first", w.table, w.tenantID))
		}
		var gone []string
		for rk := range w.known {
			if _, ok := w.seen[rk]; !ok {
				gone = append(gone, rk)
			}
		}
		sort.Strings(gone) // deterministic batches
		for _, rk := range gone {
			delete(w.known, rk)
			if err := w.add(ctx, deleteBatchAction(w.tenantID, rk)); err != nil {
				return w.stats, err
			}
		}
	}
	if err := w.flush(ctx); err != nil {
		return w.stats, err
	}
	if err := w.wait(); err != nil {
		return w.stats, err
	}
	w.finished = true
	return w.stats, nil
}

// add buffers an action, flushing first when it would break a transaction limit.
func (w *CollectionWriter) add(ctx context.Context, a batchAction) error {
	size := len(a.body) + actionOverhead
	if i, ok := w.index[a.rk]; ok {
		// The same row twice: the later action wins (a transaction may touch a row only once).
		w.bytes += size - (len(w.pending[i].body) + actionOverhead)
		w.pending[i] = a
		if w.bytes <= maxBatchBytes {
			return nil
		}
		return w.flush(ctx)
	}
	if len(w.pending) > 0 && w.bytes+size > maxBatchBytes {
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
	w.index[a.rk] = len(w.pending)
	w.pending = append(w.pending, a)
	w.bytes += size
	if len(w.pending) >= maxBatchActions {
		return w.flush(ctx)
	}
	return nil
}

// flush hands the pending batch to a transaction submitted in the background, after waiting for
// the previous one: the caller goes on reading the next page from Graph while the table writes,
// and at most two batches (one filling, one in flight, each ≤ 100 rows and < 4 MiB) are held.
// Transactions still run one at a time and in order, so a later action on a row lands after an
// earlier one.
func (w *CollectionWriter) flush(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	if err := w.wait(); err != nil {
		return err
	}
	acts := w.pending
	w.pending, w.index, w.bytes = nil, map[string]int{}, 0
	tx := &inflightTx{done: make(chan struct{})}
	w.inflight = tx
	go func() {
		defer close(tx.done)
		defer func() {
			// A panic here would end the process (no recover reaches this goroutine): it fails
			// the writer instead, like any storage error.
			if v := recover(); v != nil {
				tx.err = fmt.Errorf("%s/%s: transaction panicked: %v", w.table, w.tenantID, v)
			}
		}()
		tx.err = w.submit(ctx, acts, &tx.stats)
	}()
	return nil
}

// inflightTx is a transaction submitted in the background, with what it did.
type inflightTx struct {
	done  chan struct{}
	stats Stats
	err   error
}

// Wait waits for the transaction in flight, if any: a caller giving up on a writer (its read
// failed) calls it before starting another writer on the same rows.
func (w *CollectionWriter) Wait() error { return w.wait() }

// wait waits for the transaction in flight and takes in its outcome.
func (w *CollectionWriter) wait() error {
	tx := w.inflight
	if tx == nil {
		return nil
	}
	<-tx.done
	w.inflight = nil
	w.stats.Written += tx.stats.Written
	w.stats.Deleted += tx.stats.Deleted
	w.stats.Transactions += tx.stats.Transactions
	w.stats.Truncated += tx.stats.Truncated
	if tx.err != nil {
		return w.fail(tx.err)
	}
	return nil
}

// submit runs one transaction, counting what it did in st. Table Storage fails the whole transaction when one delete targets
// a missing row (ResourceNotFound, with the failing action's index in the message); such a row is
// already in the state we want, so that action is dropped and the rest resubmitted.
func (w *CollectionWriter) submit(ctx context.Context, acts []batchAction, st *Stats) error {
	for len(acts) > 0 {
		tx := make([]aztables.TransactionAction, len(acts))
		for i, a := range acts {
			tx[i] = aztables.TransactionAction{ActionType: aztables.TransactionTypeInsertReplace, Entity: a.body}
			if a.del {
				tx[i].ActionType = aztables.TransactionTypeDelete
			}
		}
		_, err := w.client.SubmitTransaction(ctx, tx, nil)
		st.Transactions++
		if err == nil {
			for _, a := range acts {
				switch {
				case a.del:
					st.Deleted++
				default:
					st.Written++
					if a.truncated {
						st.Truncated++
					}
				}
			}
			return nil
		}
		f := parseTxError(err)
		if f.code != "ResourceNotFound" {
			return w.txError(err, f, acts)
		}
		if f.index >= 0 && f.index < len(acts) && acts[f.index].del {
			acts = append(acts[:f.index:f.index], acts[f.index+1:]...)
			continue
		}
		if f.index >= 0 {
			return w.txError(err, f, acts) // 404 on an upsert: the table is gone, not a row
		}
		return w.submitDeletesAlone(ctx, acts, err, f, st)
	}
	return nil
}

// submitDeletesAlone is the fallback when a 404 names no action: upserts as one transaction,
// deletes one by one, tolerating rows already gone.
func (w *CollectionWriter) submitDeletesAlone(ctx context.Context, acts []batchAction, txErr error, f txFailure, st *Stats) error {
	var upserts []batchAction
	for _, a := range acts {
		if !a.del {
			upserts = append(upserts, a)
		}
	}
	if len(upserts) == len(acts) {
		return w.txError(txErr, f, acts)
	}
	if err := w.submit(ctx, upserts, st); err != nil {
		return err
	}
	for _, a := range acts {
		if !a.del {
			continue
		}
		_, err := w.client.DeleteEntity(ctx, w.tenantID, a.rk, nil)
		switch {
		case err == nil:
			st.Deleted++
		case !IsNotFound(err):
			return fmt.Errorf("%s/%s: delete %q: %w", w.table, w.tenantID, a.rk, err)
		}
	}
	return nil
}

// txFailure is what a failed transaction's multipart body says about the failing action.
type txFailure struct {
	status  int
	code    string
	message string
	index   int // 0-based action index, -1 if not given
}

var (
	txStatusRe  = regexp.MustCompile(`HTTP/1\.1 (\d{3})`)
	txCodeRe    = regexp.MustCompile(`"code"\s*:\s*"([^"]*)"`)
	txMessageRe = regexp.MustCompile(`"value"\s*:\s*"((?:[^"\\]|\\.)*)"`)
	txIndexRe   = regexp.MustCompile(`^(\d+):`)
)

// parseTxError reads the failure out of aztables' error. The SDK reports a failed change set as
// a ResponseError with the outer status (202) and no error code; the detail is in the body.
func parseTxError(err error) txFailure {
	f := txFailure{index: -1}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return f
	}
	f.status, f.code = re.StatusCode, re.ErrorCode
	if re.RawResponse == nil {
		return f
	}
	body, perr := runtime.Payload(re.RawResponse)
	if perr != nil {
		return f
	}
	if m := txStatusRe.FindSubmatch(body); m != nil {
		f.status, _ = strconv.Atoi(string(m[1]))
	}
	if m := txCodeRe.FindSubmatch(body); m != nil {
		f.code = string(m[1])
	}
	if m := txMessageRe.FindSubmatch(body); m != nil {
		_ = json.Unmarshal(append(append([]byte{'"'}, m[1]...), '"'), &f.message)
		if im := txIndexRe.FindStringSubmatch(f.message); im != nil {
			f.index, _ = strconv.Atoi(im[1])
		}
	}
	return f
}

func (w *CollectionWriter) txError(err error, f txFailure, acts []batchAction) error {
	if f.code == "" {
		return fmt.Errorf("%s/%s: transaction of %d actions: %w", w.table, w.tenantID, len(acts), err)
	}
	row := ""
	if f.index >= 0 && f.index < len(acts) {
		row = fmt.Sprintf(" at row %q", acts[f.index].rk)
	}
	return fmt.Errorf("%s/%s: transaction of %d actions failed%s: %d %s: %s: %w",
		w.table, w.tenantID, len(acts), row, f.status, f.code, firstLineOf(f.message), err)
}

func firstLineOf(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
