package console

import (
	"strings"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// DataAgeText says when each collection's stored rows were last read from Microsoft, in the tenant
// page's order, the user security data (MFA, sign-ins) last: collections without delta are read
// again only once their refresh interval (REFRESH_* settings) has passed, so their ages differ.
func DataAgeText(cs map[string]domain.CollectionStatus) string {
	var parts []string
	add := func(name, label string) {
		if c, ok := cs[name]; ok && !c.SyncedAt.IsZero() {
			parts = append(parts, label+" "+ShortTime(c.SyncedAt))
		}
	}
	for _, c := range Collections {
		add(c.Name, c.Label)
	}
	add("userSecurity", "MFA and sign-ins")
	return strings.Join(parts, "; ")
}
