package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"golang.org/x/sync/errgroup"

	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/crash"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/fanout"
	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/insights"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Collection (and table) names.
const (
	CollUsers        = "users"
	CollUserSecurity = "userSecurity"
	CollLicenses     = "licenses"
	CollGroups       = "groups"
	CollDevices      = "devices"
	CollMailboxes    = "mailboxes"
)

var tables = map[string]string{
	CollUsers: store.TableUsers, CollUserSecurity: store.TableUserSecurity, CollLicenses: store.TableLicenses,
	CollGroups: store.TableGroups, CollDevices: store.TableDevices, CollMailboxes: store.TableMailboxes,
}

// Engine syncs one tenant per call.
type Engine struct {
	Store       *store.Store
	Credentials identity.Credentials
	Endpoints   cloud.Endpoints
	Now         func() time.Time
	Log         *slog.Logger
	// Concurrency bounds the collections read at once within a tenant (default 4): Graph throttles
	// per app per tenant, so more parallelism mostly buys 429s.
	Concurrency int
	// Retry is the Graph retry policy (default: RetryHandler's defaults).
	Retry *graphclient.RetryHandler
	// DeltaMaxAge forces a full resync when the stored delta link is older (directory delta tokens
	// expire after 7 days).
	DeltaMaxAge time.Duration
	// Roles repairs consent drift: missing app roles assigned through GDAP (nil: only reported).
	Roles RoleAssigner
	// Refresh is how often collections without delta are read again (zero value: every run).
	Refresh config.Refresh
	// Delegated gives the partner service account's delegated Graph token for a customer tenant:
	// tenants consented by the gdap path are synced with it (nil: they cannot be synced).
	Delegated approles.TenantTokenFunc
}

// Outcome is one collection's result.
type Outcome struct {
	Collection string
	Count      int
	Stats      store.Stats
	Full       bool
	// Unavailable is set when the tenant cannot provide the collection (no Intune, no premium,
	// concealed reports): not an error, the rest still syncs.
	Unavailable *domain.Problem
	Err         error
	// Skipped counts source rows left out as unusable (mailbox report rows without a real name).
	Skipped    int
	SkipReason string
	// NotDue: not read this run (its refresh interval had not passed); Count and the rest are the
	// last read's.
	NotDue bool
	// SyncedAt is when the stored rows were last read from Microsoft.
	SyncedAt time.Time

	state *store.SyncState // to save at the run's end (nil: nothing to save)
}

// changed reports whether the collection's table changed this run.
func (o Outcome) changed() bool { return o.Stats.Written+o.Stats.Deleted > 0 }

// Result is a run's outcome.
type Result struct {
	Run      domain.Run
	Outcomes []Outcome
	Problem  *domain.Problem
}

