package sbqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// watchdog bounds waits on goroutines so a bug fails the test instead of
// hanging it; it is never used to order events.
const watchdog = 10 * time.Second

func newFake(t *testing.T, opts Options) (*Queue, *ManualClock) {
	t.Helper()
	c := NewManualClock(t0)
	opts.Now, opts.WakeAt = c.Now, c.WakeAt
	return New("q", opts), c
}

func send(t *testing.T, q *Queue, msgs ...Message) SendResult {
	t.Helper()
	res, err := q.Send(msgs...)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res
}

func mustReceive(t *testing.T, q *Queue) *Delivery {
	t.Helper()
	d, ok := q.TryReceive()
	if !ok {
		t.Fatalf("TryReceive: nothing available; stats %+v", q.Stats())
	}
	return d
}

func mustEmpty(t *testing.T, q *Queue) {
	t.Helper()
	if d, ok := q.TryReceive(); ok {
		t.Fatalf("TryReceive: got seq %d (%q), want nothing", d.SequenceNumber, d.MessageID)
	}
}

type recvResult struct {
	d   *Delivery
	err error
}

// receiveAsync starts a blocking Receive in a goroutine.
func receiveAsync(ctx context.Context, q *Queue) <-chan recvResult {
	ch := make(chan recvResult, 1)
	go func() {
		d, err := q.Receive(ctx)
		ch <- recvResult{d, err}
	}()
	return ch
}

func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(watchdog):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func blockUntilPending(t *testing.T, c *ManualClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), watchdog)
	defer cancel()
	if err := c.BlockUntilPending(ctx, n); err != nil {
		t.Fatalf("waiting for %d blocked waiter(s): %v", n, err)
	}
}

func TestFIFOBySequence(t *testing.T) {
	q, _ := newFake(t, Options{})
	var ids []string
	for i := range 5 {
		ids = append(ids, fmt.Sprintf("m%d", i))
	}
	for _, id := range ids {
		send(t, q, Message{MessageID: id, Body: []byte(id)})
	}
	for i, id := range ids {
		d := mustReceive(t, q)
		if d.SequenceNumber != int64(i+1) || d.MessageID != id || string(d.Body) != id {
			t.Fatalf("delivery %d: seq %d id %q body %q", i, d.SequenceNumber, d.MessageID, d.Body)
		}
		if d.DeliveryCount != 1 {
			t.Fatalf("first delivery count = %d, want 1", d.DeliveryCount)
		}
		if !d.LockedUntil.Equal(t0.Add(DefaultLockDuration)) {
			t.Fatalf("LockedUntil = %v", d.LockedUntil)
		}
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(d.LockToken) {
			t.Fatalf("LockToken %q is not a dashed UUID", d.LockToken)
		}
	}
}

func TestAbandonedMessageKeepsItsPlace(t *testing.T) {
	q, _ := newFake(t, Options{})
	send(t, q, Message{MessageID: "a"}, Message{MessageID: "b"})
	a := mustReceive(t, q)
	if err := q.Abandon(a.LockToken); err != nil {
		t.Fatal(err)
	}
	again := mustReceive(t, q)
	if again.MessageID != "a" || again.DeliveryCount != 2 {
		t.Fatalf("got %q count %d, want a count 2", again.MessageID, again.DeliveryCount)
	}
	if again.LockToken == a.LockToken {
		t.Fatal("redelivery reused the lock token")
	}
	if err := q.Complete(a.LockToken); !errors.Is(err, ErrLockLost) {
		t.Fatalf("Complete with abandoned token: %v, want ErrLockLost", err)
	}
}

