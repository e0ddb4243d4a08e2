//go:build e2e

// The end-to-end test of init: a minute or more of builds, so it runs with the e2e tests
// (`mage test`, CI), not in the quick `go test ./...` loop.

package initproject

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// TestInitOnACopyOfThisRepository runs init on a copy of the real repository (every file git
// tracks or would track), then checks the result is a working service of the new name.
func TestInitOnACopyOfThisRepository(t *testing.T) {
	src := projecttest.Root(t)
	if cur, err := Current(src); err != nil || cur != Template {
		t.Skipf("this repository is %+v (%v), not the template: init, and this test of it, apply to the template only", cur, err)
	}
	dst := t.TempDir()
	ctx := context.Background()
	files, err := run.Cmd{Dir: src}.Output(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Split(files, "\x00") {
		if f != "" {
			copyFile(t, filepath.Join(src, f), filepath.Join(dst, f))
		}
	}
	runGit(t, dst, "init", "-q")
	commitAll(t, dst)

	var out bytes.Buffer
	if err := Run(ctx, dst, gizmo, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())

	noTrace(t, dst)

	goCmd := func(args ...string) string {
		t.Helper()
		out, err := run.Cmd{Dir: dst}.Output(ctx, "go", args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	goCmd("build", "./...")
	goCmd("vet", "./...")
	// The service's own unit tests, and the check that CI still calls existing mage targets.
	var pkgs []string
	for _, p := range strings.Fields(goCmd("list", "./...")) {
		if !strings.Contains(p, "/internal/pipeline/") || strings.HasSuffix(p, "/internal/pipeline/ci") {
			pkgs = append(pkgs, p)
		}
	}
	goCmd(append([]string{"test", "-short"}, pkgs...)...)
	// Nested modules with code of their own (not the tool pins under tools/) too: the
	// Kubernetes checks read the env prefix the manifests were renamed to.
	err = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		if d.IsDir() && (rel == "tools" || rel == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" && rel != "go.mod" {
			if out, err := (run.Cmd{Dir: filepath.Dir(p)}).Output(ctx, "go", "test", "-short", "./..."); err != nil {
				t.Errorf("%s: %v\n%s", rel, err, out)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The renamed magefile builds the renamed binary.
	goCmd("run", "mage.go", "build")
	bin := filepath.Join(dst, "dist", "gizmo_"+runtime.GOOS+"_"+runtime.GOARCH, "gizmo")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("mage build in the renamed copy: %v", err)
	}

	out.Reset()
	if err := Run(ctx, dst, gizmo, &out); err != nil || !strings.Contains(out.String(), "nothing to change") {
		t.Fatalf("second run: %v, %q; want nothing to change", err, out.String())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	st, err := os.Lstat(from)
	if err != nil || !st.Mode().IsRegular() {
		return // deleted in the working tree, or not a plain file
	}
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, st.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}
