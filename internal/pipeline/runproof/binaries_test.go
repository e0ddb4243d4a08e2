package runproof

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

// stamp is what the test builds of the service report.
var stamp = version.Stamp{Version: "v9.9.9-runproof", Commit: strings.Repeat("0", 40), Date: "2026-01-01T00:00:00Z"}

// The Linux part of the default matrix: what a release ships and this package runs.
var (
	amd64 = platform.Platform{OS: "linux", Arch: "amd64"}
	arm64 = platform.Platform{OS: "linux", Arch: "arm64"}
	armv7 = platform.Platform{OS: "linux", Arch: "arm", Variant: "v7"}
	linux = []platform.Platform{amd64, arm64, armv7}
)

var built struct {
	once sync.Once
	dist string
	err  error
}

// atExit is what TestMain undoes after the last test: fixtures several tests share.
var atExit []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(atExit) - 1; i >= 0; i-- {
		atExit[i]()
	}
	if built.dist != "" {
		os.RemoveAll(built.dist)
	}
	os.Exit(code)
}

// realDist is a dist/ with the real service built for every platform of linux, as build:all
// builds it; built once for all tests, so tests that change a dist/ make their own (place).
func realDist(t *testing.T) string {
	t.Helper()
	linuxOnly(t)
	built.once.Do(func() {
		root, err := project.Root()
		if err != nil {
			built.err = err
			return
		}
		if built.dist, built.err = os.MkdirTemp("", "runproof-dist-"); built.err != nil {
			return
		}
		_, built.err = gobuild.Build(context.Background(), gobuild.Options{Root: root, Dist: built.dist, Platforms: linux, Stamp: stamp})
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dist
}

func linuxOnly(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("runs Linux binaries: Linux only (CI runs Linux)")
	}
}

// builtBinary is the real service's binary for p.
func builtBinary(t *testing.T, p platform.Platform) string {
	t.Helper()
	return filepath.Join(realDist(t), p.DirName(), p.BinaryName())
}

// place copies the binary src into dist under dir (a platform's directory name).
func place(t *testing.T, dist, dir, src string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dist, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dist, dir, project.Name)
	copyFile(t, src, dst)
	return dst
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// foreign is a platform of linux that is not this machine's.
func foreign() platform.Platform {
	if runtime.GOARCH == "arm64" {
		return amd64
	}
	return arm64
}

// needsEmulation skips a test when this machine cannot emulate p, with the fix.
func needsEmulation(t *testing.T, p platform.Platform) {
	t.Helper()
	if _, notRun := How(DefaultBinfmt, p); notRun != "" {
		t.Skip(notRun)
	}
}

func TestBinariesRunNatively(t *testing.T) {
	dist := realDist(t)
	results, err := Checker{}.Binaries(context.Background(), dist, []platform.Platform{platform.Host()}, stamp.Version)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1: %+v", len(results), results)
	}
	r := results[0]
	if r.How() != "native" || r.NotRun != "" || r.Time <= 0 || !strings.Contains(r.Output, "slipway "+stamp.Version+" ") {
		t.Errorf("native run: %+v", r)
	}
	t.Logf("%s native: %s", r.Platform, r.Time)
}

// With QEMU installed (CI's machine preparation), the other architectures run emulated.
func TestBinariesRunEmulated(t *testing.T) {
	dist := realDist(t)
	var others []platform.Platform
	for _, p := range linux {
		if p.Arch != runtime.GOARCH {
			needsEmulation(t, p)
			others = append(others, p)
		}
	}
	results, err := Checker{}.Binaries(context.Background(), dist, others, stamp.Version)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(others) {
		t.Fatalf("got %d results, want %d", len(results), len(others))
	}
	for _, r := range results {
		if r.Handler == "" || r.NotRun != "" || r.Err != nil || !strings.HasSuffix(r.Output, r.Platform.OS+"/"+r.Platform.Arch+")") {
			t.Errorf("%s: want an emulated run, got %+v", r.Platform, r)
		}
		t.Logf("%s %s: %s", r.Platform, r.How(), r.Time)
	}
}

