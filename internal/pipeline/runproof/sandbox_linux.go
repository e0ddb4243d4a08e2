package runproof

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

// sandboxID is the user (and group) the binaries run as in their own root: the images' nonroot.
const sandboxID = 65532

// ownRootCmd is path (inside root) run with root as its root directory.
func ownRootCmd(ctx context.Context, root, path string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: sandboxID, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: sandboxID, HostID: os.Getgid(), Size: 1}},
		Chroot:      root,
	}
	return cmd
}
