package config

import "time"

// Refresh is how often each collection without a delta query is read again from Microsoft. A
// scheduled or consent run inside the interval keeps the stored rows and costs no Graph call and no
// table work for that collection; a manual sync reads everything. Collections with a delta query
// (users, groups) and the licences (part of the overview batch) are read on every run.
type Refresh struct {
	// Devices: Intune managed devices (REFRESH_DEVICES).
	Devices time.Duration
	// Mailboxes: the mailbox usage report (REFRESH_MAILBOXES). Microsoft builds usage reports once
	// a day, per Report Refresh Date, and they "typically become available within 24 to 72 hours"
	// (learn.microsoft.com/microsoft-365/admin/activity-reports/activity-reports): reading it more
	// than daily returns the same report.
	Mailboxes time.Duration
	// UserSecurity: MFA registration details and last sign-ins (REFRESH_USER_SECURITY).
	UserSecurity time.Duration
}

// DefaultRefresh: devices and user security on every run of the default six-hourly fan-out, the
// mailbox report once a day.
var DefaultRefresh = Refresh{Devices: 6 * time.Hour, Mailboxes: 24 * time.Hour, UserSecurity: 6 * time.Hour}

// Due reports whether a collection last read at last is due again at now under interval. A tenth
// of the interval is forgiven, so a fan-out every six hours does not skip a six-hourly collection
// because its messages were spread or delivered a little earlier than last time.
func Due(last, now time.Time, interval time.Duration) bool {
	return last.IsZero() || now.Sub(last) >= interval-interval/10
}
