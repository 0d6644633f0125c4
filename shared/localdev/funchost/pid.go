package funchost

// HandlerPID is the process id of the ready handler process, 0 while none is ready (starting or
// restarting). Benchmarks read the handler's memory from /proc/<pid>/status with it.
func (h *Host) HandlerPID() int {
	w := h.worker
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cur == nil {
		return 0
	}
	return w.cur.cmd.Process.Pid
}
