package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// The tenant page shows when each collection was last read from Microsoft, so a mailbox report
// kept from yesterday reads as such next to users read minutes ago.
func TestTenantPageShowsEachCollectionsAge(t *testing.T) {
	users := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	mailboxes := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	p := TenantPage{T: domain.Tenant{TenantID: "t1", Collections: map[string]domain.CollectionStatus{
		"users": {Available: true, SyncedAt: users}, "mailboxes": {Available: true, SyncedAt: mailboxes},
		"userSecurity": {Available: true, SyncedAt: users}, "devices": {Available: false},
	}}, Query: TenantQuery{Tab: "users"}}
	var b bytes.Buffer
	if err := RenderTenant(&b, Chrome{}, p); err != nil {
		t.Fatal(err)
	}
	want := "Users 2026-12-07 05:00 UTC; Mailboxes 2026-12-06 05:00 UTC; MFA and sign-ins 2026-12-07 05:00 UTC"
	if !strings.Contains(b.String(), `<dd id="data-age">`+want+`</dd>`) {
		t.Errorf("tenant page lacks the data ages %q:\n%s", want, b.String())
	}
}
