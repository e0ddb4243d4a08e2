package runproof

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
)

// Checker runs artifacts on this machine.
type Checker struct {
	// Binfmt is the binfmt_misc directory that says which architectures are emulated;
	// DefaultBinfmt when empty. Tests point it at an empty directory to see NOT RUN.
	Binfmt string
	// Crane is the pinned crane binary, which reads image indexes from their registry.
	Crane string
	// ReadyTimeout bounds an image's wait for /readyz; DefaultReadyTimeout when zero.
	ReadyTimeout time.Duration
}

// DefaultReadyTimeout leaves room for an emulated start on a slow, busy machine: QEMU makes the
// service's start about ten times slower than native, which still takes about a second.
const DefaultReadyTimeout = time.Minute

// versionTimeout bounds one `version` run; it takes milliseconds natively, a second emulated.
const versionTimeout = time.Minute

func (c Checker) binfmt() string {
	if c.Binfmt == "" {
		return DefaultBinfmt
	}
	return c.Binfmt
}

// Binaries runs `version` of the binary of every Linux platform of ps in dist/, in the layout of
// build:all (dist/slipway_linux_arm64/) or of a release (dist/slipway_linux_arm64_v8.0/; where
// both are there, both run). Each must report its platform and wantVersion. Other operating
// systems' binaries are left to verify:static. The error names every binary that failed or is
// missing; a binary this machine cannot run is NOT RUN in its Result, not an error.
func (c Checker) Binaries(ctx context.Context, dist string, ps []platform.Platform, wantVersion string) ([]Result, error) {
	if wantVersion == "" {
		return nil, errors.New("runproof: no version to expect from the binaries")
	}
	var results []Result
	var errs []error
	sandbox := ownRootErr(ctx) // why binaries cannot have a root of their own here
	for _, p := range ps {
		if p.OS != "linux" {
			continue
		}
		paths, err := find(dist, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, path := range paths {
			if ctx.Err() != nil { // interrupted: what did not run yet is neither failed nor NOT RUN
				return results, errors.Join(append(errs, ctx.Err())...)
			}
			r := c.binary(ctx, path, p, wantVersion, sandbox)
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): %w", path, p, r.Err))
			}
			results = append(results, r)
		}
	}
	if len(results) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("runproof: no Linux platform among %v: nothing to run", ps)
	}
	return results, errors.Join(errs...)
}

// find returns p's binaries in dist: build:all's directory and goreleaser's, which adds the
// GOAMD64 or GOARM64 level (slipway_linux_amd64_v1, slipway_linux_arm64_v8.0).
func find(dist string, p platform.Platform) ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(dist, p.DirName()+"_v*"))
	if err != nil {
		return nil, err
	}
	var found []string
	for _, dir := range append([]string{filepath.Join(dist, p.DirName())}, dirs...) {
		bin := filepath.Join(dir, p.BinaryName())
		if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() {
			found = append(found, bin)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no %s binary in %s (looked for %s and %s): run `mage build:all` or `mage release` first",
			p, dist, filepath.Join(p.DirName(), p.BinaryName()), filepath.Join(p.DirName()+"_v*", p.BinaryName()))
	}
	return found, nil
}

func (c Checker) binary(ctx context.Context, path string, p platform.Platform, wantVersion string, sandbox error) Result {
	r := Result{Kind: "binary", Artifact: path, Platform: p}
	if r.Handler, r.NotRun = How(c.binfmt(), p); r.NotRun != "" {
		return r
	}
	if sandbox != nil {
		r.NotRun = fmt.Sprintf("this machine cannot give a program a root directory of its own (%v): it needs unprivileged user "+
			"namespaces; on Ubuntu 23.10 and later allow them with `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` "+
			"(machine preparation), or run the check as root", sandbox)
		return r
	}
	r.Output, r.Time, r.Err = runInOwnRoot(ctx, path, "version")
	if r.Err != nil {
		return r
	}
	r.Err = checkVersion(r.Output, p, wantVersion)
	if r.Err == nil && p.Variant != "" {
		r.Err = checkVariant(path, p)
	}
	return r
}