func TestBinariesNotRunWithoutEmulation(t *testing.T) {
	dist := realDist(t)
	noHandlers := t.TempDir() // binfmt_misc not mounted
	results, err := Checker{Binfmt: noHandlers}.Binaries(context.Background(), dist, linux, stamp.Version)
	if err != nil {
		t.Fatalf("NOT RUN is not a failure: %v", err)
	}
	if len(results) != len(linux) || !AnyNotRun(results) {
		t.Fatalf("results: %+v", results)
	}
	for _, r := range results {
		native := r.Platform.Arch == runtime.GOARCH
		if native != (r.NotRun == "") {
			t.Errorf("%s: native=%v but NotRun=%q", r.Platform, native, r.NotRun)
		}
		if !native && (!strings.Contains(r.NotRun, "qemu-user-static binfmt-support") || !strings.Contains(r.NotRun, "docker/setup-qemu-action") || r.Time != 0) {
			t.Errorf("%s: NOT RUN without the fix, or it ran: %+v", r.Platform, r)
		}
	}
	var report strings.Builder
	Report(&report, results)
	if !strings.Contains(report.String(), "NOT RUN") || !strings.Contains(report.String(), "a publishing release refuses") {
		t.Errorf("the report does not say NOT RUN loudly:\n%s", report.String())
	}
}

// Where user namespaces are not allowed (Ubuntu's AppArmor restriction), a binary cannot get a
// root of its own: NOT RUN, with the fix. The test runs itself again in a user namespace whose
// limit of nested user namespaces is 0.
func TestBinariesNotRunWithoutUserNamespaces(t *testing.T) {
	const env = "RUNPROOF_TEST_DIST"
	if dist := os.Getenv(env); dist != "" {
		results, err := Checker{}.Binaries(context.Background(), dist, []platform.Platform{platform.Host()}, stamp.Version)
		if err != nil || len(results) != 1 || !strings.Contains(results[0].NotRun, "unprivileged user namespaces") ||
			!strings.Contains(results[0].NotRun, "kernel.apparmor_restrict_unprivileged_userns=0") {
			t.Errorf("without user namespaces: %+v, %v", results, err)
		}
		return
	}
	dist := realDist(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) not installed")
	}
	script := `echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" -test.run='^TestBinariesNotRunWithoutUserNamespaces$' -test.v`
	cmd := exec.Command("unshare", "--user", "--map-root-user", "sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), env+"="+dist)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestBinariesNotRunWithoutUserNamespaces") {
		t.Errorf("%v\n%s", err, out)
	}
}

// The seeds' failure: another architecture's bytes under this machine's name.
func TestBinariesFailOnTheWrongArchitecture(t *testing.T) {
	host := platform.Host()
	dist := t.TempDir()
	bin := place(t, dist, host.DirName(), builtBinary(t, foreign()))
	results, err := Checker{}.Binaries(context.Background(), dist, []platform.Platform{host}, stamp.Version)
	if err == nil {
		t.Fatalf("a %s binary passed as %s: %+v", foreign(), host, results)
	}
	// With QEMU the kernel runs it emulated and it says what it is; without, it cannot start.
	want := "it runs as " + foreign().OS + "/" + foreign().Arch + ", want " + host.String()
	if _, notRun := How(DefaultBinfmt, foreign()); notRun != "" {
		want = "exec format error"
	}
	if !strings.Contains(err.Error(), bin) || !strings.Contains(err.Error(), want) || results[0].Err == nil {
		t.Errorf("error = %v, want it to name %s and %q", err, bin, want)
	}
}

