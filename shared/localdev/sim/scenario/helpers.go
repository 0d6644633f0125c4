package scenario

import "time"

// Now is the time the world was loaded with; relative dates (GDAP end dates, creation and sign-in
// times) are anchored on it.
func (w *World) Now() time.Time { return w.impl.now }

// LiveUsers is the number of users not removed (UserSlots minus removals), without generating them.
func (t *Tenant) LiveUsers() int { return t.w.impl.liveUsers(t) }