// runInOwnRoot runs bin with its own directory (dist/<platform>/, which holds nothing else it
// could use) as its root directory, as sandboxID with no environment: no loader, no libc, as in
// a FROM scratch image. A user namespace makes that possible without privileges; an emulated
// binary still runs, because its handler has the F flag (How).
func runInOwnRoot(ctx context.Context, bin string, args ...string) (string, time.Duration, error) {
	// A symbolic link would point outside the new root.
	bin, err := filepath.EvalSymlinks(bin)
	if err == nil {
		bin, err = filepath.Abs(bin)
	}
	if err != nil {
		return "", 0, err
	}
	limited, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := ownRootCmd(limited, filepath.Dir(bin), "/"+filepath.Base(bin), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	text := strings.TrimSpace(out.String())
	var exit *exec.ExitError
	switch {
	case err == nil:
		return text, took, nil
	case ctx.Err() != nil:
		return text, took, fmt.Errorf("interrupted: %w", ctx.Err())
	case limited.Err() != nil:
		return text, took, fmt.Errorf("`%s` did not finish within %s", strings.Join(args, " "), versionTimeout)
	case errors.Is(err, syscall.ENOENT):
		// The file itself is there, so what the kernel did not find is the program loader it
		// names (PT_INTERP): the binary is dynamically linked.
		return text, took, fmt.Errorf("cannot start (%w): it needs a program loader, which neither its root here nor a "+
			"FROM scratch or distroless/static image has; build it static with CGO_ENABLED=0 (verify:static names the loader)", syscall.ENOENT)
	case errors.Is(err, syscall.ENOEXEC):
		return text, took, fmt.Errorf("cannot start (%w): not an executable for this machine (built for another architecture?)", syscall.ENOEXEC)
	case errors.As(err, &exit):
		return text, took, fmt.Errorf("`%s` failed (%w): %s", strings.Join(args, " "), err, text)
	}
	return text, took, fmt.Errorf("cannot start: %w", err)
}

// ownRootErr says why this machine cannot give a program a root directory of its own, nil when
// it can: a program that is not there must fail with "no such file or directory", not EPERM.
func ownRootErr(ctx context.Context) error {
	root, err := os.MkdirTemp("", "slipway-runproof-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	err = ownRootCmd(ctx, root, "/absent").Run()
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err == nil {
		return errors.New("a program that does not exist ran")
	}
	return err
}

// versionRE reads `slipway version` (internal/buildinfo.Info.String): name, version, platform.
var versionRE = regexp.MustCompile(`^(\S+) (\S+) \(commit \S+, commit date \S+, \S+, (\S+)\)$`)

// checkVersion checks a `version` line against the platform and version it must report.
func checkVersion(out string, p platform.Platform, wantVersion string) error {
	line, _, _ := strings.Cut(out, "\n")
	m := versionRE.FindStringSubmatch(line)
	if m == nil || m[1] != project.Name {
		return fmt.Errorf("`version` printed %q, not `%s <version> (commit ..., <os>/<arch>)`", out, project.Name)
	}
	if want := p.OS + "/" + p.Arch; m[3] != want {
		return fmt.Errorf("it runs as %s, want %s: the file is built for another platform", m[3], want)
	}
	if m[2] != wantVersion {
		return fmt.Errorf("it reports version %s, want %s: a stale build? rebuild it", m[2], wantVersion)
	}
	return nil
}

// checkVariant checks GOARM, which `version` does not print, in the binary's build info.
func checkVariant(path string, p platform.Platform) error {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading its build info for GOARM: %w", err)
	}
	want := strings.TrimPrefix(p.Variant, "v")
	for _, s := range bi.Settings {
		if s.Key == "GOARM" && s.Value == want {
			return nil
		}
	}
	return fmt.Errorf("its build info has no GOARM=%s: it is not built for %s", want, p)
}