// A file that is no executable of any kind cannot start at all.
func TestBinariesFailOnANonExecutable(t *testing.T) {
	linuxOnly(t)
	host := platform.Host()
	dist := t.TempDir()
	text := filepath.Join(t.TempDir(), "text")
	if err := os.WriteFile(text, []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := place(t, dist, host.DirName(), text)
	_, err := Checker{}.Binaries(context.Background(), dist, []platform.Platform{host}, stamp.Version)
	if err == nil || !strings.Contains(err.Error(), bin) || !strings.Contains(err.Error(), "cannot start (exec format error)") {
		t.Errorf("error = %v", err)
	}
}

// A binary built with cgo starts on this machine, which has a loader and libc, but not in the
// root of a FROM scratch image: the check runs it with nothing but its own directory.
func TestBinariesFailWhenDynamicallyLinked(t *testing.T) {
	linuxOnly(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed: cannot build the cgo fixture (CI installs build-essential)")
	}
	host := platform.Host()
	dist := t.TempDir()
	bin := filepath.Join(dist, host.DirName(), project.Name)
	if err := (run.Cmd{Env: []string{"CGO_ENABLED=1"}}).Run(context.Background(), "go", "build", "-o", bin, "./testdata/cgo"); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(bin).Run(); err != nil {
		t.Fatalf("the cgo fixture does not run on this machine: %v", err)
	}
	_, err := Checker{}.Binaries(context.Background(), dist, []platform.Platform{host}, stamp.Version)
	for _, want := range []string{bin, "no such file or directory", "needs a program loader", "CGO_ENABLED=0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("cgo binary: error = %v, want it to contain %q", err, want)
		}
	}
}

func TestBinariesFailOnAnotherVersion(t *testing.T) {
	_, err := Checker{}.Binaries(context.Background(), realDist(t), []platform.Platform{platform.Host()}, "v1.0.0")
	if err == nil || !strings.Contains(err.Error(), "it reports version "+stamp.Version+", want v1.0.0") {
		t.Errorf("error = %v", err)
	}
}

func TestBinariesFailOnAnotherARMVariant(t *testing.T) {
	v7 := builtBinary(t, armv7)
	if err := checkVariant(v7, platform.Platform{OS: "linux", Arch: "arm", Variant: "v6"}); err == nil || !strings.Contains(err.Error(), "no GOARM=6") {
		t.Errorf("an arm/v7 binary checked as arm/v6: %v", err)
	}
	if err := checkVariant(v7, armv7); err != nil {
		t.Error(err)
	}
}

func TestBinariesStopWhenInterrupted(t *testing.T) {
	dist := realDist(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	results, err := Checker{}.Binaries(ctx, dist, linux, stamp.Version)
	if !errors.Is(err, context.Canceled) || AnyNotRun(results) {
		t.Errorf("interrupted: %+v, %v", results, err)
	}
}

func TestBinariesFindTheReleaseLayout(t *testing.T) {
	host := platform.Host()
	dist := t.TempDir()
	bin := place(t, dist, host.DirName()+"_v1", builtBinary(t, host)) // goreleaser's slipway_linux_amd64_v1
	results, err := Checker{}.Binaries(context.Background(), dist, []platform.Platform{host}, stamp.Version)
	if err != nil || len(results) != 1 || results[0].Artifact != bin {
		t.Errorf("release layout: %+v, %v", results, err)
	}
}

func TestBinariesFailWhenMissing(t *testing.T) {
	dist := t.TempDir()
	_, err := Checker{}.Binaries(context.Background(), dist, []platform.Platform{arm64}, stamp.Version)
	if err == nil || !strings.Contains(err.Error(), "no linux/arm64 binary in "+dist) || !strings.Contains(err.Error(), "mage build:all") {
		t.Errorf("error = %v", err)
	}
	if _, err := (Checker{}).Binaries(context.Background(), dist, []platform.Platform{{OS: "darwin", Arch: "arm64"}}, stamp.Version); err == nil {
		t.Error("no Linux platform to run, and no error")
	}
	if _, err := (Checker{}).Binaries(context.Background(), dist, linux, ""); err == nil {
		t.Error("no version to expect, and no error")
	}
}
