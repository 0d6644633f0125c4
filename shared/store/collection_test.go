package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/localdev/devenv"
)

// One Azurite for the package; every test works in its own tenant partition, so tests run in
// parallel without seeing each other's rows.
var (
	testStore *Store
	testConn  string // Azurite's connection string
)

func TestMain(m *testing.M) { os.Exit(runWithAzurite(m)) }

func runWithAzurite(m *testing.M) int {
	ctx := context.Background()
	az, err := devenv.StartAzurite(ctx, "", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests need Azurite:", err)
		return 1
	}
	defer az.Stop()
	testConn = az.ConnectionString()
	if testStore, err = Open(config.Tables{ConnectionString: az.ConnectionString()}, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := testStore.Ensure(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func newTenant(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func makeUsers(n int, prefix string) []domain.User {
	users := make([]domain.User, n)
	for i := range users {
		users[i] = domain.User{
			ID:                fmt.Sprintf("%s-%04d", prefix, i),
			UserPrincipalName: fmt.Sprintf("user%d@contoso.example", i),
			DisplayName:       fmt.Sprintf("User %d", i),
			Aliases:           []string{fmt.Sprintf("smtp:u%d@contoso.example", i)},
			AccountEnabled:    i%2 == 0,
			JobTitle:          "Engineer",
			Created:           time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Hour),
			Licenses:          []string{"SPE_E3"},
		}
	}
	return users
}

func putAll[T any](t testing.TB, table, tenant string, items []T, load, removeUnseen bool) Stats {
	t.Helper()
	ctx := context.Background()
	w := testStore.Collection(table, tenant)
	if load {
		if err := w.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range items {
		key, err := KeyOf(it)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Put(ctx, key, it); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Finish(ctx, removeUnseen)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func rawEntity(t testing.TB, table, tenant, key string) (map[string]any, azcore.ETag) {
	t.Helper()
	resp, err := testStore.svc.NewClient(table).GetEntity(context.Background(), tenant, EscapeKey(key), nil)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Value, &m); err != nil {
		t.Fatal(err)
	}
	return m, resp.ETag
}

// canonical re-encodes JSON with sorted keys so that semantically equal documents compare equal.
func canonical(t testing.TB, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func allItems(t testing.TB, table, tenant string) []json.RawMessage {
	t.Helper()
	var all []json.RawMessage
	token := ""
	for {
		items, next, err := testStore.Page(context.Background(), table, tenant, MaxPageSize, token)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		token = next
	}
}

// fill sets every field of a struct to a non-zero value, so a round trip covers every field
// of the domain types as they are now, not as they were when this test was written.
func fill(t *testing.T, v reflect.Value, seed int) {
	t.Helper()
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), v.Type().Field(i)
		switch {
		case sf.Type == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(time.Date(2024, 3, 1+seed, 10, 20, 30, 123456700, time.UTC)))
		case f.Kind() == reflect.String:
			// Keys come from these too: include characters RowKeys forbid or that need care.
			f.SetString(fmt.Sprintf("%s-%d O'Brien #EXT# a/b\\c?d %%20 ünï", sf.Name, seed))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Kind() == reflect.Int64:
			f.SetInt(50_000_000_000 + int64(seed)) // beyond Int32: exercises Edm.Int64
		case f.Kind() == reflect.Int:
			f.SetInt(int64(100*seed + i))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf([]string{fmt.Sprintf("%s-%d-a", sf.Name, seed), "b \"quoted\" <tag>"}))
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Bool:
			b := seed%2 == 0
			f.Set(reflect.ValueOf(&b))
		default:
			t.Fatalf("fill: add a case for %s %s", sf.Name, sf.Type)
		}
	}
}

func filled[T any](t *testing.T, seed int) T {
	var v T
	fill(t, reflect.ValueOf(&v).Elem(), seed)
	return v
}

func roundTrip[T any](t *testing.T, table string, minimal T) {
	t.Parallel()
	tenant := newTenant(t)
	items := []T{filled[T](t, 1), filled[T](t, 2), minimal}
	if st := putAll(t, table, tenant, items, true, false); st.Written != len(items) {
		t.Fatalf("stats %+v", st)
	}
	var want, got []string
	for _, it := range items {
		b, _ := json.Marshal(it)
		want = append(want, canonical(t, b))
		key, _ := KeyOf(it)
		one, err := testStore.Get(context.Background(), table, tenant, key)
		if err != nil {
			t.Fatal(err)
		}
		if g := canonical(t, one); g != canonical(t, b) {
			t.Errorf("Get %q:\n got %s\nwant %s", key, g, b)
		}
	}
	for _, it := range allItems(t, table, tenant) {
		got = append(got, canonical(t, it))
	}
	sort.Strings(want)
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Page:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestRoundTripUsers(t *testing.T) {
	roundTrip(t, TableUsers, domain.User{ID: "min-user"})
}
func TestRoundTripLicenses(t *testing.T) {
	roundTrip(t, TableLicenses, domain.License{SkuID: "min-sku"})
}
func TestRoundTripGroups(t *testing.T) { roundTrip(t, TableGroups, domain.Group{ID: "min-group"}) }
func TestRoundTripDevices(t *testing.T) {
	roundTrip(t, TableDevices, domain.Device{ID: "min-device"})
}
func TestRoundTripMailboxes(t *testing.T) {
	roundTrip(t, TableMailboxes, domain.Mailbox{UserPrincipalName: "Min.Box@Contoso.example"})
}

func TestUnchangedRowsAreNotRewrittenAndChangedOnesAre(t *testing.T) {
	t.Parallel()
	tenant := newTenant(t)
	users := makeUsers(5, "u")
	if st := putAll(t, TableUsers, tenant, users, true, true); st != (Stats{Written: 5, Transactions: 1}) {
		t.Fatalf("first run %+v", st)
	}
	etags := map[string]azcore.ETag{}
	for _, u := range users {
		_, etags[u.ID] = rawEntity(t, TableUsers, tenant, u.ID)
	}

	if st := putAll(t, TableUsers, tenant, users, true, true); st != (Stats{Unchanged: 5}) {
		t.Fatalf("identical run %+v, want 5 unchanged and no transaction", st)
	}
	for _, u := range users {
		if _, e := rawEntity(t, TableUsers, tenant, u.ID); e != etags[u.ID] {
			t.Errorf("%s rewritten by an identical run: etag %s -> %s", u.ID, etags[u.ID], e)
		}
	}

	users[2].JobTitle = "Manager"
	if st := putAll(t, TableUsers, tenant, users, true, true); st != (Stats{Written: 1, Unchanged: 4, Transactions: 1}) {
		t.Fatalf("one change %+v", st)
	}
	for _, u := range users {
		_, e := rawEntity(t, TableUsers, tenant, u.ID)
		if changed := e != etags[u.ID]; changed != (u.ID == users[2].ID) {
			t.Errorf("%s: etag changed=%v", u.ID, changed)
		}
	}
	got, err := testStore.Get(context.Background(), TableUsers, tenant, users[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"jobTitle":"Manager"`) {
		t.Errorf("changed row reads %s", got)
	}
}

func TestFullSyncRemovesUnseenRows(t *testing.T) {
	t.Parallel()
	tenant := newTenant(t)
	users := makeUsers(5, "u")
	putAll(t, TableUsers, tenant, users, true, true)

	st := putAll(t, TableUsers, tenant, users[:3], true, true)
	if st != (Stats{Unchanged: 3, Deleted: 2, Transactions: 1}) {
		t.Fatalf("stats %+v", st)
	}
	if n, err := testStore.Count(context.Background(), TableUsers, tenant); err != nil || n != 3 {
		t.Fatalf("count %d, %v", n, err)
	}
	// A delta run (removeUnseen false) keeps rows it did not see.
	if st := putAll(t, TableUsers, tenant, users[:1], true, false); st != (Stats{Unchanged: 1}) {
		t.Fatalf("delta run %+v", st)
	}
	if n, _ := testStore.Count(context.Background(), TableUsers, tenant); n != 3 {
		t.Fatalf("count after delta run %d", n)
	}
	// An object that fails to encode keeps its previous row through a full sync.
	ctx := context.Background()
	type refused struct {
		ID     string `json:"id"`
		Secret string `json:"secret" secret:"true"`
	}
	w := testStore.Collection(TableUsers, tenant)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range users[:2] {
		if err := w.Put(ctx, u.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Put(ctx, users[2].ID, refused{ID: users[2].ID}); err == nil {
		t.Fatal("refused object accepted")
	}
	if err := w.Load(ctx); err == nil {
		t.Fatal("Load after Put accepted")
	}
	w = testStore.Collection(TableUsers, tenant)
	_ = w.Load(ctx)
	for _, u := range users[:2] {
		_ = w.Put(ctx, u.ID, u)
	}
	_ = w.Put(ctx, users[2].ID, refused{ID: users[2].ID})
	if st, err := w.Finish(ctx, true); err != nil || st.Deleted != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if n, _ := testStore.Count(ctx, TableUsers, tenant); n != 3 {
		t.Fatalf("count after a refused object %d, want 3", n)
	}

	// Removing unseen rows without knowing the stored ones would delete nothing silently.
	w = testStore.Collection(TableUsers, tenant)
	if _, err := w.Finish(ctx, true); err == nil {
		t.Fatal("Finish(removeUnseen) without Load succeeded")
	}
}

func TestBatching250RowsTakesThreeTransactions(t *testing.T) {
	t.Parallel()
	tenant := newTenant(t)
	st := putAll(t, TableUsers, tenant, makeUsers(250, "b"), true, true)
	if st != (Stats{Written: 250, Transactions: 3}) {
		t.Fatalf("stats %+v", st)
	}
	if n, err := testStore.Count(context.Background(), TableUsers, tenant); err != nil || n != 250 {
		t.Fatalf("count %d, %v", n, err)
	}
}

func TestBatchPayloadLimitSplitsLargeRows(t *testing.T) {
	t.Parallel()
	tenant := newTenant(t)
	// ~300 KB of JSON each: 100 of them would be ~30 MB, far over the 4 MiB transaction limit.
	users := makeUsers(20, "big")
	for i := range users {
		users[i].Aliases = x500Aliases(2000, i)
	}
	st := putAll(t, TableUsers, tenant, users, false, false)
	if st.Written != 20 || st.Transactions < 2 {
		t.Fatalf("stats %+v", st)
	}
}

func x500Aliases(n, seed int) []string {
	a := make([]string, n)
	for i := range a {
		a[i] = fmt.Sprintf("x500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=%08x%024x-user%d", seed, i, i)
	}
	return a
}

func TestLongListIsSplitAcrossProperties(t *testing.T) {
	t.Parallel()
	tenant := newTenant(t)
	u := makeUsers(1, "long")[0]
	u.Aliases = x500Aliases(250, 1) // ~35,000 characters of JSON: over one 32K-character property
	putAll(t, TableUsers, tenant, []domain.User{u}, true, true)

	raw, _ := rawEntity(t, TableUsers, tenant, u.ID)
	if _, ok := raw["Aliases_1"]; !ok {
		t.Fatalf("expected the aliases split into Aliases_1; properties: %v", keys(raw))
	}
	got, err := testStore.Get(context.Background(), TableUsers, tenant, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(u)
	if canonical(t, got) != canonical(t, want) {
		t.Fatal("split user does not round-trip")
	}
	if st := putAll(t, TableUsers, tenant, []domain.User{u}, true, true); st != (Stats{Unchanged: 1}) {
		t.Fatalf("second run %+v", st)
	}
}

func keys(m map[string]any) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

func TestOversizedListIsTruncatedNotFatal(t *testing.T) {
	t.Parallel()
	tenant := newTenant(t)
	u := makeUsers(1, "huge")[0]
	u.Aliases = x500Aliases(20_000, 1) // ~2.6 M characters: far over 1 MiB
	st := putAll(t, TableUsers, tenant, []domain.User{u}, true, true)
	if st != (Stats{Written: 1, Transactions: 1, Truncated: 1}) {
		t.Fatalf("stats %+v", st)
	}
	got, err := testStore.Get(context.Background(), TableUsers, tenant, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		domain.User
		AliasesTruncated bool `json:"aliasesTruncated"`
	}
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	n := len(back.Aliases)
	if !back.AliasesTruncated || n == 0 || n >= len(u.Aliases) || !reflect.DeepEqual(back.Aliases, u.Aliases[:n]) {
		t.Fatalf("truncated=%v, kept %d of %d aliases (want a non-empty prefix)", back.AliasesTruncated, n, len(u.Aliases))
	}
	if back.DisplayName != u.DisplayName || !reflect.DeepEqual(back.Licenses, u.Licenses) {
		t.Error("other fields lost")
	}
	t.Logf("kept %d of %d aliases", n, len(u.Aliases))
	// The truncation is deterministic, so an unchanged oversized user is not rewritten each run.
	if st := putAll(t, TableUsers, tenant, []domain.User{u}, true, true); st != (Stats{Unchanged: 1}) {
		t.Fatalf("second run %+v", st)
	}
}

func TestDeleteOfVanishedRowDoesNotFailTheBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant := newTenant(t)
	users := makeUsers(5, "v")
	putAll(t, TableUsers, tenant, users, true, true)
	raw := testStore.svc.NewClient(TableUsers)

	w := testStore.Collection(TableUsers, tenant)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// Someone else removes users[3] after Load: the writer still believes it exists.
	if _, err := raw.DeleteEntity(ctx, tenant, users[3].ID, nil); err != nil {
		t.Fatal(err)
	}
	extra := makeUsers(1, "new")[0]
	for _, step := range []func() error{
		func() error { return w.Delete(ctx, users[3].ID) },
		func() error { return w.Put(ctx, extra.ID, extra) },
		func() error { return w.Delete(ctx, users[4].ID) },
		func() error { return w.Delete(ctx, "never-existed") }, // after Load: a no-op
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Finish(ctx, false)
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	// The first transaction fails on the vanished row; the retry without it succeeds.
	if st != (Stats{Written: 1, Deleted: 1, Transactions: 2}) {
		t.Fatalf("stats %+v", st)
	}
	if n, _ := testStore.Count(ctx, TableUsers, tenant); n != 4 {
		t.Fatalf("count %d, want 4", n)
	}

	// The same during full-sync removal: users[0] vanishes after Load and is not seen.
	w = testStore.Collection(TableUsers, tenant)
	if err := w.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.DeleteEntity(ctx, tenant, users[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	for _, u := range users[1:3] {
		if err := w.Put(ctx, u.ID, u); err != nil {
			t.Fatal(err)
		}
	}
	if st, err = w.Finish(ctx, true); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if st.Deleted != 1 || st.Unchanged != 2 { // extra is removed; users[0] was already gone
		t.Fatalf("stats %+v", st)
	}
	if n, _ := testStore.Count(ctx, TableUsers, tenant); n != 2 {
		t.Fatalf("count %d, want 2", n)
	}
}

func TestBlindDeleteOfMissingRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant := newTenant(t)
	users := makeUsers(3, "d")
	putAll(t, TableUsers, tenant, users, true, true)
	// Without Load the writer cannot know which rows exist (a delta sync's removals).
	w := testStore.Collection(TableUsers, tenant)
	for _, k := range []string{"missing-1", users[0].ID, "missing-2"} {
		if err := w.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Finish(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Deleted != 1 || st.Transactions != 3 {
		t.Fatalf("stats %+v", st)
	}
	if n, _ := testStore.Count(ctx, TableUsers, tenant); n != 2 {
		t.Fatalf("count %d", n)
	}
}

func TestSameRowTwiceInOneBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenant := newTenant(t)
	u := makeUsers(2, "twice")
	w := testStore.Collection(TableUsers, tenant)
	v1, v2 := u[0], u[0]
	v2.DisplayName = "second"
	for _, step := range []func() error{
		func() error { return w.Put(ctx, v1.ID, v1) },
		func() error { return w.Put(ctx, v2.ID, v2) },
		func() error { return w.Put(ctx, u[1].ID, u[1]) },
		func() error { return w.Delete(ctx, u[1].ID) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := w.Finish(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	// One transaction with one action per row: the Put of v2 and the delete of u[1] (not stored,
	// so it is retried away).
	if st.Written != 1 || st.Deleted != 0 {
		t.Fatalf("stats %+v", st)
	}
	got, err := testStore.Get(ctx, TableUsers, tenant, v1.ID)
	if err != nil || !strings.Contains(string(got), `"displayName":"second"`) {
		t.Fatalf("got %s, %v", got, err)
	}
	if _, err := testStore.Get(ctx, TableUsers, tenant, u[1].ID); !IsNotFound(err) {
		t.Fatalf("deleted row: %v", err)
	}
	if err := w.Put(ctx, "late", v1); err == nil {
		t.Fatal("Put after Finish succeeded")
	}
}

func TestWritersForManyTenantsInParallel(t *testing.T) {
	t.Parallel()
	tenants := []string{newTenant(t), newTenant(t), newTenant(t), newTenant(t)}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(tenants))
	for i, tenant := range tenants {
		for _, table := range []string{TableUsers, TableGroups} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				w := testStore.Collection(table, tenant)
				if err := w.Load(ctx); err != nil {
					errs <- err
					return
				}
				n := 120 + 10*i
				for j := 0; j < n; j++ {
					var v any = domain.Group{ID: fmt.Sprintf("g-%d", j), DisplayName: tenant, Kind: "security"}
					if table == TableUsers {
						v = makeUsers(1, fmt.Sprintf("p%d", j))[0]
					}
					if err := w.Put(ctx, fmt.Sprintf("k-%04d", j), v); err != nil {
						errs <- err
						return
					}
				}
				st, err := w.Finish(ctx, true)
				if err == nil && (st.Written != n || st.Transactions != (n+99)/100) {
					err = fmt.Errorf("%s %s: stats %+v", table, tenant, st)
				}
				if err == nil {
					var c int
					if c, err = testStore.Count(ctx, table, tenant); err == nil && c != n {
						err = fmt.Errorf("%s %s: count %d, want %d", table, tenant, c, n)
					}
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestWriterRejectsBadArguments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := testStore.Collection(TableUsers, "not-a-guid' or true").Load(ctx); err == nil {
		t.Error("a non-GUID tenant was accepted")
	}
	if err := testStore.Collection("Users/../x", newTenant(t)).Load(ctx); err == nil {
		t.Error("a bad table name was accepted")
	}
	w := testStore.Collection(TableUsers, newTenant(t))
	if err := w.Put(ctx, "", domain.User{}); err == nil {
		t.Error("an empty key was accepted")
	}
	type withSecret struct {
		ID     string `json:"id"`
		Secret string `json:"clientSecret" secret:"true"`
	}
	if err := w.Put(ctx, "s", withSecret{ID: "s", Secret: "hunter2"}); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("a secret-tagged field was accepted: %v", err)
	}
	// One refused object does not stop the writer.
	if err := w.Put(ctx, "ok", domain.User{ID: "ok"}); err != nil {
		t.Fatal(err)
	}
	if st, err := w.Finish(ctx, false); err != nil || st.Written != 1 {
		t.Fatalf("%+v %v", st, err)
	}
}

func BenchmarkCollectionPut(b *testing.B) {
	ctx := context.Background()
	users := makeUsers(1000, "bench")
	tx := 0
	for b.Loop() {
		w := testStore.Collection(TableUsers, newTenant(b))
		if err := w.Load(ctx); err != nil {
			b.Fatal(err)
		}
		for _, u := range users {
			if err := w.Put(ctx, u.ID, u); err != nil {
				b.Fatal(err)
			}
		}
		st, err := w.Finish(ctx, true)
		if err != nil {
			b.Fatal(err)
		}
		tx += st.Transactions
	}
	b.ReportMetric(float64(tx)/float64(b.N), "transactions/op")
}