func TestLockHidesMessage(t *testing.T) {
	q, _ := newFake(t, Options{})
	send(t, q, Message{MessageID: "a"})
	if first := mustReceive(t, q); first.MessageID != "a" {
		t.Fatalf("first receiver got %q", first.MessageID)
	}
	mustEmpty(t, q) // a second receiver must not see the locked message

	send(t, q, Message{MessageID: "b"})
	second := mustReceive(t, q)
	if second.MessageID != "b" {
		t.Fatalf("second receiver got %q, want b", second.MessageID)
	}
	if s := q.Stats(); s.Locked != 2 || s.Active != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCompleteRemoves(t *testing.T) {
	q, _ := newFake(t, Options{})
	send(t, q, Message{MessageID: "a"})
	d := mustReceive(t, q)
	if err := q.Complete(d.LockToken); err != nil {
		t.Fatal(err)
	}
	if err := q.Complete(d.LockToken); !errors.Is(err, ErrLockLost) {
		t.Fatalf("second Complete: %v, want ErrLockLost", err)
	}
	if err := q.Abandon(d.LockToken); !errors.Is(err, ErrLockLost) {
		t.Fatalf("Abandon after Complete: %v, want ErrLockLost", err)
	}
	mustEmpty(t, q)
	if s := q.Stats(); s != (Stats{Sent: 1, Completed: 1, Delivered: 1}) {
		t.Fatalf("stats %+v", s)
	}
}

func TestAbandonRedeliversWithIncrementedCount(t *testing.T) {
	q, _ := newFake(t, Options{})
	send(t, q, Message{MessageID: "a"})
	for want := 1; want <= 4; want++ {
		d := mustReceive(t, q)
		if d.DeliveryCount != want {
			t.Fatalf("DeliveryCount = %d, want %d", d.DeliveryCount, want)
		}
		if err := q.Abandon(d.LockToken); err != nil {
			t.Fatal(err)
		}
	}
	if s := q.Stats(); s.Active != 1 || s.DeadLettered != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLockExpiry(t *testing.T) {
	q, c := newFake(t, Options{LockDuration: 30 * time.Second})
	send(t, q, Message{MessageID: "a"})
	d1 := mustReceive(t, q)

	c.Advance(29 * time.Second)
	mustEmpty(t, q) // still locked
	if until, err := q.RenewLock(d1.LockToken); err != nil || !until.Equal(t0.Add(59*time.Second)) {
		t.Fatalf("RenewLock = %v, %v", until, err)
	}
	c.Advance(29 * time.Second)
	mustEmpty(t, q) // renewed lock still holds

	c.Advance(1 * time.Second) // exactly at LockedUntil: expired
	d2 := mustReceive(t, q)
	if d2.SequenceNumber != d1.SequenceNumber || d2.DeliveryCount != 2 {
		t.Fatalf("redelivery seq %d count %d", d2.SequenceNumber, d2.DeliveryCount)
	}
	if err := q.Complete(d1.LockToken); !errors.Is(err, ErrLockLost) {
		t.Fatalf("Complete with expired token: %v, want ErrLockLost", err)
	}
	if _, err := q.RenewLock(d1.LockToken); !errors.Is(err, ErrLockLost) {
		t.Fatalf("RenewLock with expired token: %v, want ErrLockLost", err)
	}
	if err := q.Complete(d2.LockToken); err != nil {
		t.Fatalf("Complete with current token: %v", err)
	}
}

func TestCompleteAfterLockExpiredMakesMessageAvailable(t *testing.T) {
	q, c := newFake(t, Options{})
	send(t, q, Message{MessageID: "a"})
	d := mustReceive(t, q)
	c.Advance(DefaultLockDuration + time.Second)
	// Nothing touched the queue since the lock expired: Complete must detect it.
	if err := q.Complete(d.LockToken); !errors.Is(err, ErrLockLost) {
		t.Fatalf("Complete: %v, want ErrLockLost", err)
	}
	if s := q.Stats(); s.Active != 1 || s.Locked != 0 || s.Completed != 0 {
		t.Fatalf("stats %+v", s)
	}
	if d := mustReceive(t, q); d.DeliveryCount != 2 {
		t.Fatalf("DeliveryCount = %d, want 2", d.DeliveryCount)
	}
}

func TestBlockedReceiveWakesOnLockExpiry(t *testing.T) {
	q, c := newFake(t, Options{})
	send(t, q, Message{MessageID: "a"})
	held := mustReceive(t, q)

	ch := receiveAsync(t.Context(), q)
	blockUntilPending(t, c, 1)
	c.Advance(DefaultLockDuration)
	r := await(t, ch, "Receive after lock expiry")
	if r.err != nil || r.d.SequenceNumber != held.SequenceNumber || r.d.DeliveryCount != 2 {
		t.Fatalf("got %+v, %v", r.d, r.err)
	}
}

func TestDeadLetterAfterMaxDeliveryCount(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		expire bool // end deliveries by lock expiry instead of Abandon
	}{
		{"max3-abandon", 3, false},
		{"default10-abandon", 0, false},
		{"default10-lock-expiry", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, c := newFake(t, Options{MaxDeliveryCount: tc.max})
			want := tc.max
			if want == 0 {
				want = 10
			}
			res := send(t, q, Message{MessageID: "poison", Body: []byte("x")})
			for n := 1; n <= want; n++ {
				d := mustReceive(t, q)
				if d.DeliveryCount != n {
					t.Fatalf("DeliveryCount = %d, want %d", d.DeliveryCount, n)
				}
				if tc.expire {
					c.Advance(DefaultLockDuration)
				} else if err := q.Abandon(d.LockToken); err != nil {
					t.Fatal(err)
				}
			}
			mustEmpty(t, q)
			s := q.Stats()
			if s.DeadLettered != 1 || s.Active != 0 || s.Locked != 0 {
				t.Fatalf("stats %+v", s)
			}
			dls := q.DeadLetters()
			if len(dls) != 1 {
				t.Fatalf("%d dead letters", len(dls))
			}
			dl := dls[0]
			wantDesc := fmt.Sprintf("Message could not be consumed after %d delivery attempts.", want)
			if dl.DeadLetterReason != "MaxDeliveryCountExceeded" || dl.DeadLetterErrorDescription != wantDesc {
				t.Fatalf("reason %q description %q", dl.DeadLetterReason, dl.DeadLetterErrorDescription)
			}
			if dl.SequenceNumber != res.SequenceNumbers[0] || dl.DeliveryCount != want || dl.MessageID != "poison" || string(dl.Body) != "x" {
				t.Fatalf("dead letter %+v", dl)
			}
			if dl.LockToken != "" || !dl.LockedUntil.IsZero() {
				t.Fatalf("dead letter still carries a lock: %+v", dl.Delivery)
			}
			if !dl.DeadLetteredAt.Equal(c.Now()) {
				t.Fatalf("DeadLetteredAt = %v, want %v", dl.DeadLetteredAt, c.Now())
			}
		})
	}
}

