package project

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The copy holds what git sees, as it is now: tracked and untracked-not-ignored files with their
// modes, not ignored ones, not files deleted from the working tree.
func TestCopyCheckout(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, text string, mode os.FileMode) {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	write(".gitignore", "/dist/\n", 0o644)
	write("tracked.go", "old", 0o644)
	write("gone.go", "deleted later", 0o644)
	write("run.sh", "#!/bin/sh\n", 0o755)
	git("add", "-A")
	write("tracked.go", "edited", 0o644) // uncommitted edits are copied as they are
	write("sub/new.go", "untracked", 0o644)
	write("dist/out", "ignored", 0o644)
	if err := os.Remove(filepath.Join(src, "gone.go")); err != nil {
		t.Fatal(err)
	}

	if err := CopyCheckout(context.Background(), src, dst); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"tracked.go": "edited", "sub/new.go": "untracked", ".gitignore": "/dist/\n"} {
		if got, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"dist/out", "gone.go"} {
		if _, err := os.Stat(filepath.Join(dst, name)); !os.IsNotExist(err) {
			t.Errorf("%s was copied", name)
		}
	}
	if st, err := os.Stat(filepath.Join(dst, "run.sh")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("run.sh lost its mode: %v %v", st.Mode(), err)
	}
	if err := CopyCheckout(context.Background(), t.TempDir(), t.TempDir()); err == nil {
		t.Error("a directory that is not a git checkout was copied without an error")
	}
}
