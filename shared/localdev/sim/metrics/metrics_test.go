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
