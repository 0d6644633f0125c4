package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	gosync "sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"golang.org/x/sync/errgroup"

	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/crash"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/graphclient"
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
	Credentials Credentials
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
	Unavailable *remedy.Problem
	Err         error
	// Skipped counts source rows left out as unusable (mailbox report rows without a real name).
	Skipped    int
	SkipReason string
}

// Result is a run's outcome.
type Result struct {
	Run      domain.Run
	Outcomes []Outcome
	Problem  *remedy.Problem
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
	var drift *remedy.Problem
	if via.cred == nil {
		drift = e.checkDrift(ctx, req.TenantID, log) // app roles matter to app-only syncs only
	}
	outcomes, summary, err := e.collect(ctx, req.TenantID, via.cred, log)
	if drift != nil && err == nil {
		outcomes = withDrift(outcomes, drift)
	}
	if via.cred != nil && err == nil {
		outcomes = withGDAPLimits(outcomes, via.tenant)
	}
	res.Outcomes = outcomes
	state := domain.SyncSucceeded
	var problem *remedy.Problem
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
		run.Error = &domain.SyncError{Code: problem.Code, Message: problem.Message, Remediation: problem.Remediation}
	}
	run.Collections = map[string]domain.RunCollection{}
	for _, o := range outcomes {
		rc := domain.RunCollection{Full: o.Full, Count: o.Count, Written: o.Stats.Written, Unchanged: o.Stats.Unchanged, Deleted: o.Stats.Deleted, Transactions: o.Stats.Transactions,
			Skipped: o.Skipped}
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
		cs := store.CollectionStatus{Available: o.Err == nil && o.Unavailable == nil, Skipped: o.Skipped, SkipReason: o.SkipReason}
		if p := o.Unavailable; p != nil {
			cs.Code, cs.Reason, cs.Remediation = p.Code, p.Message, p.Remediation
		} else if o.Err != nil {
			p := remedy.Classify(o.Err)
			cs.Code, cs.Reason, cs.Remediation = p.Code, p.Message, p.Remediation
		}
		tr.Collections[o.Collection] = cs
	}
	if err := e.Store.SetTenantSyncResult(ctx, req.TenantID, tr); err != nil {
		return res, fmt.Errorf("record tenant sync state: %w", err)
	}
	if state != domain.SyncFailed {
		// The console's cross-tenant insights read this summary, never every tenant's users.
		if err := insights.Refresh(ctx, e.Store, req.TenantID, run.RunID, e.now()); err != nil {
			log.Warn("insights summary not updated", "error", err.Error())
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
	run.Error = &domain.SyncError{Code: p.Code, Message: p.Message, Remediation: p.Remediation}
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
}

// collect reads every collection. A returned error means the tenant could not be read at all.
// cred is the credential to read with; nil means the app's own (app-only) credential.
func (e *Engine) collect(ctx context.Context, tenantID string, cred azcore.TokenCredential, log *slog.Logger) ([]Outcome, *summary, error) {
	if cred == nil {
		var err error
		if cred, err = e.Credentials.For(tenantID); err != nil {
			return nil, nil, err
		}
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
	var mu gosync.Mutex
	outcomes := []Outcome{e.licences(ctx, tenantID, ov)}
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
		return e.delta(gctx, tenantID, CollUsers, func(ctx context.Context, link string, s deltaSink) (string, error) {
			return usersDelta(ctx, client, adapter, link, skuNames, s)
		})
	})
	collection(CollGroups, func() Outcome {
		return e.delta(gctx, tenantID, CollGroups, func(ctx context.Context, link string, s deltaSink) (string, error) {
			return groupsDelta(ctx, client, adapter, link, s)
		})
	})
	collection(CollDevices, func() Outcome {
		return e.full(gctx, tenantID, CollDevices, func(ctx context.Context, s deltaSink) error { return devices(ctx, client, adapter, s) }, intuneUnavailable)
	})
	collection(CollMailboxes, func() Outcome {
		if ov.Concealed != nil && *ov.Concealed {
			p := remedy.ReportsConcealed
			return Outcome{Collection: CollMailboxes, Unavailable: &p}
		}
		var st mailboxStats
		o := e.full(gctx, tenantID, CollMailboxes, func(ctx context.Context, s deltaSink) error {
			var err error
			st, err = mailboxes(ctx, hc, e.Endpoints.GraphURL, cred, ov.Concealed, s)
			return err
		}, concealedUnavailable)
		o.Skipped, o.SkipReason = st.Skipped(), st.skipReason()
		return o
	})
	collection(CollUserSecurity, func() Outcome {
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
		o, mfa := e.security(gctx, tenantID, mc)
		if mfa.Total > 0 && o.Err == nil {
			pct := float64(mfa.Registered) * 100 / float64(mfa.Total)
			mu.Lock()
			sum.mfaPercent, sum.mfaSource = &pct, mfa.Source
			mu.Unlock()
		}
		return o
	})
	_ = g.Wait() // every goroutine returns nil: failures are in the outcomes
	for _, o := range outcomes {
		if o.Err == nil && o.Unavailable == nil && o.Collection != CollUserSecurity {
			sum.counts[o.Collection] = o.Count
		}
	}
	n, err := e.Store.CountWhere(ctx, store.TableUsers, tenantID, "Licenses ne ''")
	if err != nil {
		// Storage failed after the collections were written: fail the run transiently (the
		// message is redelivered) rather than record a wrong licensed-user count.
		return outcomes, nil, fmt.Errorf("count licensed users: %w", err)
	}
	sum.counts["licensedUsers"] = n
	return outcomes, sum, nil
}

