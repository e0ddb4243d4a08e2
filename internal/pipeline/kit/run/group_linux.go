package run

import "syscall"

// setParentDeath: the child gets SIGKILL if the thread that started it dies with this process.
func setParentDeath(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

func dieWithParent(sig syscall.Signal) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(sig), 0)
}
