package main

import "github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"

// Page caps Graph documents for what a sync reads. The minimum number of round trips a sync of a
// tenant can make is each collection's pages at its cap (at least one call, also to learn that a
// collection is unavailable) plus one $batch for the small reads.
const (
	// /users and /users/delta, /groups/delta: "The default and maximum page sizes are 100 and 999
	// user objects respectively" (Microsoft Graph user-list; delta pages with Prefer:
	// odata.maxpagesize; microsoft-graph-docs-contrib api-reference/*/api/user-list.md).
	capDirectory = 999
	// users with signInActivity selected: "the maximum page size is 500" (same page, as changed by
	// microsoft-graph-docs-contrib PR #9591, merged 2025-07-03).
	capSignInActivity = 500
	// reports/authenticationMethods/userRegistrationDetails: its page documents $filter only, no
	// page size. Unverified: Graph's directory maximum (999) is used, as the simulator accepts.
	capRegistrationDetails = 999
	// deviceManagement/managedDevices: Intune documents no page size; unverified. 999, the $top
	// tenantsync asks for, is used (a tenant of this scenario has far fewer devices than a page).
	capManagedDevices = 999
	// $batch: "JSON batch requests are currently limited to 20 individual requests"
	// (https://learn.microsoft.com/graph/json-batching).
	capBatchItems = 20
)

func pages(n, cap int) int {
	if n <= 0 {
		return 1
	}
	return (n + cap - 1) / cap
}

// minimumRoundTrips is the fewest Graph round trips a full sync of t can make at Graph's page
// caps, with the same data tenantsync collects:
//   - one $batch: /organization, /subscribedSkus, /admin/reportSettings (and the security
//     defaults policy where it is needed);
//   - users and groups (delta), managed devices (one call answers 403 without Intune);
//   - the mailbox usage report: the call answered 302 plus the download of the CSV it points to
//     (reportroot-getmailboxusagedetail: "a 302 Found response that redirects to a
//     preauthenticated download URL"); none when reportSettings says names are concealed;
//   - with Entra ID P1/P2: userRegistrationDetails and users with signInActivity;
//   - without: one call that learns it (403), then each user's authentication methods, and when
//     security defaults are off the per-user MFA state too, 20 per $batch.
func minimumRoundTrips(t *scenario.Tenant) int {
	users := t.LiveUsers()
	groups := 0
	for i := 0; i < t.GroupSlots(); i++ {
		if _, ok := t.Group(i); ok {
			groups++
		}
	}
	n := 1 + pages(users, capDirectory) + pages(groups, capDirectory)
	devices := 0
	if t.Intune {
		devices = t.DeviceCount()
	}
	n += pages(devices, capManagedDevices)
	if !t.ConcealReports {
		n += 2
	}
	if t.Premium {
		n += pages(users, capRegistrationDetails) + pages(users, capSignInActivity)
	} else {
		perUser := 2
		if t.SecurityDefaults {
			perUser = 1
		}
		n += 1 + pages(users*perUser, capBatchItems)
	}
	return n
}
