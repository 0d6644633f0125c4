package funchost

import "syscall"

// handlerProcAttr starts the handler in its own process group with a parent-death signal: when
// the host dies abruptly (SIGKILL, a crash) the kernel kills the handler too, instead of leaving
// it orphaned and still listening on its port. The real host gets the same on Windows from a job
// object that kills its worker processes with it (Azure/azure-functions-host,
// src/WebJobs.Script/Workers/ProcessManagement/JobObjectRegistry.cs); what it does on Linux was
// not verified. Pdeathsig fires when the OS thread that started the child exits; the Go runtime
// only ends threads of goroutines that exit while locked with runtime.LockOSThread, which the
// host never does.
func handlerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
