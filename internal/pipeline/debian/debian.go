// Package debian takes what the pipeline needs from Debian's packages: it installs missing
// packages on the build machine (CI starts from a fresh one) and fetches packages of other
// architectures without installing them, for their files.
package debian

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/run"
)

var aptEnv = []string{"DEBIAN_FRONTEND=noninteractive"}

// Installed reports whether pkg is installed on this machine.
func Installed(ctx context.Context, pkg string) bool {
	out, err := run.Output(ctx, "dpkg-query", "-W", "-f=${Status}", pkg)
	return err == nil && strings.HasSuffix(out, " installed")
}

// Install installs the packages that are missing; why says what needs them. It needs root and
// apt-get; anywhere else the error says what to install.
func Install(ctx context.Context, out io.Writer, why string, pkgs ...string) error {
	var missing []string
	for _, p := range pkgs {
		if !Installed(ctx, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	list := strings.Join(missing, " ")
	if err := canApt(); err != nil {
		return fmt.Errorf("%s needs the Debian packages %s: %w; install them with `apt-get install %s`", why, list, err, list)
	}
	fmt.Fprintf(out, "installing %s for %s: apt-get install %s\n", list, why, list)
	if err := (run.Cmd{Env: aptEnv}).Run(ctx, "apt-get", "update", "-qq"); err != nil {
		return fmt.Errorf("installing %s: %w", list, err)
	}
	args := append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)
	if err := (run.Cmd{Env: aptEnv}).Run(ctx, "apt-get", args...); err != nil {
		return fmt.Errorf("installing %s: %w", list, err)
	}
	return nil
}

// Package is a fetched, unpacked package.
type Package struct {
	Name, Arch, Version string
	Root                string // the unpacked files: Root/bin/busybox, ...
}

// Fetch downloads pkg for each of arches (amd64, arm64, ...) into cache and unpacks it there,
// without installing it. A package already unpacked at the version apt would download now is
// reused, so a second run needs no network. For a foreign architecture, apt must know it: as
// root, Fetch adds it (`dpkg --add-architecture`, `apt-get update`).
func Fetch(ctx context.Context, out io.Writer, cache, pkg string, arches ...string) ([]Package, error) {
	if pkgs, ok := unpacked(cache, pkg, arches); ok {
		return pkgs, nil
	}
	// One apt-cache call for all: each one rebuilds apt's cache, 10 s and more on some machines.
	versions, err := candidates(ctx, pkg, arches)
	if err != nil {
		if err := addArches(ctx, out, arches); err != nil {
			return nil, err
		}
		if versions, err = candidates(ctx, pkg, arches); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	var pkgs []Package
	for _, a := range arches {
		p := Package{Name: pkg, Arch: a, Version: versions[a], Root: filepath.Join(cache, pkg+"_"+a)}
		if err := p.fetch(ctx, out, cache); err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// versionsByArch reads `apt-cache show` stanzas: architecture -> version.
func versionsByArch(show string) map[string]string {
	versions := map[string]string{}
	for _, stanza := range strings.Split(show, "\n\n") {
		var arch, version string
		for _, line := range strings.Split(stanza, "\n") {
			if v, ok := strings.CutPrefix(line, "Version: "); ok {
				version = strings.TrimSpace(v)
			}
			if a, ok := strings.CutPrefix(line, "Architecture: "); ok {
				arch = strings.TrimSpace(a)
			}
		}
		if arch != "" && version != "" {
			versions[arch] = version
		}
	}
	return versions
}

// listsDir holds apt's package lists; `apt-get update` changes it.
const listsDir = "/var/lib/apt/lists"

// unpacked returns the packages already in cache when apt's lists have not been updated since
// they were fetched: apt could not offer a newer version, so it need not be asked.
func unpacked(cache, pkg string, arches []string) ([]Package, bool) {
	lists, err := os.Stat(listsDir)
	if err != nil {
		return nil, false
	}
	var pkgs []Package
	for _, a := range arches {
		p := Package{Name: pkg, Arch: a, Root: filepath.Join(cache, pkg+"_"+a)}
		stamp := filepath.Join(p.Root, ".version")
		st, err := os.Stat(stamp)
		b, rerr := os.ReadFile(stamp)
		if err != nil || rerr != nil || !st.ModTime().After(lists.ModTime()) {
			return nil, false
		}
		p.Version = string(b)
		pkgs = append(pkgs, p)
	}
	return pkgs, true
}

func (p Package) fetch(ctx context.Context, out io.Writer, cache string) error {
	spec := p.Name + ":" + p.Arch
	stamp := filepath.Join(p.Root, ".version")
	if b, err := os.ReadFile(stamp); err == nil && string(b) == p.Version {
		now := time.Now()
		return os.Chtimes(stamp, now, now) // checked against apt's lists as of now
	}
	dl, err := os.MkdirTemp(cache, ".download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dl)
	fmt.Fprintf(out, "fetching Debian package %s %s\n", spec, p.Version)
	// _apt cannot write into a root-only directory; as root the download is unsandboxed anyway.
	if err := (run.Cmd{Dir: dl}).Run(ctx, "apt-get", "download", "-o", "APT::Sandbox::User=root", spec+"="+p.Version); err != nil {
		return fmt.Errorf("downloading %s: %w", spec, err)
	}
	debs, _ := filepath.Glob(filepath.Join(dl, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("downloading %s: expected one .deb, found %d", spec, len(debs))
	}
	// Unpack next to the target and rename, so an interrupted fetch never looks complete.
	tmp := filepath.Join(dl, "root")
	if err := run.Run(ctx, "dpkg-deb", "-x", debs[0], tmp); err != nil {
		return fmt.Errorf("unpacking %s: %w", spec, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".version"), []byte(p.Version), 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(p.Root); err != nil {
		return err
	}
	return os.Rename(tmp, p.Root)
}

// candidates are the versions apt would download of pkg per architecture, from its local
// package lists.
func candidates(ctx context.Context, pkg string, arches []string) (map[string]string, error) {
	args := []string{"show", "--no-all-versions"}
	for _, a := range arches {
		args = append(args, pkg+":"+a)
	}
	out, err := run.Output(ctx, "apt-cache", args...)
	if err != nil {
		return nil, fmt.Errorf("apt does not know %s for %v: %w", pkg, arches, err)
	}
	versions := versionsByArch(out)
	for _, a := range arches {
		if versions[a] == "" {
			return nil, fmt.Errorf("apt-cache show printed no %s version of %s", a, pkg)
		}
	}
	return versions, nil
}

// addArches makes apt list the packages of arches, adding foreign ones to dpkg, then updates
// its lists (which may just be out of date).
func addArches(ctx context.Context, out io.Writer, arches []string) error {
	if err := canApt(); err != nil {
		return fmt.Errorf("apt does not list the packages needed for %v: %w; run `dpkg --add-architecture <arch> && apt-get update`", arches, err)
	}
	native, err := run.Output(ctx, "dpkg", "--print-architecture")
	if err != nil {
		return fmt.Errorf("dpkg not found: Debian packages are needed and this is not a Debian machine: %w", err)
	}
	foreign, _ := run.Output(ctx, "dpkg", "--print-foreign-architectures")
	known := append(strings.Fields(foreign), native)
	for _, a := range arches {
		if !slices.Contains(known, a) {
			fmt.Fprintf(out, "adding the %s architecture to apt: dpkg --add-architecture %s\n", a, a)
			if err := run.Run(ctx, "dpkg", "--add-architecture", a); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(out, "updating apt's package lists: apt-get update")
	return (run.Cmd{Env: aptEnv}).Run(ctx, "apt-get", "update", "-qq")
}

func canApt() error {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return errors.New("apt-get not found")
	}
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	return nil
}