func TestDuplicateDetection(t *testing.T) {
	q, c := newFake(t, Options{})
	r := send(t, q, Message{MessageID: "a"}, Message{MessageID: "a"}, Message{MessageID: "b"})
	if len(r.SequenceNumbers) != 2 || len(r.Duplicates) != 1 || r.Duplicates[0] != "a" {
		t.Fatalf("same-batch duplicate: %+v", r)
	}

	c.Advance(DefaultDuplicateDetectionWindow - time.Second)
	r = send(t, q, Message{MessageID: "a"})
	if len(r.SequenceNumbers) != 0 || len(r.Duplicates) != 1 {
		t.Fatalf("inside window: %+v", r)
	}
	// The window runs from the first accept, not from the dropped resend.
	c.Advance(time.Second)
	r = send(t, q, Message{MessageID: "a"})
	if len(r.SequenceNumbers) != 1 || len(r.Duplicates) != 0 {
		t.Fatalf("after window: %+v", r)
	}
	// Completing does not end the window either.
	d := mustReceive(t, q)
	if err := q.Complete(d.LockToken); err != nil {
		t.Fatal(err)
	}
	if r = send(t, q, Message{MessageID: "a"}); len(r.Duplicates) != 1 {
		t.Fatalf("after complete: %+v", r)
	}
	if s := q.Stats(); s.Duplicates != 3 || s.Sent != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGeneratedMessageIDs(t *testing.T) {
	q, _ := newFake(t, Options{})
	r := send(t, q, Message{}, Message{})
	if len(r.SequenceNumbers) != 2 || len(r.Duplicates) != 0 {
		t.Fatalf("%+v", r)
	}
	a, b := mustReceive(t, q), mustReceive(t, q)
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	if !hex32.MatchString(a.MessageID) || !hex32.MatchString(b.MessageID) || a.MessageID == b.MessageID {
		t.Fatalf("generated ids %q %q", a.MessageID, b.MessageID)
	}
}

func TestDuplicateDetectionDisabled(t *testing.T) {
	q, _ := newFake(t, Options{DisableDuplicateDetection: true})
	if r := send(t, q, Message{MessageID: "a"}, Message{MessageID: "a"}); len(r.SequenceNumbers) != 2 {
		t.Fatalf("%+v", r)
	}
}

func TestSendValidation(t *testing.T) {
	q, _ := newFake(t, Options{})
	long := string(make([]byte, 129))
	for _, m := range []Message{{MessageID: long}, {TimeToLive: -time.Second}} {
		if _, err := q.Send(Message{MessageID: "ok"}, m); !errors.Is(err, ErrInvalidMessage) {
			t.Fatalf("Send(%+v): %v, want ErrInvalidMessage", m, err)
		}
	}
	if s := q.Stats(); s.Sent != 0 {
		t.Fatalf("rejected batch was partially enqueued: %+v", s)
	}
}

func TestScheduledMessage(t *testing.T) {
	q, c := newFake(t, Options{})
	due := t0.Add(5 * time.Minute)
	r := send(t, q, Message{MessageID: "later", ScheduledEnqueueTime: due})
	send(t, q, Message{MessageID: "now"})
	if r.SequenceNumbers[0] != 1 {
		t.Fatalf("sequence number not assigned at send: %+v", r)
	}

	if d := mustReceive(t, q); d.MessageID != "now" {
		t.Fatalf("got %q before the scheduled one was due", d.MessageID)
	} else if err := q.Complete(d.LockToken); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, q)
	if s := q.Stats(); s.Scheduled != 1 || s.Active != 0 {
		t.Fatalf("stats %+v", s)
	}
	c.Advance(5*time.Minute - time.Second)
	mustEmpty(t, q)

	ch := receiveAsync(t.Context(), q)
	blockUntilPending(t, c, 1) // Receive is parked on the clock
	select {
	case r := <-ch:
		t.Fatalf("Receive returned early: %+v %v", r.d, r.err)
	default:
	}
	c.Advance(time.Second)
	got := await(t, ch, "scheduled delivery")
	if got.err != nil {
		t.Fatal(got.err)
	}
	d := got.d
	if d.MessageID != "later" || d.SequenceNumber != 1 || d.DeliveryCount != 1 {
		t.Fatalf("got %+v", d)
	}
	if !d.EnqueuedTime.Equal(due) || !d.ExpiresAt.Equal(due.Add(DefaultTimeToLive)) {
		t.Fatalf("EnqueuedTime %v ExpiresAt %v", d.EnqueuedTime, d.ExpiresAt)
	}
}

