package inspect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/buildinfo"
	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

var (
	stamp = version.Stamp{Version: "v1.2.3-4-gabc1234", Commit: "abc1234def5678901234567890abcdef12345678", Date: "2026-01-02T03:04:05Z"}
	// other differs from stamp in the version only: a binary of one commit built on another tag.
	other = version.Stamp{Version: "v1.2.4", Commit: stamp.Commit, Date: stamp.Date}
)

// buildStamped compiles a copy of internal/buildinfo and a main printing it, under the real
// module path so that gobuild's -X names apply, with ldflags built by gobuild (or bare ones).
func buildStamped(t *testing.T, p platform.Platform, ldflags string) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "buildinfo", "buildinfo.go"))
	if err != nil {
		t.Fatal(err)
	}
	mod, _, _ := strings.Cut(buildinfo.VersionVar, "/internal/")
	for name, content := range map[string]string{
		"go.mod":                          "module " + mod + "\n\ngo 1.26\n",
		"internal/buildinfo/buildinfo.go": string(src),
		"main.go":                         "package main\n\nimport (\n\t\"fmt\"\n\n\t\"" + mod + "/internal/buildinfo\"\n)\n\nfunc main() { fmt.Println(buildinfo.Get()) }\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, p.BinaryName())
	if err := (run.Cmd{Dir: dir, Env: gobuild.Env(p)}).Run(context.Background(), "go", gobuild.Args(ldflags, out, ".")...); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStamped(t *testing.T) {
	ld, err := gobuild.LDFlags(stamp)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "darwin/arm64", "windows/amd64"} {
		p := mustParse(t, s)
		t.Run(p.DirName(), func(t *testing.T) {
			bin := buildStamped(t, p, ld)
			if err := Stamped(bin, p, stamp); err != nil {
				t.Errorf("a binary stamped by gobuild was rejected: %v", err)
			}
			err := Stamped(bin, p, other)
			for _, want := range []string{bin + ": not stamped with version v1.2.4", "reports another version", "mage build:all"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("checked against another version: %v, want %q", err, want)
				}
			}
			if err != nil && strings.Contains(err.Error(), "not stamped with commit") {
				t.Errorf("the commit, which matches, was reported: %v", err)
			}
			bare := buildStamped(t, p, stripped) // no -X: reports 0.0.0-dev (commit unknown)
			err = Stamped(bare, p, stamp)
			for _, want := range []string{"not stamped with version " + stamp.Version, "not stamped with commit " + stamp.Commit,
				"not stamped with date " + stamp.Date, "it reports 0.0.0-dev (commit unknown), the unstamped default"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("unstamped binary: %v, want %q", err, want)
				}
			}
		})
	}
}

// Building outside a git checkout stamps the defaults, which verify:static must not pass as a stamp.
func TestStampedRefusesTheDefault(t *testing.T) {
	p := platform.Host()
	bin := buildStamped(t, p, stripped)
	if err := Stamped(bin, p, version.Dev); err == nil || !strings.Contains(err.Error(), "unstamped default 0.0.0-dev (commit unknown)") {
		t.Errorf("an unstamped binary checked against the default stamp: %v", err)
	}
}
