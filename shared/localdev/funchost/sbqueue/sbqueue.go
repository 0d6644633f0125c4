// Package sbqueue is an in-memory queue with Azure Service Bus queue
// semantics, embedded in the local Functions host in place of a real
// namespace. It implements peek-lock receive (lock tokens, lock duration,
// renew, complete, abandon), delivery counting with dead-lettering on
// MaxDeliveryCount, duplicate detection, scheduled messages, time-to-live and
// a dead-letter sub-queue with an operator resubmit.
//
// Time: everything reads Options.Now. Timed state changes (lock expiry, TTL
// expiry, a scheduled message becoming due) are applied lazily on the next
// call that touches the queue, so no background goroutine is needed. A
// blocked Receive or WaitIdle arms a wake-up with Options.WakeAt for the next
// such instant, and is also woken by every state change (Send, Complete,
// Abandon, ...). Tests use ManualClock, whose Advance fires those wake-ups
// deterministically.
//
// Deliberate differences from Service Bus: no sessions (SessionID is carried
// but not enforced), no size limits, Stats.Active counts only messages
// receivable now (Service Bus's ActiveMessageCount also includes locked
// ones), and Resubmit bypasses duplicate detection.
package sbqueue

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Defaults match a newly created Service Bus queue (Standard tier), except
// that duplicate detection is on by default here.
const (
	DefaultMaxDeliveryCount         = 10
	DefaultLockDuration             = 60 * time.Second
	DefaultDuplicateDetectionWindow = 10 * time.Minute
	DefaultTimeToLive               = 14 * 24 * time.Hour

	// maxMessageIDLength is Service Bus's limit on MessageId.
	maxMessageIDLength = 128
)

// Dead-letter reasons and descriptions as Service Bus writes them.
const (
	ReasonMaxDeliveryCountExceeded = "MaxDeliveryCountExceeded"
	ReasonTTLExpired               = "TTLExpiredException"
	descTTLExpired                 = "The message expired and was dead lettered."
)

var (
	// ErrLockLost is returned when a lock token is unknown, already settled
	// or expired (Service Bus: MessageLockLost).
	ErrLockLost = errors.New("sbqueue: message lock lost")
	// ErrNotFound is returned when no message has the given sequence number.
	ErrNotFound = errors.New("sbqueue: message not found")
	// ErrInvalidMessage is returned by Send for messages Service Bus would reject.
	ErrInvalidMessage = errors.New("sbqueue: invalid message")
)

// Options configures a Queue. Zero values select the defaults.
type Options struct {
	MaxDeliveryCount         int           // default 10
	LockDuration             time.Duration // default 60s
	DuplicateDetectionWindow time.Duration // default 10m
	// DisableDuplicateDetection turns duplicate detection off (Service Bus's
	// RequiresDuplicateDetection=false).
	DisableDuplicateDetection bool
	// DefaultTimeToLive is the queue TTL (default 14 days). A message's own
	// TimeToLive is capped at it, as Service Bus silently does.
	DefaultTimeToLive time.Duration
	// DeadLetterOnExpiration moves expired messages to the dead-letter queue
	// instead of dropping them (off by default, as in Service Bus).
	DeadLetterOnExpiration bool

	// Now is the clock; default time.Now. Every timestamp and every expiry
	// decision uses it.
	Now func() time.Time
	// WakeAt arms a wake-up: the returned channel must receive (at least
	// once, buffered) when Now() has reached at; stop releases it. Blocked
	// Receive/WaitIdle calls use it to notice scheduled messages becoming
	// due and locks/TTLs expiring. Default: a real timer for at.Sub(Now()).
	// Set it together with Now (ManualClock.WakeAt) for deterministic tests.
	WakeAt func(at time.Time) (c <-chan time.Time, stop func())
}

