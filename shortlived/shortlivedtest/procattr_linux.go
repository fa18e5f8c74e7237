//go:build linux

package shortlivedtest

import (
	"os/exec"
	"syscall"
)

// childProcAttr makes a child server die with the test binary, so that a
// killed test run leaves no redis-server behind, and puts it in a process
// group of its own, so that a kill or a stall reaches whatever it forked
// (a replication or rewrite child) too.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// signalGroup sends sig to the child's process group.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
