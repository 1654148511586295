//go:build !linux

package supervisor

import "syscall"

// childAttr puts a child in its own process group: a terminal's Ctrl-C
// reaches us, and we stop the children in order.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