// Message is what a sender supplies.
type Message struct {
	MessageID             string         `json:"messageId"`
	ContentType           string         `json:"contentType,omitempty"`
	CorrelationID         string         `json:"correlationId,omitempty"`
	Subject               string         `json:"subject,omitempty"`
	SessionID             string         `json:"sessionId,omitempty"`
	ReplyTo               string         `json:"replyTo,omitempty"`
	To                    string         `json:"to,omitempty"`
	Body                  []byte         `json:"body"`
	ApplicationProperties map[string]any `json:"applicationProperties,omitempty"`
	// ScheduledEnqueueTime, if in the future, hides the message until then.
	ScheduledEnqueueTime time.Time `json:"scheduledEnqueueTime,omitzero"`
	// TimeToLive zero means the queue default. On deliveries it holds the
	// effective value (JSON: nanoseconds).
	TimeToLive time.Duration `json:"timeToLive,omitzero"`
}

// Delivery is a received (locked) message. Peek and DeadLetters return it
// without a lock token.
type Delivery struct {
	Message
	SequenceNumber int64     `json:"sequenceNumber"`
	DeliveryCount  int       `json:"deliveryCount"`
	EnqueuedTime   time.Time `json:"enqueuedTime"`
	ExpiresAt      time.Time `json:"expiresAt"`
	LockedUntil    time.Time `json:"lockedUntil,omitzero"`
	LockToken      string    `json:"lockToken,omitempty"` // UUID with dashes
}

// DeadLetter is a message in the dead-letter sub-queue. SequenceNumber is
// the one it had in the active queue.
type DeadLetter struct {
	Delivery
	DeadLetterReason           string    `json:"deadLetterReason"`
	DeadLetterErrorDescription string    `json:"deadLetterErrorDescription"`
	DeadLetteredAt             time.Time `json:"deadLetteredAt"`
}

// SendResult reports the outcome of Send. SequenceNumbers holds the accepted
// messages in input order; Duplicates the MessageIDs that were dropped.
type SendResult struct {
	SequenceNumbers []int64  `json:"sequenceNumbers"`
	Duplicates      []string `json:"duplicates"`
}

// Stats is a snapshot of the queue. The first four are current counts, the
// rest are totals since New.
type Stats struct {
	Active       int `json:"active"`    // receivable now
	Scheduled    int `json:"scheduled"` // waiting for ScheduledEnqueueTime
	Locked       int `json:"locked"`    // delivered, not yet settled
	DeadLettered int `json:"deadLettered"`

	Sent       int64 `json:"sent"`       // accepted by Send (excludes duplicates)
	Completed  int64 `json:"completed"`  // settled with Complete
	Delivered  int64 `json:"delivered"`  // deliveries made: a redelivery counts again
	Duplicates int64 `json:"duplicates"` // dropped by duplicate detection
	Expired    int64 `json:"expired"`    // TTL ran out before completion
}

// Queue is safe for concurrent use.
type Queue struct {
	name string
	opts Options

	mu      sync.Mutex
	seq     int64
	entries []*entry          // live messages (scheduled, available, locked), sorted by seq
	locks   map[string]*entry // lock token -> locked entry
	dlq     []DeadLetter
	// nextSweep is the earliest lock or TTL expiry among entries (zero: none),
	// so most calls skip the O(n) sweep.
	nextSweep time.Time
	// changed is closed and replaced on every state change to wake waiters.
	changed chan struct{}

	// Duplicate detection: accept time per MessageID, plus accept order so
	// stale IDs can be pruned from the front.
	seen      map[string]time.Time
	seenOrder []seenID

	sent, completed, duplicates, expired, delivered int64
}

type seenID struct {
	id string
	at time.Time
}

type entry struct {
	msg           Message // MessageID assigned, TimeToLive effective
	seq           int64
	deliveryCount int
	enqueued      time.Time
	expires       time.Time
	lockToken     string // non-empty while locked
	lockedUntil   time.Time
}

func (e *entry) locked() bool { return e.lockToken != "" }

