package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// Every request through the counter is one Table Storage transaction: a $batch of many
// operations once, any other write once, reads apart; and the request still reaches Azurite.
func TestTableCounterCountsTransactions(t *testing.T) {
	var reached []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = append(reached, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer backend.Close()
	c, err := newTableCounter(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(c)
	defer front.Close()
	for _, r := range []struct{ method, path string }{
		{"GET", "/devstoreaccount1/Users()?$filter=PartitionKey%20eq%20'a'"},
		{"GET", "/devstoreaccount1/Users(PartitionKey='a',RowKey='b')"},
		{"POST", "/devstoreaccount1/$batch"},
		{"PUT", "/devstoreaccount1/Users(PartitionKey='a',RowKey='b')"},
		{"MERGE", "/devstoreaccount1/Users(PartitionKey='a',RowKey='c')"},
		{"DELETE", "/devstoreaccount1/Users(PartitionKey='a',RowKey='d')"},
		{"POST", "/devstoreaccount1/Tables"},
	} {
		req, _ := http.NewRequest(r.method, front.URL+r.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got, want := c.snapshot(), (tableCounts{Writes: 5, Batches: 1, Reads: 2}); got != want {
		t.Errorf("counted %+v, want %+v", got, want)
	}
	if len(reached) != 7 {
		t.Errorf("Azurite got %d requests, want 7: %v", len(reached), reached)
	}
}

// The minimum for a tenant of ~200 users is one page per collection plus one $batch, and without
// Entra ID P1/P2 each user's MFA reads 20 per $batch.
func TestMinimumRoundTrips(t *testing.T) {
	f := scenario.LargeFile(time.Now())
	f.Generate.Count = 60
	w, err := scenario.New(f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var premium, basicDefaults, basicPerUser, concealed bool
	for i := 0; i < w.TenantCount(); i++ {
		tn := w.TenantAt(i)
		users := tn.LiveUsers()
		if users > 500 {
			continue
		}
		got := minimumRoundTrips(tn)
		switch {
		case tn.Premium && !tn.ConcealReports:
			premium = true
			// $batch, users, groups, devices, report + download, registration details, sign-ins
			if got != 8 {
				t.Errorf("premium tenant %s (%d users): minimum %d, want 8", tn.DisplayName, users, got)
			}
		case tn.Premium && tn.ConcealReports:
			concealed = true
			if got != 6 {
				t.Errorf("premium tenant %s with concealed reports: minimum %d, want 6 (no report download)", tn.DisplayName, got)
			}
		case !tn.Premium && !tn.ConcealReports && tn.SecurityDefaults:
			basicDefaults = true
			if want := 7 + (users+19)/20; got != want {
				t.Errorf("tenant %s without P1/P2, security defaults (%d users): minimum %d, want %d", tn.DisplayName, users, got, want)
			}
		case !tn.Premium && !tn.ConcealReports && !tn.SecurityDefaults:
			basicPerUser = true
			if want := 7 + (2*users+19)/20; got != want {
				t.Errorf("tenant %s without P1/P2 or security defaults (%d users): minimum %d, want %d", tn.DisplayName, users, got, want)
			}
		}
	}
	if !premium || !basicDefaults || !basicPerUser || !concealed {
		t.Fatalf("the scenario lacks a kind of tenant: premium %v, security defaults %v, per-user MFA %v, concealed %v", premium, basicDefaults, basicPerUser, concealed)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for p, want := range map[float64]float64{50: 5, 90: 9, 100: 10, 0: 1} {
		if got := percentile(xs, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if percentile(nil, 90) != 0 {
		t.Error("empty input")
	}
}
