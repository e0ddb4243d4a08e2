package gobuild

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

func TestCompareReportsDifferences(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	ps := []platform.Platform{{OS: "linux", Arch: "amd64"}, {OS: "windows", Arch: "amd64"}}
	for _, p := range ps {
		content := "same"
		for i, dir := range []string{a, b} {
			if p.OS == "windows" {
				content = []string{"one", "two"}[i]
			}
			writeFile(t, filepath.Join(dir, p.DirName(), p.BinaryName()), content)
		}
	}
	var out bytes.Buffer
	err := compare(&out, a, b, Options{Platforms: ps})
	if err == nil || !strings.Contains(err.Error(), "slipway_windows_amd64/slipway.exe") || strings.Contains(err.Error(), "linux") {
		t.Errorf("compare error = %v, want it to name only the windows binary", err)
	}
	if !strings.Contains(out.String(), "identical") || !strings.Contains(out.String(), "DIFFERENT") {
		t.Errorf("compare report lacks identical/DIFFERENT lines:\n%s", out.String())
	}
}

// TestRepro builds a fixture checkout twice, the second time with an empty GOCACHE.
func TestRepro(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the runtime from scratch: skipped with -short")
	}
	ctx := context.Background()
	root := fixture(t)
	// An ignored file must not be copied: this one would break the build.
	writeFile(t, filepath.Join(root, ".gitignore"), "/dist/\nscratch.go\n")
	writeFile(t, filepath.Join(root, "cmd/app/scratch.go"), "package broken\n")
	if err := (run.Cmd{Dir: root, Env: []string{"GIT_CONFIG_GLOBAL=/dev/null"}}).Run(ctx, "git", "init", "-q"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := Options{Root: root, Main: "./cmd/app", Stamp: stamp, Out: &out, Platforms: []platform.Platform{platform.Host()}}
	if err := Repro(ctx, o); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "reproducible: 1 binaries identical") {
		t.Errorf("Repro output lacks the verdict:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(root, "dist")); !os.IsNotExist(err) {
		t.Errorf("Repro touched the checkout's dist/: %v", err)
	}
}
