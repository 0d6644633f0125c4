package metrics

import "testing"

func TestObserveAndTotals(t *testing.T) {
	r := New()
	r.Observe("graph", "t1", "GET /users", 200)
	r.Observe("graph", "t1", "GET /users", 429)
	r.Observe("graph", "t2", "POST /$batch", 503)
	r.Observe("entra", "t1", "POST /token", 400)
	if got := r.Total("graph", "t1"); got != (Counts{Requests: 2, Throttled: 1}) {
		t.Errorf("graph t1 %+v", got)
	}
	if got := r.Total("", ""); got != (Counts{Requests: 4, Throttled: 1, Errors: 2}) {
		t.Errorf("all %+v", got)
	}
	if rows := r.Rows(); len(rows) != 3 || rows[0].Service != "entra" {
		t.Errorf("rows %+v", rows)
	}
	r.Reset()
	if got := r.Total("", ""); got.Requests != 0 {
		t.Error("reset kept counts")
	}
	var nilRec *Recorder
	nilRec.Observe("graph", "", "x", 200) // a nil recorder must be safe: services may run without one
}

// A $batch is one round trip however many items it carries; its items are still requests.
func TestBatchItemsAreNotRoundTrips(t *testing.T) {
	r := New()
	r.Observe("graph", "t1", "POST /$batch", 200)
	for range 3 {
		r.ObserveBatchItem("graph", "t1", "GET /organization", 200)
	}
	r.ObserveBatchItem("graph", "t1", "GET /subscribedSkus", 429)
	r.Observe("graph", "t1", "GET /users", 200)
	got := r.Total("graph", "t1")
	if got != (Counts{Requests: 6, Throttled: 1, BatchItems: 4}) {
		t.Errorf("totals %+v", got)
	}
	if got.RoundTrips() != 2 {
		t.Errorf("round trips %d, want 2 (the $batch and GET /users)", got.RoundTrips())
	}
}
