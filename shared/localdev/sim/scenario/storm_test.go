package scenario

import (
	"testing"
	"time"
)

// The built-in storm scenario is issue 9's measurement: 30 healthy, consented tenants of 100-200
// users, 429 (Retry-After 0.5) on every 2nd Graph request, 503 on every 3rd, 300 ms latency.
func TestStormScenario(t *testing.T) {
	w, err := Load("storm", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if w.TenantCount() != 30 {
		t.Fatalf("%d tenants, want 30", w.TenantCount())
	}
	for i := 0; i < w.TenantCount(); i++ {
		tt := w.TenantAt(i)
		if n := tt.LiveUsers(); n < 100 || n > 200 {
			t.Errorf("%s: %d users, want 100-200", tt.DisplayName, n)
		}
		if !tt.Consented || !tt.Premium || !tt.Intune || tt.ConcealReports || !tt.CSP || tt.Deleted {
			t.Errorf("%s: consented %v premium %v intune %v concealed %v csp %v deleted %v: want a healthy tenant",
				tt.DisplayName, tt.Consented, tt.Premium, tt.Intune, tt.ConcealReports, tt.CSP, tt.Deleted)
		}
		if f := tt.Faults; f.ThrottleEvery != 2 || f.RetryAfter != "0.5" || f.UnavailableEvery != 3 || f.LatencyMs != 300 ||
			f.TokenError != "" || f.ExpireDeltaTokens {
			t.Errorf("%s: faults %+v, want 429 every 2nd (Retry-After 0.5), 503 every 3rd, 300 ms", tt.DisplayName, f)
		}
	}
}
