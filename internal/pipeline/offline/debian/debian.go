// Package debian fetches Debian packages of any architecture for their files, without
// installing them and without touching the machine's apt or dpkg: apt runs as the current user
// against a state directory of the project's own (its own package lists, cache, no lock, an
// empty dpkg status), reading only the machine's configured sources. Nothing needs root.
package debian

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// Package is a fetched, unpacked package.
type Package struct {
	Name, Arch, Version string
	Root                string // the unpacked files: Root/bin/busybox, ...
}

// Fetch downloads pkg for each of arches (amd64, arm64, ...) into cache and unpacks it there.
// A package already unpacked is reused as it is, so a second run needs no network; refresh
// asks apt again (new package lists, and a newer version if there is one).
func Fetch(ctx context.Context, out io.Writer, cache, pkg string, refresh bool, arches ...string) ([]Package, error) {
	if err := requireApt(); err != nil {
		return nil, err
	}
	var pkgs []Package
	for _, a := range arches {
		p := Package{Name: pkg, Arch: a, Root: filepath.Join(cache, pkg+"_"+a)}
		if v, err := os.ReadFile(filepath.Join(p.Root, ".version")); err == nil && !refresh {
			p.Version = string(v)
			pkgs = append(pkgs, p)
			continue
		}
		apt := newApt(filepath.Join(cache, "apt-"+a), a)
		if err := apt.update(ctx, out); err != nil {
			return nil, err
		}
		v, err := apt.candidate(ctx, pkg)
		if err != nil {
			return nil, err
		}
		p.Version = v
		if err := p.fetch(ctx, out, cache, apt); err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// apt is apt-get and apt-cache for one architecture, with every file they write under dir.
type apt struct {
	dir, arch string
}

func newApt(dir, arch string) apt { return apt{dir: dir, arch: arch} }

// options point apt at dir and arch alone; the machine's sources.list is read, nothing written.
func (a apt) options() []string {
	opts := a.sources()
	opts = append(opts,
		"-o", "Dir::State="+filepath.Join(a.dir, "state"),
		"-o", "Dir::Cache="+filepath.Join(a.dir, "cache"),
		"-o", "Dir::State::status=/dev/null",
		"-o", "Debug::NoLocking=1",
		"-o", "APT::Architecture="+a.arch,
		"-o", "APT::Architectures::="+a.arch,
	)
	if os.Geteuid() == 0 {
		// As root apt drops to _apt for downloads, which cannot write into a root-owned
		// directory; as anyone else it downloads as that user anyway.
		opts = append(opts, "-o", "APT::Sandbox::User=root")
	}
	return opts
}

// sources: Debian serves every architecture from the mirrors the machine already uses. Ubuntu
// serves only amd64 and i386 from its archive, the others from ports.ubuntu.com (a GitHub-hosted
// runner is Ubuntu): there, a sources file of the project's own names the ports archive.
func (a apt) sources() []string {
	osr, _ := os.ReadFile("/etc/os-release")
	line := ubuntuPorts(string(osr), a.arch)
	if line == "" {
		return nil
	}
	list := filepath.Join(a.dir, "sources.list")
	if err := os.MkdirAll(a.dir, 0o755); err != nil || os.WriteFile(list, []byte(line+"\n"), 0o644) != nil {
		return nil // apt then reads the machine's sources and says what it cannot fetch
	}
	return []string{"-o", "Dir::Etc::SourceList=" + list, "-o", "Dir::Etc::SourceParts=" + filepath.Join(a.dir, "no-parts")}
}

// ubuntuPorts is the sources line for arch on an Ubuntu machine described by osRelease, or ""
// where the machine's own sources serve arch.
func ubuntuPorts(osRelease, arch string) string {
	var id, codename string
	for _, l := range strings.Split(osRelease, "\n") {
		if v, ok := strings.CutPrefix(l, "ID="); ok {
			id = strings.Trim(v, `"`)
		}
		if v, ok := strings.CutPrefix(l, "VERSION_CODENAME="); ok {
			codename = strings.Trim(v, `"`)
		}
	}
	if id != "ubuntu" || codename == "" || arch == "amd64" || arch == "i386" {
		return ""
	}
	return "deb [arch=" + arch + " signed-by=/usr/share/keyrings/ubuntu-archive-keyring.gpg] http://ports.ubuntu.com/ubuntu-ports " +
		codename + " main universe"
}

func (a apt) update(ctx context.Context, out io.Writer) error {
	for _, d := range []string{"state/lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a.dir, d), 0o755); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "reading Debian's package lists for %s (apt-get update, into %s)\n", a.arch, a.dir)
	args := append(a.options(), "update", "-qq")
	if err := (run.Cmd{Env: []string{"DEBIAN_FRONTEND=noninteractive"}}).Run(ctx, "apt-get", args...); err != nil {
		return fmt.Errorf("fetching Debian's %s package lists: %w", a.arch, err)
	}
	return nil
}

// candidate is the version of pkg apt would download now.
func (a apt) candidate(ctx context.Context, pkg string) (string, error) {
	args := append(a.options(), "show", "--no-all-versions", pkg)
	show, err := run.Output(ctx, "apt-cache", args...)
	if err != nil {
		return "", fmt.Errorf("apt does not know %s for %s: %w", pkg, a.arch, err)
	}
	v := versionsByArch(show)[a.arch]
	if v == "" {
		return "", fmt.Errorf("apt-cache show printed no %s version of %s", a.arch, pkg)
	}
	return v, nil
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

func (p Package) fetch(ctx context.Context, out io.Writer, cache string, a apt) error {
	spec := p.Name + ":" + p.Arch
	stamp := filepath.Join(p.Root, ".version")
	if b, err := os.ReadFile(stamp); err == nil && string(b) == p.Version {
		return nil
	}
	dl, err := os.MkdirTemp(cache, ".download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dl)
	fmt.Fprintf(out, "fetching Debian package %s %s\n", spec, p.Version)
	args := append(a.options(), "download", spec+"="+p.Version)
	if err := (run.Cmd{Dir: dl}).Run(ctx, "apt-get", args...); err != nil {
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

// requireApt names what is missing on a machine without Debian's tools.
func requireApt() error {
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return errors.New("Debian's " + tool + " is not on this machine: the offline stand-ins take busybox from Debian's packages; " +
				"on another system use a registry mirror instead (SLIPWAY_IMAGE_MIRROR) of SLIPWAY_OFFLINE=1")
		}
	}
	return nil
}