// Sync runs a full or delta sync of req.TenantID. It returns an error only when a later attempt may
// succeed (throttling exhausted, network, Graph outage): the message is then redelivered. Permanent
// problems (no consent, deleted tenant) are recorded on the run and the tenant and return nil, so
// the queue does not retry what only an MSP can fix.
//
// A panic after the run started ends the run failed with InternalError (the stack goes to the
// log only) and completes the message: retrying at once would most likely panic again, and the
// next scheduled sync tries anyway.
func (e *Engine) Sync(ctx context.Context, req domain.SyncRequest, d Delivery) (res *Result, err error) {
	now := e.now()
	log := e.log().With("tenantId", req.TenantID, "runId", req.RunID)
	if err := e.Store.Ensure(ctx); err != nil {
		return nil, err
	}
	run := domain.Run{TenantID: req.TenantID, RunID: req.RunID, Reason: req.Reason, State: domain.SyncRunning,
		MessageID: d.MessageID, DeliveryCount: d.DeliveryCount, QueuedAt: req.QueuedAt, StartedAt: now}
	if err := e.Store.PutRun(ctx, run); err != nil {
		return nil, fmt.Errorf("record run start: %w", err)
	}
	if err := e.Store.SetTenantSyncResult(ctx, req.TenantID, store.TenantSyncResult{State: domain.SyncRunning, RunID: req.RunID, StartedAt: run.StartedAt}); err != nil {
		return nil, err
	}
	log.Info("sync started", "deliveryCount", d.DeliveryCount)
	defer func() {
		if v := recover(); v != nil {
			res, err = e.crashed(ctx, run, crash.From(v), log)
		}
	}()

	res = &Result{Run: run}
	via := e.access(ctx, req.TenantID, log)
	var drift *domain.Problem
	if via.cred == nil {
		drift = e.checkDrift(ctx, req.TenantID, log) // app roles matter to app-only syncs only
	}
	outcomes, summary, err := e.collect(ctx, req.TenantID, req.Reason, via.cred, log)
	if drift != nil && err == nil {
		outcomes = withDrift(outcomes, drift)
	}
	if via.cred != nil && err == nil {
		outcomes = withGDAPLimits(outcomes, via.tenant)
	}
	res.Outcomes = outcomes
	state := domain.SyncSucceeded
	var problem *domain.Problem
	switch {
	case err != nil:
		p := remedy.Classify(err)
		problem, state = &p, domain.SyncFailed
	default:
		for _, o := range outcomes {
			if o.Err != nil {
				p := remedy.Classify(o.Err)
				p.Message = o.Collection + ": " + p.Message
				if problem == nil || (problem.Retryable && !p.Retryable) {
					problem = &p
				}
				state = domain.SyncFailed
			} else if o.Unavailable != nil && state == domain.SyncSucceeded {
				state = domain.SyncPartial
			}
		}
	}
	run.State, run.FinishedAt = state, e.now()
	if problem != nil {
		run.Error = &domain.Problem{Code: problem.Code, Message: problem.Message, Remediation: problem.Remediation}
	}
	run.Collections = map[string]domain.RunCollection{}
	for _, o := range outcomes {
		rc := domain.RunCollection{Full: o.Full, Count: o.Count, Written: o.Stats.Written, Unchanged: o.Stats.Unchanged, Deleted: o.Stats.Deleted, Transactions: o.Stats.Transactions,
			Skipped: o.Skipped, NotDue: o.NotDue}
		if o.Unavailable != nil {
			rc.Unavailable = o.Unavailable.Code
		}
		if o.Err != nil {
			rc.Error = remedy.Classify(o.Err).Code
		}
		run.Collections[o.Collection] = rc
	}
	res.Run, res.Problem = run, problem
	if err := e.Store.PutRun(ctx, run); err != nil {
		return res, fmt.Errorf("record run end: %w", err)
	}
	tr := store.TenantSyncResult{State: state, RunID: run.RunID, Collections: map[string]store.CollectionStatus{}}
	if summary != nil {
		tr.DisplayName, tr.DefaultDomain, tr.Counts, tr.MFARegisteredPercent = summary.displayName, summary.defaultDomain, summary.counts, summary.mfaPercent
		tr.MFASource = summary.mfaSource
	}
	if state != domain.SyncFailed {
		tr.SucceededAt = run.FinishedAt
	}
	if problem != nil {
		tr.ErrorCode, tr.ErrorMessage, tr.Remediation = problem.Code, problem.Message, problem.Remediation
	}
	for _, o := range outcomes {
		cs := store.CollectionStatus{Available: o.Err == nil && o.Unavailable == nil, Skipped: o.Skipped, SkipReason: o.SkipReason, SyncedAt: o.SyncedAt}
		if p := o.Unavailable; p != nil {
			cs.Problem = &domain.Problem{Code: p.Code, Message: p.Message, Remediation: p.Remediation}
		} else if o.Err != nil {
			p := remedy.Classify(o.Err)
			cs.Problem = &domain.Problem{Code: p.Code, Message: p.Message, Remediation: p.Remediation}
		}
		tr.Collections[o.Collection] = cs
	}
	if err := e.Store.SetTenantSyncResult(ctx, req.TenantID, tr); err != nil {
		return res, fmt.Errorf("record tenant sync state: %w", err)
	}
	if state != domain.SyncFailed && summary != nil && summary.insightsDue {
		// The console's cross-tenant insights read this summary, never every tenant's users.
		if err := insights.Refresh(ctx, e.Store, req.TenantID, run.RunID, e.now()); err != nil {
			log.Warn("insights summary not updated", "error", err.Error())
		} else if err := e.Store.PutSyncStates(ctx, req.TenantID, []store.SyncState{{Collection: insightsState, Available: true, LastFullSync: e.now()}}); err != nil {
			log.Warn("insights refresh time not recorded", "error", err.Error())
		}
	}
	attrs := []any{"state", state, "durationMs", run.FinishedAt.Sub(run.StartedAt).Milliseconds()}
	if problem != nil {
		attrs = append(attrs, "code", problem.Code, "error", problem.Message)
		log.Warn("sync finished with a problem", attrs...)
		if problem.Retryable {
			return res, fmt.Errorf("%s (will be retried): %w", problem.Code, *problem)
		}
		return res, nil
	}
	log.Info("sync finished", attrs...)
	return res, nil
}

