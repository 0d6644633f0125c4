package domain

import (
	"encoding/json"
	"strings"
	"time"
)

// Problem is the one shape of "what went wrong and what the MSP does about it": a run's error,
// a tenant's flag, an unavailable collection, a consent or partner-connection failure. It is also
// an error: packages return *Problem (or a Problem) and callers read it with errors.As; errors.Is
// reaches Kind.
type Problem struct {
	// Code is stable (AADSTS codes, Graph error codes, or ours such as NotConsented).
	Code string `json:"code"`
	// Message is safe to show to the MSP: no tokens, no internals.
	Message string `json:"message"`
	// Remediation is the fix, in the MSP's words.
	Remediation string `json:"remediation"`
	// Retryable: a later attempt may succeed without anyone changing anything.
	Retryable bool `json:"-"`
	// Kind is the error this problem is an instance of, if any (consent.ErrDeclined,
	// partner.ErrNotConnected, a dependency's error ...), for errors.Is and errors.As. Never shown.
	Kind error `json:"-"`
}

// Error is "code: message[ Fix: remediation]": safe to show, so Kind (which may wrap a
// dependency's raw error) is left out.
func (p Problem) Error() string {
	if p.Remediation == "" {
		return p.Text()
	}
	return p.Text() + " Fix: " + p.Remediation
}

// Text is "code: message", without repeating a code the message already starts with (AADSTS
// messages do).
func (p Problem) Text() string {
	if p.Code == "" || strings.HasPrefix(p.Message, p.Code) {
		return p.Message
	}
	return p.Code + ": " + p.Message
}

// Unwrap is Kind.
func (p Problem) Unwrap() error { return p.Kind }

// CollectionStatus says whether a collection could be synced and, if not, the problem. On the
// wire (API and tables) the problem's message is "reason".
type CollectionStatus struct {
	Available bool
	Problem   *Problem
	// Skipped counts source rows the last run left out as unusable, SkipReason says which.
	Skipped    int
	SkipReason string
	// SyncedAt is when the stored rows were last read from Microsoft (a collection without delta
	// is read again only when its refresh interval has passed): the data's age.
	SyncedAt time.Time
}

type collectionStatusWire struct {
	Available   bool      `json:"available"`
	Code        string    `json:"code,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Remediation string    `json:"remediation,omitempty"`
	Skipped     int       `json:"skipped,omitempty"`
	SkipReason  string    `json:"skipReason,omitempty"`
	SyncedAt    time.Time `json:"syncedAt,omitzero"`
}

// MarshalJSON writes the wire shape.
func (c CollectionStatus) MarshalJSON() ([]byte, error) {
	w := collectionStatusWire{Available: c.Available, Skipped: c.Skipped, SkipReason: c.SkipReason, SyncedAt: c.SyncedAt}
	if c.Problem != nil {
		w.Code, w.Reason, w.Remediation = c.Problem.Code, c.Problem.Message, c.Problem.Remediation
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the wire shape.
func (c *CollectionStatus) UnmarshalJSON(b []byte) error {
	var w collectionStatusWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = CollectionStatus{Available: w.Available, Skipped: w.Skipped, SkipReason: w.SkipReason, SyncedAt: w.SyncedAt}
	if w.Code != "" || w.Reason != "" || w.Remediation != "" {
		c.Problem = &Problem{Code: w.Code, Message: w.Reason, Remediation: w.Remediation}
	}
	return nil
}

// Code is the problem's code, "" when there is none.
func (c CollectionStatus) Code() string { return c.problem().Code }

// Reason is the problem's message, "" when there is none.
func (c CollectionStatus) Reason() string { return c.problem().Message }

// Remediation is the problem's fix, "" when there is none.
func (c CollectionStatus) Remediation() string { return c.problem().Remediation }

func (c CollectionStatus) problem() Problem {
	if c.Problem == nil {
		return Problem{}
	}
	return *c.Problem
}
