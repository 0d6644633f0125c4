package funchost

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// hostLog writes the host's console lines in Core Tools' shape: "[timestamp] message".
type hostLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *hostLog) line(prefix, msg string) {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "[%s] %s%s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), prefix, msg)
}

func (l *hostLog) infof(format string, args ...any)  { l.line("", fmt.Sprintf(format, args...)) }
func (l *hostLog) errorf(format string, args ...any) { l.line("ERROR: ", fmt.Sprintf(format, args...)) }
func (l *hostLog) handlerOut(s string)               { l.line("", s) }
func (l *hostLog) handlerErr(s string)               { l.line("ERROR: handler: ", s) }