func TestScheduledInThePastIsImmediate(t *testing.T) {
	q, _ := newFake(t, Options{})
	send(t, q, Message{MessageID: "a", ScheduledEnqueueTime: t0.Add(-time.Hour)})
	if d := mustReceive(t, q); !d.EnqueuedTime.Equal(t0) {
		t.Fatalf("EnqueuedTime %v", d.EnqueuedTime)
	}
}

func TestCancelScheduled(t *testing.T) {
	q, _ := newFake(t, Options{})
	r := send(t, q, Message{MessageID: "a", ScheduledEnqueueTime: t0.Add(time.Minute)}, Message{MessageID: "b"})
	if err := q.CancelScheduled(r.SequenceNumbers[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancel of a non-scheduled message: %v", err)
	}
	if err := q.CancelScheduled(r.SequenceNumbers[0]); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.Scheduled != 0 || s.Active != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTimeToLive(t *testing.T) {
	q, c := newFake(t, Options{})
	send(t, q,
		Message{MessageID: "short", TimeToLive: time.Minute},
		Message{MessageID: "default"},
		Message{MessageID: "capped", TimeToLive: 30 * 24 * time.Hour},
	)
	ds := q.Peek(0)
	if len(ds) != 3 {
		t.Fatalf("peek %d", len(ds))
	}
	if !ds[0].ExpiresAt.Equal(t0.Add(time.Minute)) ||
		!ds[1].ExpiresAt.Equal(t0.Add(14*24*time.Hour)) ||
		!ds[2].ExpiresAt.Equal(t0.Add(14*24*time.Hour)) || ds[2].TimeToLive != 14*24*time.Hour {
		t.Fatalf("ExpiresAt %v %v %v", ds[0].ExpiresAt, ds[1].ExpiresAt, ds[2].ExpiresAt)
	}

	c.Advance(time.Minute)
	if s := q.Stats(); s.Expired != 1 || s.Active != 2 || s.DeadLettered != 0 {
		t.Fatalf("stats %+v", s)
	}
	if d := mustReceive(t, q); d.MessageID != "default" {
		t.Fatalf("got %q", d.MessageID)
	}
}

func TestTTLDoesNotExpireLockedMessage(t *testing.T) {
	q, c := newFake(t, Options{})
	send(t, q, Message{MessageID: "a", TimeToLive: 30 * time.Second}, Message{MessageID: "b", TimeToLive: 30 * time.Second})
	a, b := mustReceive(t, q), mustReceive(t, q)
	c.Advance(45 * time.Second) // past TTL, inside the lock
	if err := q.Complete(a.LockToken); err != nil {
		t.Fatalf("Complete of a locked message past its TTL: %v", err)
	}
	if err := q.Abandon(b.LockToken); err != nil {
		t.Fatal(err)
	}
	mustEmpty(t, q)
	if s := q.Stats(); s.Expired != 1 || s.Completed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDeadLetterOnExpiration(t *testing.T) {
	q, c := newFake(t, Options{DeadLetterOnExpiration: true})
	send(t, q, Message{MessageID: "a", TimeToLive: time.Minute})
	c.Advance(time.Minute)
	dls := q.DeadLetters()
	if len(dls) != 1 || dls[0].DeadLetterReason != "TTLExpiredException" {
		t.Fatalf("%+v", dls)
	}
}

func TestResubmit(t *testing.T) {
	q, c := newFake(t, Options{MaxDeliveryCount: 1})
	props := map[string]any{"tenant": "t1"}
	r := send(t, q, Message{MessageID: "a", Body: []byte("payload"), ApplicationProperties: props, Subject: "s"})
	d := mustReceive(t, q)
	if err := q.Abandon(d.LockToken); err != nil {
		t.Fatal(err)
	}
	if len(q.DeadLetters()) != 1 {
		t.Fatal("not dead-lettered")
	}

	if _, err := q.Resubmit(999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resubmit(999): %v, want ErrNotFound", err)
	}
	c.Advance(time.Minute) // still inside the duplicate detection window
	seq, err := q.Resubmit(r.SequenceNumbers[0])
	if err != nil {
		t.Fatal(err)
	}
	if seq <= r.SequenceNumbers[0] {
		t.Fatalf("new seq %d not after %d", seq, r.SequenceNumbers[0])
	}
	if len(q.DeadLetters()) != 0 {
		t.Fatal("still in the dead-letter queue")
	}
	if _, err := q.Resubmit(r.SequenceNumbers[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Resubmit: %v, want ErrNotFound", err)
	}
	d = mustReceive(t, q)
	if d.SequenceNumber != seq || d.DeliveryCount != 1 || d.MessageID != "a" || string(d.Body) != "payload" ||
		d.Subject != "s" || d.ApplicationProperties["tenant"] != "t1" || !d.EnqueuedTime.Equal(c.Now()) {
		t.Fatalf("resubmitted delivery %+v", d)
	}
}

func TestResubmitAll(t *testing.T) {
	q, _ := newFake(t, Options{MaxDeliveryCount: 1})
	send(t, q, Message{MessageID: "a"}, Message{MessageID: "b"})
	for range 2 {
		if err := q.Abandon(mustReceive(t, q).LockToken); err != nil {
			t.Fatal(err)
		}
	}
	seqs, err := q.ResubmitAll()
	if err != nil || len(seqs) != 2 || seqs[0] != 3 || seqs[1] != 4 {
		t.Fatalf("ResubmitAll = %v, %v", seqs, err)
	}
	if a, b := mustReceive(t, q), mustReceive(t, q); a.MessageID != "a" || b.MessageID != "b" {
		t.Fatalf("order %q %q", a.MessageID, b.MessageID)
	}
	if s := q.Stats(); s.DeadLettered != 0 || s.Locked != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestExplicitDeadLetter(t *testing.T) {
	q, _ := newFake(t, Options{})
	send(t, q, Message{MessageID: "a"})
	d := mustReceive(t, q)
	if err := q.DeadLetter(d.LockToken, "Bad", "bad payload"); err != nil {
		t.Fatal(err)
	}
	if dls := q.DeadLetters(); len(dls) != 1 || dls[0].DeadLetterReason != "Bad" || dls[0].DeliveryCount != 1 {
		t.Fatalf("%+v", dls)
	}
}

func TestWaitIdle(t *testing.T) {
	q, c := newFake(t, Options{})
	if err := q.WaitIdle(t.Context()); err != nil {
		t.Fatalf("empty queue: %v", err)
	}
	send(t, q, Message{MessageID: "a"}, Message{MessageID: "b"})

	var lastCompleted atomic.Bool
	done := make(chan error, 1)
	go func() {
		err := q.WaitIdle(t.Context())
		if err == nil && !lastCompleted.Load() {
			err = errors.New("WaitIdle returned before the last Complete")
		}
		done <- err
	}()

	a, b := mustReceive(t, q), mustReceive(t, q)
	blockUntilPending(t, c, 1) // WaitIdle is parked (on its lock-expiry timer)
	if err := q.Complete(a.LockToken); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("WaitIdle returned with a message still locked: %v", err)
	default:
	}
	lastCompleted.Store(true)
	if err := q.Complete(b.LockToken); err != nil {
		t.Fatal(err)
	}
	if err := await(t, done, "WaitIdle"); err != nil {
		t.Fatal(err)
	}
}

func TestWaitIdleCountsScheduledAndHonoursContext(t *testing.T) {
	q, c := newFake(t, Options{})
	send(t, q, Message{MessageID: "a", ScheduledEnqueueTime: t0.Add(time.Hour), TimeToLive: time.Minute})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.WaitIdle(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitIdle with scheduled message: %v, want Canceled", err)
	}
	// The scheduled message expires unreceived at due+TTL; WaitIdle must wake
	// for that on its own timer.
	done := make(chan error, 1)
	go func() { done <- q.WaitIdle(t.Context()) }()
	blockUntilPending(t, c, 1)
	c.Advance(time.Hour + time.Minute)
	if err := await(t, done, "WaitIdle after expiry"); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.Expired != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReceiveHonoursContext(t *testing.T) {
	q, _ := newFake(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	ch := receiveAsync(ctx, q)
	cancel()
	if r := await(t, ch, "cancelled Receive"); !errors.Is(r.err, context.Canceled) || r.d != nil {
		t.Fatalf("got %+v, %v", r.d, r.err)
	}
}

func TestBlockedReceiveWakesOnSend(t *testing.T) {
	q := New("q", Options{}) // real clock: nothing here depends on time passing
	ch := receiveAsync(t.Context(), q)
	send(t, q, Message{MessageID: "a"})
	if r := await(t, ch, "Receive after Send"); r.err != nil || r.d.MessageID != "a" {
		t.Fatalf("got %+v, %v", r.d, r.err)
	}
}

func TestConcurrentReceiversNeverShareAMessage(t *testing.T) {
	const n, workers = 2000, 8
	q := New("q", Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, err := q.Receive(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				seen[d.SequenceNumber]++
				mu.Unlock()
				// Abandon some to exercise redelivery under contention.
				if d.DeliveryCount == 1 && d.SequenceNumber%7 == 0 {
					err = q.Abandon(d.LockToken)
				} else {
					err = q.Complete(d.LockToken)
				}
				if err != nil {
					t.Errorf("settle seq %d: %v", d.SequenceNumber, err)
				}
			}
		}()
	}
	for i := range n {
		send(t, q, Message{MessageID: fmt.Sprint(i)})
	}
	wctx, wcancel := context.WithTimeout(ctx, watchdog)
	defer wcancel()
	if err := q.WaitIdle(wctx); err != nil {
		t.Fatalf("WaitIdle: %v (stats %+v)", err, q.Stats())
	}
	cancel()
	wg.Wait()

	if len(seen) != n {
		t.Fatalf("%d distinct messages received, want %d", len(seen), n)
	}
	for seq, count := range seen {
		want := 1
		if seq%7 == 0 {
			want = 2
		}
		if count != want {
			t.Fatalf("seq %d received %d times, want %d", seq, count, want)
		}
	}
	if s := q.Stats(); s.Completed != n || s.Active+s.Locked+s.Scheduled != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestDeliveriesAreCopies(t *testing.T) {
	q, _ := newFake(t, Options{})
	body := []byte("abc")
	send(t, q, Message{MessageID: "a", Body: body, ApplicationProperties: map[string]any{"k": "v"}})
	body[0] = 'X'
	d := mustReceive(t, q)
	d.Body[1] = 'Y'
	d.ApplicationProperties["k"] = "changed"
	p := q.Peek(1)[0]
	if string(p.Body) != "abc" || p.ApplicationProperties["k"] != "v" {
		t.Fatalf("queue state aliased: %q %v", p.Body, p.ApplicationProperties)
	}
	if p.LockToken != "" {
		t.Fatal("Peek revealed a lock token")
	}
}

func TestJSONShape(t *testing.T) {
	q, _ := newFake(t, Options{})
	send(t, q, Message{MessageID: "a", Body: []byte("{}")})
	d := mustReceive(t, q)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"messageId", "body", "sequenceNumber", "deliveryCount", "enqueuedTime", "expiresAt", "lockedUntil", "lockToken"} {
		if _, ok := m[k]; !ok {
			t.Errorf("Delivery JSON lacks %q: %s", k, b)
		}
	}
	if _, ok := m["scheduledEnqueueTime"]; ok {
		t.Errorf("zero scheduledEnqueueTime not omitted: %s", b)
	}
	sb, _ := json.Marshal(q.Stats())
	if string(sb) != `{"active":0,"scheduled":0,"locked":1,"deadLettered":0,"sent":1,"completed":0,"delivered":1,"duplicates":0,"expired":0}` {
		t.Errorf("Stats JSON %s", sb)
	}
}