// crashed ends a run that panicked: failed with InternalError on the run and the tenant, the stack
// in the log. An error (the outcome could not be stored) redelivers the message.
func (e *Engine) crashed(ctx context.Context, run domain.Run, ce *crash.Error, log *slog.Logger) (*Result, error) {
	log.Error("sync panicked", "panic", fmt.Sprint(ce.Value), "stack", string(ce.Stack))
	p := remedy.Classify(ce)
	run.State, run.FinishedAt = domain.SyncFailed, e.now()
	run.Error = &domain.Problem{Code: p.Code, Message: p.Message, Remediation: p.Remediation}
	if err := e.Store.PutRun(ctx, run); err != nil {
		return nil, fmt.Errorf("record run end after a panic: %w", err)
	}
	tr := store.TenantSyncResult{State: domain.SyncFailed, RunID: run.RunID, ErrorCode: p.Code, ErrorMessage: p.Message, Remediation: p.Remediation}
	if err := e.Store.SetTenantSyncResult(ctx, run.TenantID, tr); err != nil {
		return nil, fmt.Errorf("record tenant sync state after a panic: %w", err)
	}
	return &Result{Run: run, Problem: &p}, nil
}

type summary struct {
	displayName, defaultDomain string
	counts                     map[string]int
	mfaPercent                 *float64
	mfaSource                  string
	// insightsDue: the users or their security changed, or the insights summary is a day old
	// (its inactivity buckets count days).
	insightsDue bool
}

// insightsState is the SyncState row recording when the insights summary was last computed.
const insightsState = "insights"

