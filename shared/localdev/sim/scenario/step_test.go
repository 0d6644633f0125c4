package scenario

import (
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

type userSnap struct {
	u  User
	ok bool
}

func snapUsers(tn *Tenant) map[int]userSnap {
	m := map[int]userSnap{}
	for i := 0; i < tn.UserSlots(); i++ {
		u, ok := tn.User(i)
		m[i] = userSnap{u, ok}
	}
	return m
}

func snapGroups(tn *Tenant) map[int]Group {
	m := map[int]Group{}
	for i := 0; i < tn.GroupSlots(); i++ {
		m[i], _ = tn.Group(i)
	}
	return m
}

// diffUsers is the brute-force delta: users added, changed (any field) or removed between snapshots.
func diffUsers(before, after map[int]userSnap) []Change {
	var out []Change
	for i, a := range after {
		b, existed := before[i]
		switch {
		case !existed:
			out = append(out, Change{Index: i, Removed: !a.ok})
		case b.ok && !a.ok:
			out = append(out, Change{Index: i, Removed: true})
		case !reflect.DeepEqual(a.u, b.u):
			out = append(out, Change{Index: i, Removed: !a.ok})
		}
	}
	sort.Slice(out, func(x, y int) bool { return out[x].Index < out[y].Index })
	return out
}

func diffGroups(before, after map[int]Group) []Change {
	var out []Change
	for i, a := range after {
		if !reflect.DeepEqual(a, before[i]) {
			out = append(out, Change{Index: i})
		}
	}
	sort.Slice(out, func(x, y int) bool { return out[x].Index < out[y].Index })
	return out
}

func TestStepChangesAreListedExactly(t *testing.T) {
	w := mustLoad(t, "demo")
	for i := 0; i < w.TenantCount(); i++ {
		tn := w.TenantAt(i)
		if c := tn.UserChanges(0); len(c) != 0 {
			t.Fatalf("%s: UserChanges(0) right after load = %v", tn.DisplayName, c)
		}
		if c := tn.GroupChanges(0); len(c) != 0 {
			t.Fatalf("%s: GroupChanges(0) right after load = %v", tn.DisplayName, c)
		}
	}
	if w.Epoch() != 0 {
		t.Fatalf("epoch %d", w.Epoch())
	}

	type snaps struct {
		users  map[int]userSnap
		groups map[int]Group
	}
	history := make([][]snaps, 3) // [epoch][tenant]
	take := func(e int) {
		for i := 0; i < w.TenantCount(); i++ {
			tn := w.TenantAt(i)
			history[e] = append(history[e], snaps{snapUsers(tn), snapGroups(tn)})
		}
	}
	take(0)
	for e := 1; e <= 2; e++ {
		res := w.Step()
		if res.Epoch != e || w.Epoch() != e {
			t.Fatalf("Step result epoch %d, world epoch %d, want %d", res.Epoch, w.Epoch(), e)
		}
		take(e)
		var added, changed, removed, groupsChanged int
		for i := 0; i < w.TenantCount(); i++ {
			tn := w.TenantAt(i)
			uc := tn.UserChanges(e - 1)
			want := diffUsers(history[e-1][i].users, history[e][i].users)
			if !reflect.DeepEqual(uc, want) {
				t.Fatalf("epoch %d %s: UserChanges(%d) = %v, brute force %v", e, tn.DisplayName, e-1, uc, want)
			}
			gc := tn.GroupChanges(e - 1)
			if wantG := diffGroups(history[e-1][i].groups, history[e][i].groups); !reflect.DeepEqual(gc, wantG) {
				t.Fatalf("epoch %d %s: GroupChanges = %v, brute force %v", e, tn.DisplayName, gc, wantG)
			}
			groupsChanged += len(gc)
			for _, c := range uc {
				prev, existed := history[e-1][i].users[c.Index]
				now := history[e][i].users[c.Index]
				switch {
				case !existed:
					added++
					if now.u.Version != 1 || !now.ok {
						t.Fatalf("added user %+v", now)
					}
				case c.Removed:
					removed++
					if now.u.Version != prev.u.Version+1 || now.u.ID != prev.u.ID {
						t.Fatalf("removed user version %d → %d", prev.u.Version, now.u.Version)
					}
				default:
					changed++
					if now.u.Version != prev.u.Version+1 {
						t.Fatalf("changed user version %d → %d", prev.u.Version, now.u.Version)
					}
					if now.u.JobTitle == prev.u.JobTitle && now.u.Department == prev.u.Department &&
						reflect.DeepEqual(now.u.AssignedSkuIDs, prev.u.AssignedSkuIDs) {
						t.Fatalf("user %d changed but no field differs", c.Index)
					}
					if now.u.ID != prev.u.ID || now.u.UserPrincipalName != prev.u.UserPrincipalName || !now.u.Created.Equal(prev.u.Created) {
						t.Fatalf("user %d identity changed", c.Index)
					}
				}
			}
			if tn.Deleted && (len(uc) > 0 || len(gc) > 0) {
				t.Fatalf("deleted tenant %s changed", tn.DisplayName)
			}
		}
		if res.UsersAdded != added || res.UsersChanged != changed || res.UsersRemoved != removed || res.GroupsChanged != groupsChanged {
			t.Fatalf("StepResult %+v; listed added %d changed %d removed %d groups %d", res, added, changed, removed, groupsChanged)
		}
		if added == 0 || changed == 0 || removed == 0 || groupsChanged == 0 || res.LicencesReassigned == 0 {
			t.Fatalf("step %d did too little: %+v", e, res)
		}
	}

	// UserChanges(since) for since = 0, 1, 2 after two steps.
	for i := 0; i < w.TenantCount(); i++ {
		tn := w.TenantAt(i)
		if c := tn.UserChanges(2); len(c) != 0 {
			t.Fatalf("UserChanges(2) at epoch 2 = %v", c)
		}
		if c := tn.GroupChanges(2); len(c) != 0 {
			t.Fatalf("GroupChanges(2) at epoch 2 = %v", c)
		}
		if got, want := tn.UserChanges(0), diffUsers(history[0][i].users, history[2][i].users); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: UserChanges(0) = %v, brute force %v", tn.DisplayName, got, want)
		}
		if got, want := tn.UserChanges(1), diffUsers(history[1][i].users, history[2][i].users); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: UserChanges(1) = %v, brute force %v", tn.DisplayName, got, want)
		}
		if got, want := tn.GroupChanges(0), diffGroups(history[0][i].groups, history[2][i].groups); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: GroupChanges(0) = %v, brute force %v", tn.DisplayName, got, want)
		}
		// Removed users stay removed, out of User, UserByID and group membership.
		for _, c := range tn.UserChanges(0) {
			if !c.Removed {
				continue
			}
			if _, ok := tn.User(c.Index); ok {
				t.Fatalf("removed user %d still live", c.Index)
			}
			for g := 0; g < tn.GroupSlots(); g++ {
				gr, _ := tn.Group(g)
				for _, m := range gr.MemberIndexes {
					if m == c.Index {
						t.Fatalf("removed user %d still in group %s", m, gr.DisplayName)
					}
				}
			}
		}
	}
}