// New returns an empty queue.
func New(name string, opts Options) *Queue {
	if opts.MaxDeliveryCount <= 0 {
		opts.MaxDeliveryCount = DefaultMaxDeliveryCount
	}
	if opts.LockDuration <= 0 {
		opts.LockDuration = DefaultLockDuration
	}
	if opts.DuplicateDetectionWindow <= 0 {
		opts.DuplicateDetectionWindow = DefaultDuplicateDetectionWindow
	}
	if opts.DefaultTimeToLive <= 0 {
		opts.DefaultTimeToLive = DefaultTimeToLive
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WakeAt == nil {
		now := opts.Now
		opts.WakeAt = func(at time.Time) (<-chan time.Time, func()) {
			t := time.NewTimer(at.Sub(now()))
			return t.C, func() { t.Stop() }
		}
	}
	return &Queue{
		name:    name,
		opts:    opts,
		locks:   map[string]*entry{},
		seen:    map[string]time.Time{},
		changed: make(chan struct{}),
	}
}

// Name returns the queue name given to New.
func (q *Queue) Name() string { return q.name }

// Send enqueues messages. Messages whose MessageID was accepted within the
// duplicate detection window (measured from that earlier accept) are dropped
// without error, as Service Bus does; they are listed in Duplicates. An empty
// MessageID gets a fresh UUID (32 hex digits). Either all messages are
// validated and processed, or an error is returned and none is enqueued.
func (q *Queue) Send(msgs ...Message) (SendResult, error) {
	for i, m := range msgs {
		if len(m.MessageID) > maxMessageIDLength {
			return SendResult{}, fmt.Errorf("%w: message %d: MessageID longer than %d characters", ErrInvalidMessage, i, maxMessageIDLength)
		}
		if m.TimeToLive < 0 {
			return SendResult{}, fmt.Errorf("%w: message %d: negative TimeToLive", ErrInvalidMessage, i)
		}
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.sweepLocked()
	q.pruneSeenLocked(now)

	res := SendResult{SequenceNumbers: []int64{}, Duplicates: []string{}}
	for _, m := range msgs {
		if m.MessageID == "" {
			m.MessageID = newMessageID()
		} else if !q.opts.DisableDuplicateDetection {
			if at, ok := q.seen[m.MessageID]; ok && now.Before(at.Add(q.opts.DuplicateDetectionWindow)) {
				res.Duplicates = append(res.Duplicates, m.MessageID)
				q.duplicates++
				continue
			}
		}
		if !q.opts.DisableDuplicateDetection {
			// Generated IDs are recorded too: the broker cannot tell them
			// apart from client-chosen ones.
			q.seen[m.MessageID] = now
			q.seenOrder = append(q.seenOrder, seenID{m.MessageID, now})
		}
		enqueued := now
		if m.ScheduledEnqueueTime.After(now) {
			enqueued = m.ScheduledEnqueueTime
		}
		e := q.appendLocked(m, enqueued)
		res.SequenceNumbers = append(res.SequenceNumbers, e.seq)
		q.sent++
	}
	if len(res.SequenceNumbers) > 0 {
		q.notifyLocked()
	}
	return res, nil
}

// appendLocked stores a copy of m as a new message with the next sequence
// number. Appending keeps entries sorted because sequence numbers only grow.
func (q *Queue) appendLocked(m Message, enqueued time.Time) *entry {
	if m.TimeToLive == 0 || m.TimeToLive > q.opts.DefaultTimeToLive {
		m.TimeToLive = q.opts.DefaultTimeToLive
	}
	m.Body = bytes.Clone(m.Body)
	m.ApplicationProperties = maps.Clone(m.ApplicationProperties)
	q.seq++
	e := &entry{msg: m, seq: q.seq, enqueued: enqueued, expires: enqueued.Add(m.TimeToLive)}
	q.entries = append(q.entries, e)
	q.nextSweep = minTime(q.nextSweep, e.expires)
	return e
}

// Receive locks and returns the available message with the lowest sequence
// number, blocking until there is one or ctx is done (then ctx.Err()).
func (q *Queue) Receive(ctx context.Context) (*Delivery, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.mu.Lock()
		now := q.sweepLocked()
		d, wake := q.takeLocked(now)
		changed := q.changed
		q.mu.Unlock()
		if d != nil {
			return d, nil
		}
		if err := q.wait(ctx, changed, wake); err != nil {
			return nil, err
		}
	}
}

// TryReceive is Receive without blocking; ok is false if nothing is available.
func (q *Queue) TryReceive() (d *Delivery, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, _ = q.takeLocked(q.sweepLocked())
	return d, d != nil
}

// takeLocked locks the first available entry. If there is none it returns
// the earliest instant one may become available (a scheduled message falling
// due or a lock expiring), zero if none.
func (q *Queue) takeLocked(now time.Time) (*Delivery, time.Time) {
	var wake time.Time
	for _, e := range q.entries {
		switch {
		case e.locked():
			wake = minTime(wake, e.lockedUntil)
		case e.enqueued.After(now):
			wake = minTime(wake, e.enqueued)
		default:
			e.deliveryCount++
			q.delivered++
			e.lockToken = uuid.NewString()
			e.lockedUntil = now.Add(q.opts.LockDuration)
			q.locks[e.lockToken] = e
			q.nextSweep = minTime(q.nextSweep, e.lockedUntil)
			// No notify: taking a lock cannot unblock any waiter.
			return e.delivery(true), time.Time{}
		}
	}
	return nil, wake
}

// wait blocks until the queue changes, the clock reaches wake (if non-zero)
// or ctx is done.
func (q *Queue) wait(ctx context.Context, changed <-chan struct{}, wake time.Time) error {
	var timer <-chan time.Time
	if !wake.IsZero() {
		c, stop := q.opts.WakeAt(wake)
		defer stop()
		timer = c
	}
	select {
	case <-changed:
	case <-timer:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Complete settles a locked message, removing it from the queue.
func (q *Queue) Complete(lockToken string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweepLocked()
	e, ok := q.locks[lockToken]
	if !ok {
		return ErrLockLost
	}
	q.unlockLocked(e)
	q.removeLocked(e)
	q.completed++
	q.notifyLocked()
	return nil
}

// Abandon releases the lock at once. The message becomes available again,
// or is dead-lettered if it has been delivered MaxDeliveryCount times.
func (q *Queue) Abandon(lockToken string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.sweepLocked()
	e, ok := q.locks[lockToken]
	if !ok {
		return ErrLockLost
	}
	q.releaseLocked(e, now)
	q.notifyLocked()
	return nil
}

// DeadLetter moves a locked message to the dead-letter queue with the given
// reason and description, like a Service Bus receiver's DeadLetterMessage.
func (q *Queue) DeadLetter(lockToken, reason, description string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.sweepLocked()
	e, ok := q.locks[lockToken]
	if !ok {
		return ErrLockLost
	}
	q.unlockLocked(e)
	q.removeLocked(e)
	q.deadLetterLocked(e, reason, description, now)
	q.notifyLocked()
	return nil
}

// RenewLock extends a lock to now + LockDuration and returns the new
// LockedUntil. The delivery count is unchanged.
func (q *Queue) RenewLock(lockToken string) (time.Time, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.sweepLocked()
	e, ok := q.locks[lockToken]
	if !ok {
		return time.Time{}, ErrLockLost
	}
	e.lockedUntil = now.Add(q.opts.LockDuration)
	// nextSweep may now be early; that only costs one extra sweep.
	return e.lockedUntil, nil
}

// CancelScheduled removes a scheduled message that is not yet due, like
// Service Bus's CancelScheduledMessage.
func (q *Queue) CancelScheduled(sequenceNumber int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.sweepLocked()
	i, ok := q.indexLocked(sequenceNumber)
	if !ok || !q.entries[i].enqueued.After(now) {
		return ErrNotFound
	}
	q.entries = slices.Delete(q.entries, i, i+1)
	q.notifyLocked()
	return nil
}

// Peek returns up to max live messages (all if max <= 0) in sequence order
// without locking them: scheduled ones have a future EnqueuedTime, locked
// ones a LockedUntil. Lock tokens are not revealed.
func (q *Queue) Peek(max int) []Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweepLocked()
	n := len(q.entries)
	if max > 0 && max < n {
		n = max
	}
	out := make([]Delivery, 0, n)
	for _, e := range q.entries[:n] {
		out = append(out, *e.delivery(false))
	}
	return out
}

// DeadLetters returns the dead-letter sub-queue in the order messages
// arrived there.
func (q *Queue) DeadLetters() []DeadLetter {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweepLocked()
	out := make([]DeadLetter, len(q.dlq))
	for i, dl := range q.dlq {
		dl.Message = cloneMessage(dl.Message)
		out[i] = dl
	}
	return out
}

// Resubmit moves a dead-lettered message (by its original sequence number)
// back to the active queue as a new message: new sequence number,
// DeliveryCount 0, EnqueuedTime now, same MessageID, body, properties and
// TTL. It bypasses duplicate detection on purpose: real Service Bus would
// silently drop a same-MessageID resend inside the window, but this is an
// operator tool of the local host and must always take effect.
func (q *Queue) Resubmit(sequenceNumber int64) (int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.sweepLocked()
	i := slices.IndexFunc(q.dlq, func(dl DeadLetter) bool { return dl.SequenceNumber == sequenceNumber })
	if i < 0 {
		return 0, ErrNotFound
	}
	dl := q.dlq[i]
	q.dlq = slices.Delete(q.dlq, i, i+1)
	seq := q.resubmitLocked(dl, now)
	q.notifyLocked()
	return seq, nil
}

// ResubmitAll resubmits every dead-lettered message in dead-letter order and
// returns the new sequence numbers.
func (q *Queue) ResubmitAll() ([]int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.sweepLocked()
	seqs := make([]int64, 0, len(q.dlq))
	for _, dl := range q.dlq {
		seqs = append(seqs, q.resubmitLocked(dl, now))
	}
	q.dlq = nil
	if len(seqs) > 0 {
		q.notifyLocked()
	}
	return seqs, nil
}

func (q *Queue) resubmitLocked(dl DeadLetter, now time.Time) int64 {
	m := dl.Message
	m.ScheduledEnqueueTime = time.Time{} // it is enqueued now
	return q.appendLocked(m, now).seq
}

// Stats returns current counts and totals.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.sweepLocked()
	s := Stats{
		DeadLettered: len(q.dlq),
		Sent:         q.sent,
		Completed:    q.completed,
		Delivered:    q.delivered,
		Duplicates:   q.duplicates,
		Expired:      q.expired,
	}
	for _, e := range q.entries {
		switch {
		case e.locked():
			s.Locked++
		case e.enqueued.After(now):
			s.Scheduled++
		default:
			s.Active++
		}
	}
	return s
}

// WaitIdle blocks until no message is active, scheduled or locked (dead
// letters do not count), or ctx is done. It wakes on every state change and
// on the next lock/TTL expiry, never by polling.
func (q *Queue) WaitIdle(ctx context.Context) error {
	for {
		q.mu.Lock()
		q.sweepLocked()
		idle := len(q.entries) == 0
		wake := q.nextSweep
		changed := q.changed
		q.mu.Unlock()
		if idle {
			return nil
		}
		if err := q.wait(ctx, changed, wake); err != nil {
			return err
		}
	}
}

// Poke applies any due timed transitions and wakes all blocked callers. It
// is only needed when the clock jumps without WakeAt firing (e.g. a custom
// Now without a matching WakeAt).
func (q *Queue) Poke() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sweepLocked()
	q.notifyLocked()
}