// collect reads every collection. A returned error means the tenant could not be read at all.
// cred is the credential to read with; nil means the app's own (app-only) credential.
func (e *Engine) collect(ctx context.Context, tenantID, reason string, cred azcore.TokenCredential, log *slog.Logger) ([]Outcome, *summary, error) {
	if cred == nil {
		var err error
		if cred, err = e.Credentials.For(tenantID); err != nil {
			return nil, nil, err
		}
	}
	// Every collection's state in one read; the new states are written in one transaction at the end.
	states, err := e.Store.ListSyncStates(ctx, tenantID)
	if err != nil {
		return nil, nil, err
	}
	stateOf := func(coll string) store.SyncState {
		st, ok := states[coll]
		if !ok {
			st.Collection = coll
		}
		return st
	}
	// A manual sync reads everything; scheduled and consent runs read a collection without delta
	// only when its refresh interval has passed.
	due := func(coll string, interval time.Duration) bool {
		st := stateOf(coll)
		return reason == fanout.ReasonManual || !st.Available || config.Due(st.LastFullSync, e.now(), interval)
	}
	retry := e.Retry
	if retry == nil {
		retry = &graphclient.RetryHandler{}
	}
	client, adapter, err := graphclient.NewWithRetry(cred, e.Endpoints, retry)
	if err != nil {
		return nil, nil, err
	}
	ov, err := readOverview(ctx, client, adapter)
	if err != nil {
		return nil, nil, err
	}
	if ov.OrgErr != nil {
		return nil, nil, ov.OrgErr // cannot even read the organization: consent or permission problem
	}
	if ov.SettingsErr != nil {
		// Mailboxes then decide concealment from the report itself (see mailboxes).
		p := remedy.Classify(ov.SettingsErr)
		log.Warn("report settings could not be read", "code", p.Code, "error", p.Message)
	}
	skuNames := map[string]string{}
	for _, s := range ov.Skus {
		if s.GetSkuId() != nil {
			skuNames[s.GetSkuId().String()] = str(s.GetSkuPartNumber())
		}
	}
	hc, err := e.reportHTTPClient(retry)
	if err != nil {
		return nil, nil, err
	}
	sum := &summary{displayName: ov.DisplayName, defaultDomain: ov.DefaultDomain, counts: map[string]int{}}
	var mu sync.Mutex
	outcomes := []Outcome{e.licences(ctx, tenantID, stateOf(CollLicenses), ov)}
	g, gctx := errgroup.WithContext(ctx)
	limit := e.Concurrency
	if limit <= 0 {
		limit = 4
	}
	g.SetLimit(limit)
	add := func(o Outcome) {
		mu.Lock()
		defer mu.Unlock()
		outcomes = append(outcomes, o)
	}
	// Each collection runs on its own goroutine, where a panic would end the whole process (no
	// recover at the invocation boundary reaches it): turn it into that collection's failure.
	collection := func(name string, read func() Outcome) {
		g.Go(func() error {
			add(func() (o Outcome) {
				defer func() {
					if v := recover(); v != nil {
						ce := crash.From(v)
						log.Error("collection panicked", "collection", name, "panic", fmt.Sprint(ce.Value), "stack", string(ce.Stack))
						o = Outcome{Collection: name, Err: ce}
					}
				}()
				return read()
			}())
			return nil
		})
	}
	collection(CollUsers, func() Outcome {
		return e.delta(gctx, tenantID, stateOf(CollUsers), func(ctx context.Context, link string, s deltaSink) (string, error) {
			return usersDelta(ctx, client, adapter, link, skuNames, s)
		})
	})
	collection(CollGroups, func() Outcome {
		return e.delta(gctx, tenantID, stateOf(CollGroups), func(ctx context.Context, link string, s deltaSink) (string, error) {
			return groupsDelta(ctx, client, adapter, link, s)
		})
	})
	collection(CollDevices, func() Outcome {
		if !due(CollDevices, e.Refresh.Devices) {
			return notDue(stateOf(CollDevices))
		}
		return e.full(gctx, tenantID, stateOf(CollDevices), func(ctx context.Context, s deltaSink) error { return devices(ctx, client, adapter, s) }, intuneUnavailable)
	})
	collection(CollMailboxes, func() Outcome {
		if ov.Concealed != nil && *ov.Concealed {
			p := remedy.ReportsConcealed
			return Outcome{Collection: CollMailboxes, Unavailable: &p}
		}
		if !due(CollMailboxes, e.Refresh.Mailboxes) {
			return notDue(stateOf(CollMailboxes))
		}
		var st mailboxStats
		o := e.full(gctx, tenantID, stateOf(CollMailboxes), func(ctx context.Context, s deltaSink) error {
			var err error
			st, err = mailboxes(ctx, hc, e.Endpoints.GraphURL, cred, ov.Concealed, s)
			return err
		}, concealedUnavailable)
		o.Skipped, o.SkipReason = st.Skipped(), st.skipReason()
		return o
	})
	collection(CollUserSecurity, func() Outcome {
		if !due(CollUserSecurity, e.Refresh.UserSecurity) {
			return notDue(stateOf(CollUserSecurity))
		}
		mc := mfaClients{client: client, adapter: adapter, log: log, newBeta: func() abstractions.RequestAdapter {
			u := betaURL(e.Endpoints.GraphURL)
			if u == "" {
				return nil
			}
			ep := e.Endpoints
			ep.GraphURL = u
			if _, beta, err := graphclient.NewWithRetry(cred, ep, retry); err == nil {
				return beta
			}
			return nil
		}}
		o, mfa := e.security(gctx, tenantID, stateOf(CollUserSecurity), mc)
		if mfa.Total > 0 && o.Err == nil {
			pct := float64(mfa.Registered) * 100 / float64(mfa.Total)
			mu.Lock()
			sum.mfaPercent, sum.mfaSource = &pct, mfa.Source
			mu.Unlock()
		}
		return o
	})
	_ = g.Wait() // every goroutine returns nil: failures are in the outcomes
	var save []store.SyncState
	for i, o := range outcomes {
		if o.Err == nil && o.Unavailable == nil && o.Collection != CollUserSecurity {
			sum.counts[o.Collection] = o.Count
		}
		if o.Collection == CollUsers || o.Collection == CollUserSecurity {
			sum.insightsDue = sum.insightsDue || o.changed()
		}
		if o.Collection == CollUsers && o.state != nil {
			// Counted from the table only when its users changed (or were never counted): a
			// delta round without changes keeps the last count.
			if st := stateOf(CollUsers); st.Licensed != nil && !o.changed() {
				o.state.Licensed = st.Licensed
			} else {
				n, err := e.Store.CountWhere(ctx, store.TableUsers, tenantID, "Licenses ne ''")
				if err != nil {
					// Storage failed after the collections were written: fail the run transiently
					// (the message is redelivered) rather than record a wrong licensed-user count.
					return outcomes, nil, fmt.Errorf("count licensed users: %w", err)
				}
				o.state.Licensed = &n
			}
			sum.counts["licensedUsers"] = *o.state.Licensed
		}
		if o.state != nil {
			if p := o.Unavailable; p != nil {
				o.state.Code, o.state.Reason, o.state.Remediation = p.Code, p.Message, p.Remediation
			}
			o.state.Skipped, o.state.SkipReason = o.Skipped, o.SkipReason
			save = append(save, *o.state)
		}
		outcomes[i] = o
	}
	if _, ok := sum.counts["licensedUsers"]; !ok {
		if l := stateOf(CollUsers).Licensed; l != nil {
			sum.counts["licensedUsers"] = *l
		}
	}
	if err := e.Store.PutSyncStates(ctx, tenantID, save); err != nil {
		// The delta links are not saved: the next run repeats this round.
		return outcomes, nil, err
	}
	sum.insightsDue = sum.insightsDue || config.Due(stateOf(insightsState).LastFullSync, e.now(), 24*time.Hour)
	return outcomes, sum, nil
}

