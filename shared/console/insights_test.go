package console

import (
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/insights"
)

func TestBuildInsights(t *testing.T) {
	a := domain.Tenant{TenantID: "a", DisplayName: "Alpha", Consent: domain.Consent{State: "consented"}, Sync: domain.SyncStatus{State: "succeeded", LastSuccessAt: now},
		Relationship: domain.Relationship{Status: "active", EndDateTime: now.Add(10 * 24 * time.Hour)}}
	b := domain.Tenant{TenantID: "b", DisplayName: "Bravo", Consent: domain.Consent{State: "consented"}, Sync: domain.SyncStatus{State: "succeeded", LastSuccessAt: now.Add(-72 * time.Hour)},
		Relationship: domain.Relationship{Status: "active", EndDateTime: now.Add(10 * 24 * time.Hour), AutoExtend: true}}
	off := domain.Tenant{TenantID: "c", DisplayName: "Charlie", Excluded: true, Consent: domain.Consent{State: "none"}}
	sums := map[string]insights.Summary{
		"a": {MFAKnown: true, WithoutMFACount: 3, WithoutMFA: []insights.UserRef{{UPN: "x@a", Name: "X"}}, SignInKnown: true,
			Inactive: map[int]int{30: 4, 60: 2, 90: 1}, InactiveUsers: []insights.UserRef{{UPN: "old@a", Name: "Old", LastSignIn: now.Add(-100 * 24 * time.Hour)}, {UPN: "mid@a", Name: "Mid", LastSignIn: now.Add(-40 * 24 * time.Hour)}},
			Licences: []insights.Licence{{SkuPartNumber: "SPB", Purchased: 10, Assigned: 7, Suspended: 1}}},
		"b": {MFAKnown: true, Licences: []insights.Licence{{SkuPartNumber: "SPB", Purchased: 10, Assigned: 9}}},
		"c": {MFAKnown: true, WithoutMFACount: 50, Licences: []insights.Licence{{SkuPartNumber: "SPB", Purchased: 100}}},
	}
	in := BuildInsights([]domain.Tenant{a, b, off}, sums, 60, now)
	if len(in.MFA.Rows) != 1 || in.MFA.Rows[0][0].Text != "Alpha" || in.MFA.Rows[0][2].Text != "3" || in.MFA.Rows[0][4].Text != "X <x@a>" {
		t.Errorf("MFA rows %v (the excluded tenant must not count)", in.MFA.Rows)
	}
	if len(in.Inactive.Rows) != 1 || in.Inactive.Rows[0][1].Text != "2" || in.Inactive.Rows[0][2].Text != "Old <old@a> last "+ShortDate(now.Add(-100*24*time.Hour)) {
		t.Errorf("inactive (60 days) rows %v", in.Inactive.Rows)
	}
	if len(in.Licences.Rows) != 1 || in.Licences.Rows[0][1].Text != "2" || in.Licences.Rows[0][2].Text != "20" || in.Licences.Rows[0][3].Text != "16" ||
		in.Licences.Rows[0][4].Text != "4" || in.Licences.Rows[0][5].Text != "1" || in.Licences.Rows[0][6].Text != "80%" {
		t.Errorf("licence rows %v", in.Licences.Rows)
	}
	if len(in.Expiring.Rows) != 1 || in.Expiring.Rows[0][0].Text != "Alpha" {
		t.Errorf("expiring rows %v (auto-extending relationships are not expiring)", in.Expiring.Rows)
	}
	if len(in.Attention.Rows) != 1 { // Alpha: expiring GDAP is amber, not listed here; Bravo stale; Charlie excluded
		t.Errorf("attention rows %v", in.Attention.Rows)
	}
	found := false
	for _, r := range in.Attention.Rows {
		if r[0].Text == "Bravo" && r[3].Text != "" {
			found = true
		}
		if r[0].Text == "Charlie" || r[0].Text == "Alpha" {
			t.Errorf("attention lists %s", r[0].Text)
		}
	}
	if !found {
		t.Errorf("stale Bravo not in attention: %v", in.Attention.Rows)
	}
	if ParseDays("90") != 90 || ParseDays("7") != 30 || ParseDays("") != 30 {
		t.Error("ParseDays")
	}
}
