package run

import (
	"os"
	"os/exec"
	"syscall"
)

// Windows has no process groups to signal: a cancelled command is killed on its own.
func setGroup(*exec.Cmd) {}

func signalGroup(pid int, _ syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	_ = p.Kill()
	return nil
}

func interruptSelf() error { return nil }

func dieWithParent(syscall.Signal) {}