// notDue is a collection left as the last read stored it: its count, its age and what it lacked.
func notDue(st store.SyncState) Outcome {
	o := Outcome{Collection: st.Collection, Count: st.Count, NotDue: true, SyncedAt: st.LastFullSync, Skipped: st.Skipped, SkipReason: st.SkipReason}
	if st.Code != "" {
		o.Unavailable = &domain.Problem{Code: st.Code, Message: st.Reason, Remediation: st.Remediation}
	}
	return o
}

func (e *Engine) reportHTTPClient(retry *graphclient.RetryHandler) (*http.Client, error) {
	base, err := e.Endpoints.Transport() // the process's one transport (shared/transport)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(base, retry), Timeout: 5 * time.Minute}, nil
}

// writerSink adapts a collection writer.
type writerSink struct{ w *store.CollectionWriter }

func (s writerSink) put(ctx context.Context, key string, v any) error { return s.w.Put(ctx, key, v) }
func (s writerSink) remove(ctx context.Context, key string) error     { return s.w.Delete(ctx, key) }

// delta syncs a collection with a delta query: from the stored link when it is fresh, else (or when
// Graph rejects the token) a full round that also removes rows Graph no longer returns. A delta
// round reads the stored rows' keys only once Graph returns a change, so a round without changes
// costs the table nothing; the count then stays the last one.
func (e *Engine) delta(ctx context.Context, tenantID string, st store.SyncState, fetch func(context.Context, string, deltaSink) (string, error)) Outcome {
	coll := st.Collection
	o := Outcome{Collection: coll, SyncedAt: st.DeltaAt}
	maxAge := e.DeltaMaxAge
	if maxAge == 0 {
		maxAge = 7 * 24 * time.Hour
	}
	link := st.DeltaLink
	o.Full = link == "" || e.now().Sub(st.DeltaAt) > maxAge
	if o.Full {
		link = ""
	}
	run := func(link string) (*store.CollectionWriter, string, error) {
		w := e.Store.Collection(tables[coll], tenantID)
		if link == "" {
			if err := w.Load(ctx); err != nil {
				return nil, "", err
			}
		} else {
			w.LoadOnWrite()
		}
		next, err := fetch(ctx, link, writerSink{w})
		if err != nil {
			_ = w.Wait() // its last transaction lands before a full round reloads the rows
		}
		return w, next, err
	}
	w, next, err := run(link)
	if err != nil && !o.Full && needsResync(err) {
		e.log().Info("delta token rejected: full resync", "tenantId", tenantID, "collection", coll)
		o.Full = true
		w, next, err = run("")
	}
	if err != nil {
		o.Err = err
		return o
	}
	if o.Stats, err = w.Finish(ctx, o.Full); err != nil {
		o.Err = err
		return o
	}
	o.Count = st.Count
	if n, ok := w.Count(); ok {
		o.Count = n
	}
	now := e.now()
	st.DeltaLink, st.DeltaAt, st.Available, st.Count = next, now, true, o.Count
	st.Code, st.Reason, st.Remediation = "", "", ""
	if o.Full {
		st.LastFullSync = now
	}
	o.SyncedAt, o.state = now, &st
	return o
}