// sweepLocked reads the clock and, if some lock or TTL may have expired,
// applies those expiries. It returns the time it used.
func (q *Queue) sweepLocked() time.Time {
	now := q.opts.Now()
	if q.nextSweep.IsZero() || now.Before(q.nextSweep) {
		return now
	}
	var next time.Time
	changed := false
	kept := q.entries[:0]
	for _, e := range q.entries {
		if e.locked() && !now.Before(e.lockedUntil) {
			changed = true
			q.unlockLocked(e)
			if e.deliveryCount >= q.opts.MaxDeliveryCount {
				q.deadLetterLocked(e, ReasonMaxDeliveryCountExceeded, maxDeliveryDescription(e.deliveryCount), now)
				continue
			}
		}
		// A locked message does not expire: its holder may still complete it.
		if !e.locked() && !now.Before(e.expires) {
			changed = true
			q.expired++
			if q.opts.DeadLetterOnExpiration {
				q.deadLetterLocked(e, ReasonTTLExpired, descTTLExpired, now)
			}
			continue
		}
		kept = append(kept, e)
		if e.locked() {
			next = minTime(next, e.lockedUntil)
		} else {
			next = minTime(next, e.expires)
		}
	}
	clear(q.entries[len(kept):]) // drop references for the GC
	q.entries = kept
	q.nextSweep = next
	if changed {
		q.notifyLocked()
	}
	return now
}

