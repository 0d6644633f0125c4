// Package crash turns a panic into an error at the boundaries where tenantsync runs code on
// behalf of one invocation (the invocation handler, the sync worker, the collections a sync reads
// in parallel), so a bug fails that piece of work instead of the whole handler process.
package crash

import (
	"fmt"
	"runtime/debug"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/remedy"
)

// Error is a recovered panic. Error() is the panic value only: the stack is for the function logs
// (log it explicitly where the panic is caught), never for tables or API answers.
type Error struct {
	Value any
	Stack []byte
}

func (e *Error) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// As lets remedy.Classify see a panic as what it is: a bug, not Microsoft's answer. It is not
// retryable: the same message would most likely panic again, so it is recorded and completed, and
// the next scheduled sync tries again.
func (e *Error) As(target any) bool {
	if p, ok := target.(*domain.Problem); ok {
		*p = domain.Problem{Code: remedy.CodeInternal, Message: "tenantsync stopped on an internal error (" + firstLine(e.Error()) + ")",
			Remediation: "A bug in tenantsync ended this sync; the stack is in the function logs for this run id. The next scheduled sync tries again; report the log line if it repeats."}
		return true
	}
	return false
}

// From wraps a value returned by recover(); call it in the deferred function so the stack still
// shows where the panic happened.
func From(v any) *Error { return &Error{Value: v, Stack: debug.Stack()} }

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' || s[i] == '\r' {
			s = s[:i]
			break
		}
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
