//go:build !linux

package runproof

import (
	"context"
	"errors"
	"os/exec"
)

// ownRootCmd fails to start: only Linux has the user namespaces it needs (and runs Linux binaries).
func ownRootCmd(ctx context.Context, _, path string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Err = errors.New("a root directory of its own needs Linux")
	return cmd
}
