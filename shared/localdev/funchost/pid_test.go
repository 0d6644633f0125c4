package funchost

import (
	"context"
	"testing"
	"time"
)

// HandlerPID names the process that serves invocations, and the new one after a restart.
func TestHandlerPIDIsTheServingProcess(t *testing.T) {
	f := newFixture(t, fixtureOpts{disableTimers: true})
	if err := f.host.Fire(context.Background(), "Timer1", ""); err != nil {
		t.Fatal(err)
	}
	if pid, served := f.host.HandlerPID(), f.requests("/Timer1")[0].Pid; pid != served {
		t.Fatalf("HandlerPID %d, the invocation was served by %d", pid, served)
	}
	if err := f.host.Fire(context.Background(), "Crash", ""); err == nil {
		t.Fatal("invocation of a crashing handler succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.host.worker.awaitReadyStart(ctx, 2); err != nil {
		t.Fatalf("handler was not restarted: %v", err)
	}
	if err := f.host.Fire(context.Background(), "Timer1", ""); err != nil {
		t.Fatal(err)
	}
	crashed, restarted := f.requests("/Crash")[0].Pid, f.requests("/Timer1")[1].Pid
	if pid := f.host.HandlerPID(); pid != restarted || pid == crashed {
		t.Errorf("HandlerPID %d after the restart; crashed %d, restarted %d", pid, crashed, restarted)
	}
}
