// Package platform names the operating system/architecture pairs Slipway builds for.
//
// A platform is written like Docker and the OCI spec write it: os/arch[/variant], e.g.
// linux/arm/v7. The same value names the dist/ directory, the Go toolchain environment and
// the Docker build context path, so each of those is derived here and nowhere else.
package platform

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// Platform is one build target.
type Platform struct {
	OS      string // GOOS
	Arch    string // GOARCH
	Variant string // "v6"/"v7" for arm (GOARM); empty elsewhere
}

// Default is the matrix `mage build:all` builds when PLATFORMS is not set.
var Default = []Platform{
	{OS: "linux", Arch: "amd64"},
	{OS: "linux", Arch: "arm64"},
	{OS: "linux", Arch: "arm", Variant: "v7"},
	{OS: "darwin", Arch: "amd64"},
	{OS: "darwin", Arch: "arm64"},
	{OS: "windows", Arch: "amd64"},
	{OS: "windows", Arch: "arm64"},
}

// EnvVar narrows the matrix: PLATFORMS=linux/amd64,linux/arm64.
const EnvVar = "PLATFORMS"

// supported lists what inspect can verify and the toolchain can build without cgo. Keeping it
// small turns a typo ("linux/amd46") into an error instead of a confusing compiler failure.
var supported = map[string][]string{
	"linux":   {"amd64", "arm64", "arm", "386", "riscv64", "ppc64le", "s390x"},
	"darwin":  {"amd64", "arm64"},
	"windows": {"amd64", "arm64", "386"},
}

// armVariants are the GOARM values Go accepts.
var armVariants = []string{"v5", "v6", "v7"}

// Parse reads "os/arch" or "os/arch/variant".
func Parse(s string) (Platform, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
		return Platform{}, fmt.Errorf("platform %q: want os/arch or os/arch/variant, e.g. linux/amd64 or linux/arm/v7", s)
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	arches, ok := supported[p.OS]
	if !ok {
		return Platform{}, fmt.Errorf("platform %q: unknown OS %q (supported: %s)", s, p.OS, strings.Join(sortedKeys(), ", "))
	}
	if !slices.Contains(arches, p.Arch) {
		return Platform{}, fmt.Errorf("platform %q: unsupported architecture %q for %s (supported: %s)", s, p.Arch, p.OS, strings.Join(arches, ", "))
	}
	switch {
	case p.Arch == "arm" && p.Variant == "":
		// An implicit GOARM would make the binary depend on the toolchain's default.
		return Platform{}, fmt.Errorf("platform %q: arm needs a variant: %s/arm/v7 (or v6, v5)", s, p.OS)
	case p.Arch == "arm" && !slices.Contains(armVariants, p.Variant):
		return Platform{}, fmt.Errorf("platform %q: unknown arm variant %q (want v5, v6 or v7)", s, p.Variant)
	case p.Arch != "arm" && p.Variant != "":
		return Platform{}, fmt.Errorf("platform %q: only arm takes a variant; use %s/%s", s, p.OS, p.Arch)
	}
	return p, nil
}

// ParseList reads a comma-separated list, rejecting duplicates and empty lists.
func ParseList(s string) ([]Platform, error) {
	var out []Platform
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		p, err := Parse(f)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("platform %s is listed twice", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no platforms listed: want e.g. linux/amd64,linux/arm64")
	}
	return out, nil
}

// From returns the platforms named by $PLATFORMS in s, whose default is Default.
func From(s settings.Settings) ([]Platform, error) {
	ps, err := ParseList(s.Platforms)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvVar, err)
	}
	return ps, nil
}

// Host is the platform this process runs on. On arm it assumes v7, the variant Default builds.
func Host() Platform {
	p := Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	if p.Arch == "arm" {
		p.Variant = "v7"
	}
	return p
}

// String is the os/arch[/variant] form Parse reads.
func (p Platform) String() string {
	if p.Variant != "" {
		return p.OS + "/" + p.Arch + "/" + p.Variant
	}
	return p.OS + "/" + p.Arch
}

// DirName is the directory under dist/: slipway_linux_amd64, slipway_linux_arm_7. It is
// goreleaser's layout, so the release and the Dockerfiles find binaries in the same place.
func (p Platform) DirName() string {
	name := project.Name + "_" + p.OS + "_" + p.Arch
	if p.Variant != "" {
		name += "_" + strings.TrimPrefix(p.Variant, "v")
	}
	return name
}

// BinaryName is the executable's file name on p.
func (p Platform) BinaryName() string {
	if p.OS == "windows" {
		return project.Name + ".exe"
	}
	return project.Name
}

// Env is the Go toolchain environment that targets p.
func (p Platform) Env() []string {
	env := []string{"GOOS=" + p.OS, "GOARCH=" + p.Arch}
	if p.Arch == "arm" {
		env = append(env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	return env
}

func sortedKeys() []string {
	keys := make([]string, 0, len(supported))
	for k := range supported {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