func (e *Engine) reportHTTPClient(retry *graphclient.RetryHandler) (*http.Client, error) {
	tc, err := e.Endpoints.TLSConfig()
	if err != nil {
		return nil, err
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = tc
	return &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(base, retry), Timeout: 5 * time.Minute}, nil
}

// writerSink adapts a collection writer.
type writerSink struct{ w *store.CollectionWriter }

func (s writerSink) put(ctx context.Context, key string, v any) error { return s.w.Put(ctx, key, v) }
func (s writerSink) remove(ctx context.Context, key string) error     { return s.w.Delete(ctx, key) }

// delta syncs a collection with a delta query: from the stored link when it is fresh, else (or when
// Graph rejects the token) a full round that also removes rows Graph no longer returns.
func (e *Engine) delta(ctx context.Context, tenantID, coll string, fetch func(context.Context, string, deltaSink) (string, error)) Outcome {
	o := Outcome{Collection: coll}
	st, err := e.Store.GetSyncState(ctx, tenantID, coll)
	if err != nil && !store.IsNotFound(err) {
		o.Err = err
		return o
	}
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
		if err := w.Load(ctx); err != nil {
			return nil, "", err
		}
		next, err := fetch(ctx, link, writerSink{w})
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
	if o.Count, err = e.Store.Count(ctx, tables[coll], tenantID); err != nil {
		o.Err = err // the delta link is not saved: the next run repeats this round
		return o
	}
	now := e.now()
	st.Collection, st.DeltaLink, st.DeltaAt, st.Available, st.Count = coll, next, now, true, o.Count
	if o.Full {
		st.LastFullSync = now
	}
	if err := e.Store.PutSyncState(ctx, tenantID, st); err != nil {
		o.Err = err
	}
	return o
}

// full syncs a collection that has no delta query: every row each run, unseen rows removed.
// unavailable recognises the errors that mean "this tenant cannot provide it".
func (e *Engine) full(ctx context.Context, tenantID, coll string, fetch func(context.Context, deltaSink) error, unavailable func(error) *remedy.Problem) Outcome {
	o := Outcome{Collection: coll, Full: true}
	w := e.Store.Collection(tables[coll], tenantID)
	if err := w.Load(ctx); err != nil {
		o.Err = err
		return o
	}
	if err := fetch(ctx, writerSink{w}); err != nil {
		if p := unavailable(err); p != nil {
			// Keep what was stored before: the data is stale, not wrong, and the flag says so.
			o.Unavailable = p
			if err := e.Store.PutSyncState(ctx, tenantID, store.SyncState{Collection: coll, Available: false, Reason: p.Message, Remediation: p.Remediation}); err != nil {
				o.Unavailable, o.Err = nil, err
			}
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
	if o.Count, err = e.Store.Count(ctx, tables[coll], tenantID); err != nil {
		o.Err = err
		return o
	}
	if err := e.Store.PutSyncState(ctx, tenantID, store.SyncState{Collection: coll, Available: true, LastFullSync: e.now(), Count: o.Count}); err != nil {
		o.Err = err
	}
	return o
}

// licences writes subscribedSkus (already read in the overview batch).
func (e *Engine) licences(ctx context.Context, tenantID string, ov *overview) Outcome {
	if ov.SkusErr != nil {
		return Outcome{Collection: CollLicenses, Err: ov.SkusErr}
	}
	return e.full(ctx, tenantID, CollLicenses, func(ctx context.Context, s deltaSink) error {
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
	}, func(error) *remedy.Problem { return nil })
}

func intv(p *int32) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

// security syncs MFA state and last sign-in into UserSecurity: from the registration report, or,
// where that needs the Entra ID P1/P2 the tenant lacks, from the fallback (mfa.go).
func (e *Engine) security(ctx context.Context, tenantID string, mc mfaClients) (Outcome, mfaOutcome) {
	var mfa mfaOutcome
	signIn, signErr := signIns(ctx, mc.client, mc.adapter)
	var premium *remedy.Problem
	if signErr != nil {
		if premium = premiumUnavailable(signErr); premium == nil {
			return Outcome{Collection: CollUserSecurity, Err: signErr}, mfa
		}
		signIn = map[string]time.Time{}
	}
	o := e.full(ctx, tenantID, CollUserSecurity, func(ctx context.Context, s deltaSink) error {
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
	}, func(err error) *remedy.Problem {
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

func intuneUnavailable(err error) *remedy.Problem {
	code, msg, status, ok := odata(err)
	if ok && (status == http.StatusForbidden || status == http.StatusBadRequest) && code != "Authorization_RequestDenied" &&
		(strings.Contains(strings.ToLower(msg), "intune") || strings.Contains(strings.ToLower(msg), "licen")) {
		p := remedy.IntuneNotLicensed
		return &p
	}
	return nil
}

func premiumUnavailable(err error) *remedy.Problem {
	if code, _, _, ok := odata(err); ok && code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
		p := remedy.PremiumRequired
		return &p
	}
	return nil
}

func concealedUnavailable(err error) *remedy.Problem {
	if errors.Is(err, errConcealed) {
		p := remedy.ReportsConcealed
		return &p
	}
	return nil
}
