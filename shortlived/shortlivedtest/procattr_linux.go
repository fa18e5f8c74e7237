//go:build linux

package shortlivedtest

import "syscall"

// childProcAttr makes a child server die with the test binary, so that a
// killed test run leaves no redis-server behind.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
