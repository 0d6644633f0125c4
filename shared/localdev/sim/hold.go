package sim

import (
	"net/http"
	"sync"
)

// holdGate lets a test hold Graph requests (a tenant that answers slowly), so that what happens
// while a sync is in flight can be observed without sleeping or racing the worker.
type holdGate struct {
	mu   sync.Mutex
	held chan struct{} // closed on release; nil when not held
}

// HoldGraph makes every Graph request wait until the returned release is called (or the
// request is cancelled). Calling release more than once is harmless.
func (s *Server) HoldGraph() (release func()) {
	g := &s.graphHold
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = make(chan struct{})
	}
	ch := g.held
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			if g.held == ch {
				g.held = nil
			}
			g.mu.Unlock()
			close(ch)
		})
	}
}

func (g *holdGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		ch := g.held
		g.mu.Unlock()
		if ch != nil {
			select {
			case <-ch:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
