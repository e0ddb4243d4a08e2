//go:build unix && !linux

package run

import "syscall"

// Only Linux has a parent-death signal; elsewhere a cancelled context still ends the group.
func setParentDeath(*syscall.SysProcAttr) {}

func dieWithParent(syscall.Signal) {}
