//go:build !linux

package shortlivedtest

import (
	"os/exec"
	"syscall"
)

// childProcAttr returns nil: only Linux can tie a child's life to its parent.
func childProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup sends sig to the child alone.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	_ = cmd.Process.Signal(sig)
}
