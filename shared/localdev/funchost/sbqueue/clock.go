package sbqueue

import (
	"context"
	"sync"
	"time"
)

// ManualClock is a deterministic clock for tests and demos. Wire it into a
// queue with Options{Now: c.Now, WakeAt: c.WakeAt}; time moves only when
// Advance or Set is called, and any blocked Receive/WaitIdle whose wake-up
// time has been reached is released by that call.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  map[*manualTimer]struct{}
	changed chan struct{} // closed and replaced whenever timers are added/removed
}

type manualTimer struct {
	at time.Time
	ch chan time.Time
}

// NewManualClock returns a clock reading start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start, timers: map[*manualTimer]struct{}{}, changed: make(chan struct{})}
}

// Now returns the clock's current reading.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// WakeAt implements Options.WakeAt: the channel receives once the clock
// reaches at (immediately if it already has). stop forgets the timer so
// Pending stays accurate.
func (c *ManualClock) WakeAt(at time.Time) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if !at.After(c.now) {
		ch <- c.now
		return ch, func() {}
	}
	t := &manualTimer{at: at, ch: ch}
	c.timers[t] = struct{}{}
	c.signalLocked()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.timers[t]; ok {
			delete(c.timers, t)
			c.signalLocked()
		}
	}
}

// Advance moves the clock forward by d, fires due timers and returns the new
// reading.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(c.now.Add(d))
	return c.now
}

// Set moves the clock to t (which may be in the past; no timer fires then).
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(t)
}

func (c *ManualClock) setLocked(t time.Time) {
	c.now = t
	fired := false
	for tm := range c.timers {
		if !tm.at.After(t) {
			tm.ch <- t // buffered, receives at most one value
			delete(c.timers, tm)
			fired = true
		}
	}
	if fired {
		c.signalLocked()
	}
}

// Pending reports how many timers are armed and not yet fired or stopped,
// i.e. how many waiters are blocked on this clock.
func (c *ManualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// BlockUntilPending waits until at least n timers are armed, so a test knows
// a Receive/WaitIdle is parked on the clock before it advances time.
func (c *ManualClock) BlockUntilPending(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *ManualClock) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}
