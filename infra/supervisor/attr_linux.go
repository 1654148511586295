package supervisor

import "syscall"

// childAttr puts a child in its own process group (a terminal's Ctrl-C
// reaches us, and we stop the children in order) and has the kernel send it
// SIGTERM if we die without stopping it (kill -9): orphans kept the data
// directory's locks and ports, and the next `lighthouse up` failed.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