// full syncs a collection that has no delta query: every row, unseen rows removed. unavailable
// recognises the errors that mean "this tenant cannot provide it".
func (e *Engine) full(ctx context.Context, tenantID string, prev store.SyncState, fetch func(context.Context, deltaSink) error, unavailable func(error) *domain.Problem) Outcome {
	coll := prev.Collection
	o := Outcome{Collection: coll, Full: true, SyncedAt: prev.LastFullSync}
	w := e.Store.Collection(tables[coll], tenantID)
	if err := w.Load(ctx); err != nil {
		o.Err = err
		return o
	}
	if err := fetch(ctx, writerSink{w}); err != nil {
		_ = w.Wait() // nothing of this run is written after it ends
		if p := unavailable(err); p != nil {
			// Keep what was stored before: the data is stale, not wrong, and the flag says so.
			o.Unavailable = p
			o.state = &store.SyncState{Collection: coll, Available: false}
			return o
		}
		o.Err = err
		return o
	}
	var err error
	if o.Stats, err = w.Finish(ctx, true); err != nil {
		o.Err = err
		return o
	}
	o.Count, _ = w.Count()
	o.SyncedAt = e.now()
	o.state = &store.SyncState{Collection: coll, Available: true, LastFullSync: o.SyncedAt, Count: o.Count}
	return o
}