func TestStepOnLargeIsFast(t *testing.T) {
	w := mustLoad(t, "large")
	start := time.Now()
	res := w.Step()
	elapsed := time.Since(start)
	t.Logf("Step on large: %v, %+v", elapsed, res)
	if elapsed > 2*time.Second { // generous for -race on a slow machine; typically a few ms
		t.Fatalf("Step on large took %v", elapsed)
	}
	if res.UsersAdded < 1000 || res.UsersRemoved < 900 {
		t.Fatalf("Step on large: %+v", res)
	}
	tn := w.TenantAt(999)
	if c := tn.UserChanges(0); len(c) == 0 || len(c) > 10 {
		t.Fatalf("tenant 999 changes after one step: %v", c)
	}
}

func TestConsumedMatchesBruteForce(t *testing.T) {
	w := mustLoad(t, "demo")
	l := mustLoad(t, "large")
	check := func(w *World, step int) {
		for i := 0; i < w.TenantCount(); i += step {
			tn := w.TenantAt(i)
			counts := map[string]int{}
			live := 0
			for j := 0; j < tn.UserSlots(); j++ {
				u, ok := tn.User(j)
				if !ok {
					continue
				}
				live++
				for _, s := range u.AssignedSkuIDs {
					counts[s]++
				}
			}
			if tn.LiveUsers() != live {
				t.Fatalf("%s: LiveUsers = %d, counted %d", tn.DisplayName, tn.LiveUsers(), live)
			}
			for _, s := range tn.Skus {
				if got := tn.Consumed(s.SkuID); got != counts[s.SkuID] {
					t.Fatalf("epoch %d %s: Consumed(%s) = %d, brute force %d", w.Epoch(), tn.DisplayName, s.SkuPartNumber, got, counts[s.SkuID])
				}
				if got := tn.Consumed(strings.ToUpper(s.SkuID)); got != counts[s.SkuID] {
					t.Fatalf("Consumed is case-sensitive")
				}
			}
			if tn.Consumed("00000000-0000-0000-0000-000000000000") != 0 {
				t.Fatal("Consumed of an unknown SKU")
			}
		}
	}
	for k := 0; k < 4; k++ {
		check(w, 1)
		check(l, 71)
		w.Step()
		l.Step()
	}
	cd, _ := w.Tenant(DemoContosoDental)
	if cd.Consumed(SkuSPB) < 30 {
		t.Errorf("Contoso Dental consumes %d SPB", cd.Consumed(SkuSPB))
	}
}

func TestConcurrentReadsAndSteps(t *testing.T) {
	w := mustLoad(t, "demo")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				tn := w.TenantAt((g + k) % w.TenantCount())
				for i := 0; i < tn.UserSlots(); i++ {
					if u, ok := tn.User(i); ok {
						tn.UserByID(u.ID)
					}
				}
				tn.Group(0)
				tn.UserChanges(0)
				tn.GroupChanges(0)
				if len(tn.Skus) > 0 {
					tn.Consumed(tn.Skus[0].SkuID)
				}
			}
		}(g)
	}
	for k := 0; k < 20; k++ {
		w.Step()
	}
	close(stop)
	wg.Wait()
	if w.Epoch() != 20 {
		t.Fatalf("epoch %d", w.Epoch())
	}
}

func BenchmarkUserGeneration(b *testing.B) {
	w := mustLoad(b, "large")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tn := w.TenantAt(i % 1000)
		tn.User(i % 100)
		i++
	}
}

func BenchmarkStepLarge(b *testing.B) {
	w := mustLoad(b, "large")
	b.ReportAllocs()
	for b.Loop() {
		w.Step()
	}
}

func BenchmarkConsumedLarge(b *testing.B) {
	w := mustLoad(b, "large")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tn := w.TenantAt(i % 1000)
		tn.Consumed(tn.Skus[0].SkuID)
		i++
	}
}
