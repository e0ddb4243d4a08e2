package inspect

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

const stripped = "-s -w -buildid="

// build compiles a one-file main package the way gobuild does, with ldflags and extra
// environment (appended last, so it overrides) varied by the test.
func build(t *testing.T, p platform.Platform, src, ldflags string, env ...string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":  "module example.com/fixture\n\ngo 1.26\n",
		"main.go": src,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, p.BinaryName())
	cmd := run.Cmd{Dir: dir, Env: append(gobuild.Env(p), env...)}
	if err := cmd.Run(context.Background(), "go", gobuild.Args(ldflags, out, ".")...); err != nil {
		t.Fatal(err)
	}
	return out
}

const plainMain = "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n"

func mustParse(t *testing.T, s string) platform.Platform {
	t.Helper()
	p, err := platform.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStaticAccepts(t *testing.T) {
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "darwin/arm64", "windows/amd64"} {
		p := mustParse(t, s)
		if err := Static(build(t, p, plainMain, stripped), p); err != nil {
			t.Errorf("%s: a static stripped binary was rejected: %v", s, err)
		}
	}
}

func TestStaticRejectsUnstripped(t *testing.T) {
	for _, tc := range []struct{ platform, want string }{
		{"linux/amd64", ".symtab"},
		{"darwin/arm64", "defined symbols in LC_SYMTAB"},
		{"windows/amd64", "COFF symbols"},
	} {
		p := mustParse(t, tc.platform)
		bin := build(t, p, plainMain, "-buildid=")
		err := Static(bin, p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), bin) ||
			!strings.Contains(err.Error(), "DWARF") {
			t.Errorf("%s: unstripped binary: error = %v, want it to name %s, %q and DWARF", tc.platform, err, bin, tc.want)
		}
	}
}

func TestStaticRejectsWrongPlatform(t *testing.T) {
	bin := build(t, mustParse(t, "linux/arm/v7"), plainMain, stripped)
	for _, tc := range []struct{ platform, want string }{
		{"linux/arm64", "architecture is EM_ARM, want EM_AARCH64"},
		{"linux/arm/v6", `GOARM="7", want "6"`},
		{"windows/arm64", "cannot read as a windows/arm64 binary"},
	} {
		err := Static(bin, mustParse(t, tc.platform))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("arm/v7 binary checked as %s: error = %v, want %q", tc.platform, err, tc.want)
		}
	}
}

func TestStaticRejectsNoTrimpath(t *testing.T) {
	p := platform.Host()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(plainMain), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "app")
	args := slices.DeleteFunc(gobuild.Args(stripped, bin, "main.go"), func(a string) bool { return a == "-trimpath" })
	if err := (run.Cmd{Dir: dir, Env: gobuild.Env(p)}).Run(context.Background(), "go", args...); err != nil {
		t.Fatal(err)
	}
	if err := Static(bin, p); err == nil || !strings.Contains(err.Error(), `-trimpath="", want "true"`) {
		t.Errorf("binary built without -trimpath: error = %v, want a -trimpath complaint", err)
	}
}

func TestStaticRejectsCgo(t *testing.T) {
	p := platform.Host()
	if p.OS != "linux" {
		t.Skip("the cgo fixture links against glibc: linux only (CI runs linux)")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed: cannot build the cgo fixture (CI installs build-essential)")
	}
	src := "package main\n\n// #include <stdio.h>\n// static void hi(void) { puts(\"hi\"); }\nimport \"C\"\n\nfunc main() { C.hi() }\n"
	bin := build(t, p, src, stripped, "CGO_ENABLED=1")
	err := Static(bin, p)
	if err == nil {
		t.Fatal("a cgo binary passed the static check")
	}
	for _, want := range []string{bin + ": dynamically linked: needs libc.so.6 (DT_NEEDED)", "PT_INTERP", `CGO_ENABLED="1", want "0"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("cgo binary: error does not contain %q:\n%v", want, err)
		}
	}
}

// No cgo toolchain for darwin here, so the library rule is tested on its own.
func TestCheckDylibs(t *testing.T) {
	var got []string
	fail := func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }
	checkDylibs([]string{"/usr/lib/libSystem.B.dylib", "/System/Library/Frameworks/Security.framework/Versions/A/Security",
		"/opt/homebrew/lib/libsqlite3.dylib", "@rpath/libfoo.dylib"}, fail)
	if len(got) != 2 || !strings.Contains(got[0], "/opt/homebrew/lib/libsqlite3.dylib") || !strings.Contains(got[1], "@rpath/libfoo.dylib") {
		t.Errorf("checkDylibs complaints = %q, want the homebrew and @rpath libraries", got)
	}
}

// Dist checks the service as gobuild builds it: static and stamped with the version built.
func TestDist(t *testing.T) {
	p := platform.Host()
	root := projecttest.Root(t)
	dist := t.TempDir()
	if _, err := gobuild.Build(context.Background(), gobuild.Options{Root: root, Dist: dist, Platforms: []platform.Platform{p}, Stamp: stamp}); err != nil {
		t.Fatal(err)
	}
	if err := Dist(dist, []platform.Platform{p}, stamp); err != nil {
		t.Errorf("Dist on a good binary: %v", err)
	}
	if err := Dist(dist, []platform.Platform{p}, other); err == nil || !strings.Contains(err.Error(), "not stamped with version "+other.Version) {
		t.Errorf("Dist against another version: %v", err)
	}
	missing := platform.Platform{OS: "windows", Arch: "arm64"}
	if err := Dist(dist, []platform.Platform{p, missing}, stamp); err == nil || !strings.Contains(err.Error(), "slipway_windows_arm64/slipway.exe: no binary for windows/arm64: run `mage build:all`") {
		t.Errorf("Dist with a platform not built: error = %v, want it to name the missing binary and the fix", err)
	}
}