// licences writes subscribedSkus (already read in the overview batch).
func (e *Engine) licences(ctx context.Context, tenantID string, st store.SyncState, ov *overview) Outcome {
	if ov.SkusErr != nil {
		return Outcome{Collection: CollLicenses, Err: ov.SkusErr, SyncedAt: st.LastFullSync}
	}
	return e.full(ctx, tenantID, st, func(ctx context.Context, s deltaSink) error {
		for _, sku := range ov.Skus {
			l := domain.License{SkuPartNumber: str(sku.GetSkuPartNumber()), Status: str(sku.GetCapabilityStatus())}
			if sku.GetSkuId() != nil {
				l.SkuID = sku.GetSkuId().String()
			}
			l.ProductName = ProductName(l.SkuPartNumber)
			if c := sku.GetConsumedUnits(); c != nil {
				l.Consumed = int(*c)
			}
			if p := sku.GetPrepaidUnits(); p != nil {
				l.Enabled, l.Suspended, l.Warning = intv(p.GetEnabled()), intv(p.GetSuspended()), intv(p.GetWarning())
			}
			l.Available = max(l.Enabled-l.Consumed, 0)
			if err := s.put(ctx, l.SkuID, l); err != nil {
				return err
			}
		}
		return nil
	}, func(error) *domain.Problem { return nil })
}

func intv(p *int32) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

// security syncs MFA state and last sign-in into UserSecurity: from the registration report, or,
// where that needs the Entra ID P1/P2 the tenant lacks, from the fallback (mfa.go).
func (e *Engine) security(ctx context.Context, tenantID string, st store.SyncState, mc mfaClients) (Outcome, mfaOutcome) {
	var mfa mfaOutcome
	signIn, signErr := signIns(ctx, mc.client, mc.adapter)
	var premium *domain.Problem
	if signErr != nil {
		if premium = premiumUnavailable(signErr); premium == nil {
			return Outcome{Collection: CollUserSecurity, Err: signErr, SyncedAt: st.LastFullSync}, mfa
		}
		signIn = map[string]time.Time{}
	}
	o := e.full(ctx, tenantID, st, func(ctx context.Context, s deltaSink) error {
		var err error
		mfa.Registered, mfa.Total, err = mfaRegistrations(ctx, mc.client, mc.adapter, signIn, s)
		mfa.Source = domain.MFASourceReport
		if p := premiumUnavailable(err); p != nil {
			premium = p
			if mfa, err = mfaFallback(ctx, mc, signIn, s); errors.Is(err, errMFADenied) {
				return fmt.Errorf("%w: %w", remedy.MFAStateUnavailable, err)
			}
		}
		if err != nil {
			return err
		}
		return signInsOnly(ctx, signIn, s)
	}, func(err error) *domain.Problem {
		if errors.Is(err, remedy.MFAStateUnavailable) {
			p := remedy.MFAStateUnavailable
			return &p
		}
		return premiumUnavailable(err)
	})
	if o.Unavailable == nil && premium != nil && o.Err == nil {
		o.Unavailable = premium // MFA synced, sign-ins not: say why
	}
	return o, mfa
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

func odata(err error) (code, message string, status int, ok bool) {
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		return "", "", 0, false
	}
	if me := oe.GetErrorEscaped(); me != nil {
		code, message = str(me.GetCode()), str(me.GetMessage())
	}
	return code, message, oe.ResponseStatusCode, true
}

// needsResync recognises Graph's "delta token no longer valid" answers.
func needsResync(err error) bool {
	code, _, status, ok := odata(err)
	return ok && (status == http.StatusGone || strings.EqualFold(code, "syncStateNotFound") || strings.EqualFold(code, "resyncRequired"))
}

func intuneUnavailable(err error) *domain.Problem {
	code, msg, status, ok := odata(err)
	if ok && (status == http.StatusForbidden || status == http.StatusBadRequest) && code != "Authorization_RequestDenied" &&
		(strings.Contains(strings.ToLower(msg), "intune") || strings.Contains(strings.ToLower(msg), "licen")) {
		p := remedy.IntuneNotLicensed
		return &p
	}
	return nil
}

func premiumUnavailable(err error) *domain.Problem {
	if code, _, _, ok := odata(err); ok && code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
		p := remedy.PremiumRequired
		return &p
	}
	return nil
}

func concealedUnavailable(err error) *domain.Problem {
	if errors.Is(err, errConcealed) {
		p := remedy.ReportsConcealed
		return &p
	}
	return nil
}
