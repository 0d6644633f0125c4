package funchost

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// timerRunner fires one timer function on its schedule and keeps its schedule status, as the
// host's schedule monitor does (useMonitor, default true).
type timerRunner struct {
	h *Host
	f *Function

	mu     sync.Mutex // serialises firings: the host never overlaps runs of one timer
	status *scheduleStatus
}

type scheduleStatus struct {
	Last        time.Time `json:"Last"`
	Next        time.Time `json:"Next"`
	LastUpdated time.Time `json:"LastUpdated"`
}

// timerDateTime formats TimerInfo's DateTimes; the zero DateTime keeps .NET's shape.
func timerDateTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00"
	}
	return t.UTC().Format("2006-01-02T15:04:05.0000000+00:00")
}

func (s *scheduleStatus) payload() any {
	if s == nil {
		return nil
	}
	return map[string]string{"Last": timerDateTime(s.Last), "Next": timerDateTime(s.Next), "LastUpdated": timerDateTime(s.LastUpdated)}
}

func (h *Host) newTimer(f *Function) *timerRunner {
	t := &timerRunner{h: h, f: f}
	if t.useMonitor() {
		t.status = t.load()
		if t.status == nil {
			now := time.Now().UTC()
			next, _ := f.schedule.Next(now)
			t.status = &scheduleStatus{Next: next, LastUpdated: now}
		}
	}
	return t
}

// useMonitor defaults to true, except (as in the host) for schedules firing more often than once a
// minute, where monitoring is pointless.
func (t *timerRunner) useMonitor() bool {
	if t.f.Trigger.UseMonitor != nil {
		return *t.f.Trigger.UseMonitor
	}
	now := time.Now().UTC()
	a, ok1 := t.f.schedule.Next(now)
	b, ok2 := t.f.schedule.Next(a)
	return ok1 && ok2 && b.Sub(a) >= time.Minute
}

func (t *timerRunner) statePath() string {
	if t.h.opts.StateDir == "" {
		return ""
	}
	return filepath.Join(t.h.opts.StateDir, "timers", t.f.Name+".json")
}

func (t *timerRunner) load() *scheduleStatus {
	p := t.statePath()
	if p == "" {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var s scheduleStatus
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	return &s
}

func (t *timerRunner) save() {
	p := t.statePath()
	if p == "" || t.status == nil {
		return
	}
	b, _ := json.Marshal(t.status)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
		err = os.WriteFile(p, b, 0o644)
		if err != nil {
			t.h.log.errorf("timer %s: saving schedule status: %v", t.f.Name, err)
		}
	}
}

func (t *timerRunner) run(ctx context.Context) {
	now := time.Now().UTC()
	t.mu.Lock()
	missed := t.status != nil && !t.status.Last.IsZero() && t.status.Next.Before(now)
	var missedAt time.Time
	if missed {
		missedAt = t.status.Next
	}
	t.mu.Unlock()
	if missed {
		// The host was down over an occurrence: run it now, flagged past due.
		_ = t.fire(ctx, fmt.Sprintf("Timer fired at %s (past due: the occurrence at %s was missed)", now.Format(time.RFC3339), missedAt.Format(time.RFC3339)), true, missedAt)
	}
	if t.f.Trigger.RunOnStartup {
		_ = t.fire(ctx, "Timer fired on startup (runOnStartup)", false, time.Time{})
	}
	for {
		next, ok := t.f.schedule.Next(time.Now().UTC())
		if !ok {
			t.h.log.errorf("timer %s: schedule %s never fires again", t.f.Name, t.f.schedule)
			return
		}
		t.h.log.infof("The next occurrence of %s is %s", t.f.Name, next.Format(time.RFC3339))
		wait := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
		_ = t.fire(ctx, "Timer fired at "+time.Now().UTC().Format("2006-01-02T15:04:05.0000000+00:00"), false, next)
	}
}

// fire invokes the timer function. scheduled is the occurrence being run (zero for runOnStartup
// and manual runs, which do not move the schedule status).
func (t *timerRunner) fire(ctx context.Context, reason string, pastDue bool, scheduled time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := payload{
		Data: map[string]any{t.f.Trigger.Name: map[string]any{
			"Schedule":       map[string]any{"AdjustForDST": true},
			"ScheduleStatus": t.status.payload(),
			"IsPastDue":      pastDue,
		}},
		Metadata: map[string]any{"sys": sysMetadata(t.f.Name, time.Now())},
	}
	maxRetries := 0
	var first, maxDelay time.Duration
	if t.f.Retry != nil {
		maxRetries = t.f.Retry.MaxRetryCount
		first, maxDelay, _ = t.f.Retry.delays()
	}
	var err error
	delay := first
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			p.Metadata["RetryContext"] = map[string]any{"RetryCount": attempt, "MaxRetryCount": maxRetries, "Exception": map[string]any{"Message": err.Error()}}
		}
		_, _, err = t.h.invoke(ctx, t.f, reason, p)
		if err == nil || attempt >= maxRetries || ctx.Err() != nil {
			break
		}
		t.h.log.infof("Retrying 'Functions.%s' in %s (retry %d of %d)", t.f.Name, delay, attempt+1, maxRetries)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		if t.f.Retry.Strategy == "exponentialBackoff" {
			delay = min(delay*2, maxDelay)
		}
	}
	if !scheduled.IsZero() && t.status != nil {
		now := time.Now().UTC()
		next, _ := t.f.schedule.Next(now)
		t.status = &scheduleStatus{Last: scheduled, Next: next, LastUpdated: now}
		t.save()
	}
	return err
}