// releaseLocked ends a delivery without settling it: back to available, or
// to the dead-letter queue once the delivery budget is spent.
func (q *Queue) releaseLocked(e *entry, now time.Time) {
	q.unlockLocked(e)
	if e.deliveryCount >= q.opts.MaxDeliveryCount {
		q.removeLocked(e)
		q.deadLetterLocked(e, ReasonMaxDeliveryCountExceeded, maxDeliveryDescription(e.deliveryCount), now)
		return
	}
	// Its TTL may have passed while it was locked; let the next sweep see it.
	q.nextSweep = minTime(q.nextSweep, e.expires)
}

func (q *Queue) unlockLocked(e *entry) {
	delete(q.locks, e.lockToken)
	e.lockToken = ""
	e.lockedUntil = time.Time{}
}

func (q *Queue) removeLocked(e *entry) {
	if i, ok := q.indexLocked(e.seq); ok {
		q.entries = slices.Delete(q.entries, i, i+1)
	}
}

func (q *Queue) indexLocked(seq int64) (int, bool) {
	return slices.BinarySearchFunc(q.entries, seq, func(e *entry, s int64) int { return cmp.Compare(e.seq, s) })
}

// deadLetterLocked records e in the dead-letter queue; the caller has already
// taken it out of entries (or is about to drop it).
func (q *Queue) deadLetterLocked(e *entry, reason, description string, now time.Time) {
	d := e.delivery(false)
	d.LockedUntil = time.Time{}
	q.dlq = append(q.dlq, DeadLetter{
		Delivery:                   *d,
		DeadLetterReason:           reason,
		DeadLetterErrorDescription: description,
		DeadLetteredAt:             now,
	})
}

