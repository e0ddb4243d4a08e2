package project

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/git"
)

// CopyCheckout copies the checkout at root into dst as git sees it: tracked files and untracked
// ones git does not ignore, with their current content, so no dist/, .slipway/ or other ignored
// state. That is the tree the version stamp describes; verify:repro and the bench build copies
// of it. Files git tracks but that were deleted from the working tree are left out.
func CopyCheckout(ctx context.Context, root, dst string) error {
	files, err := git.Repo{Dir: root}.Files(ctx)
	if err != nil {
		return err
	}
	for _, name := range files {
		if err := copyRegular(filepath.Join(root, name), filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

// copyRegular copies one regular file with its permissions; anything else (a deleted file, a
// symlink, a submodule directory) is skipped.
func copyRegular(from, to string) error {
	in, err := os.Open(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
