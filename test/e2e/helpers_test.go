//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
)

// Helpers shared by the end-to-end tests.

// mage runs a target in dir and fails the test if it fails.
func mage(t *testing.T, dir string, env []string, target string) string {
	t.Helper()
	out, err := runMage(dir, env, target)
	if err != nil {
		t.Fatalf("mage %s: %v\n%s", target, err, out)
	}
	return out
}

// mageFails runs a target that must fail.
func mageFails(t *testing.T, dir string, env []string, target string) string {
	t.Helper()
	out, err := runMage(dir, env, target)
	if err == nil {
		t.Fatalf("mage %s succeeded, want a failure:\n%s", target, out)
	}
	return out
}

func runMage(dir string, env []string, target string) (string, error) {
	cmd := exec.Command("go", "run", "mage.go", target)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// freshClone clones the checkout into a temporary directory, with the working tree's
// uncommitted changes committed on top (the tests check the code as it is, on a clean tree),
// and shares the pinned tools already built (building them again takes half an hour).
func freshClone(t *testing.T) string {
	t.Helper()
	root := projecttest.Root(t)
	clone := filepath.Join(t.TempDir(), "slipway")
	git(t, "", "clone", "--quiet", root, clone)
	files := git(t, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		if f == "" {
			continue
		}
		src, dst := filepath.Join(root, f), filepath.Join(clone, f)
		data, err := os.ReadFile(src)
		if os.IsNotExist(err) {
			os.Remove(dst) // deleted in the working tree
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(src)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	git(t, clone, "add", "-A")
	if git(t, clone, "status", "--porcelain") != "" {
		git(t, clone, "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "commit", "--quiet", "-m", "e2e: working tree")
	}
	state := filepath.Join(clone, ".slipway")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, ".slipway", "tools"), filepath.Join(state, "tools")); err != nil {
		t.Fatal(err)
	}
	return clone
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