func (q *Queue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// pruneSeenLocked forgets MessageIDs whose window has passed, keeping the
// duplicate-detection history bounded.
func (q *Queue) pruneSeenLocked(now time.Time) {
	n := 0
	for _, s := range q.seenOrder {
		if now.Before(s.at.Add(q.opts.DuplicateDetectionWindow)) {
			break
		}
		if at, ok := q.seen[s.id]; ok && at.Equal(s.at) {
			delete(q.seen, s.id)
		}
		n++
	}
	if n > 0 {
		q.seenOrder = slices.Delete(q.seenOrder, 0, n)
	}
}

// delivery snapshots e; the copy shares no mutable memory with the queue.
func (e *entry) delivery(withLock bool) *Delivery {
	d := &Delivery{
		Message:        cloneMessage(e.msg),
		SequenceNumber: e.seq,
		DeliveryCount:  e.deliveryCount,
		EnqueuedTime:   e.enqueued,
		ExpiresAt:      e.expires,
		LockedUntil:    e.lockedUntil,
	}
	if withLock {
		d.LockToken = e.lockToken
	}
	return d
}

func cloneMessage(m Message) Message {
	m.Body = bytes.Clone(m.Body)
	m.ApplicationProperties = maps.Clone(m.ApplicationProperties)
	return m
}

func maxDeliveryDescription(n int) string {
	return fmt.Sprintf("Message could not be consumed after %d delivery attempts.", n)
}

// newMessageID mimics the 32-hex-digit ids Service Bus clients generate.
func newMessageID() string {
	return strings.ReplaceAll(uuid.NewString(), "-", "")
}

// minTime returns the earlier of a and b, treating zero as "never".
func minTime(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	default:
		return b
	}
}
