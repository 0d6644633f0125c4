//go:build !linux

package funchost

import "syscall"

// handlerProcAttr starts the handler in its own process group. Outside Linux there is no
// parent-death signal: an abruptly killed host leaves the handler running.
func handlerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
