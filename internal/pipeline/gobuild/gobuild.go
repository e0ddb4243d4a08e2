// Package gobuild compiles the service for a matrix of platforms into dist/.
//
// One definition of how a binary is built (LDFlags, GoFlags, Env) serves both `mage build:all`
// and goreleaser, which reads them from the environment (ReleaseEnv, .goreleaser.yaml).
package gobuild

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/buildinfo"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

// GoFlags are the `go build` flags of every binary: no absolute paths and no VCS stamp
// (the version comes from the ldflags), so the output depends on the sources only.
const GoFlags = "-trimpath -buildvcs=false"

// DefaultMain is the service's main package.
const DefaultMain = "./cmd/slipway"

// LDFlags strips symbols and DWARF (-s -w), empties the build ID so identical inputs give
// identical bytes, and stamps internal/buildinfo. The order is fixed: it is part of the
// inputs hash and of reproducibility.
func LDFlags(s version.Stamp) (string, error) {
	for _, v := range []string{s.Version, s.Commit, s.Date} {
		// The go command splits -ldflags on spaces; a stamp must be one field.
		if v == "" || strings.ContainsAny(v, " \t\n'\"") {
			return "", fmt.Errorf("version stamp %+v: every field must be non-empty and free of spaces and quotes", s)
		}
	}
	return strings.Join([]string{
		"-s", "-w", "-buildid=",
		"-X", buildinfo.VersionVar + "=" + s.Version,
		"-X", buildinfo.CommitVar + "=" + s.Commit,
		"-X", buildinfo.DateVar + "=" + s.Date,
	}, " "), nil
}

// Args is the `go build` command line (without "go") that writes main's binary for one platform to out.
func Args(ldflags, out, main string) []string {
	return append(append([]string{"build"}, strings.Fields(GoFlags)...), "-ldflags", ldflags, "-o", out, main)
}

// Env is the toolchain environment for p. GOFLAGS is cleared on purpose: a developer's (or
// this machine's) GOFLAGS would otherwise change the binary without changing the inputs hash.
// For the same reason the go env file is out of play (GOENV=off, see Toolchain).
func Env(p platform.Platform) []string {
	return slices.Concat([]string{"CGO_ENABLED=0", "GOFLAGS="}, Toolchain(), p.Env())
}

// ReleaseEnv passes the same settings to goreleaser, whose .goreleaser.yaml reads
// {{ .Env.SLIPWAY_LDFLAGS }}, SLIPWAY_GOFLAGS and SLIPWAY_CGO_ENABLED; the go commands it runs
// inherit Toolchain().
func ReleaseEnv(s version.Stamp) ([]string, error) {
	ld, err := LDFlags(s)
	if err != nil {
		return nil, err
	}
	return append([]string{"SLIPWAY_LDFLAGS=" + ld, "SLIPWAY_GOFLAGS=" + GoFlags, "SLIPWAY_CGO_ENABLED=0"}, Toolchain()...), nil
}

// Toolchain is the environment every go command of a build runs with. The go env file
// (`go env -w`) is out of play: GOFLAGS, GOEXPERIMENT or GOAMD64 set there change the binary
// (and an empty GOFLAGS= does not override them), yet the environment the inputs hash sees
// stays the same, and the Dockerfile's builder has no such file. Only the settings that say
// where modules and the toolchain come from (fetchKeys) carry over from it, unless the
// environment sets them itself.
func Toolchain() []string {
	env := []string{"GOENV=off"}
	file := os.Getenv("GOENV")
	if file == "off" {
		return env
	}
	if file == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return env
		}
		file = filepath.Join(dir, "go", "env")
	}
	data, _ := os.ReadFile(file) // none is the usual case
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && slices.Contains(fetchKeys, k) && os.Getenv(k) == "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// fetchKeys are go env settings that decide where modules, checksums, caches and the toolchain
// come from, never what a build makes of them: go.sum pins every module, and the inputs hash
// records `go version`, run with the same GOTOOLCHAIN. They are left out of the inputs hash
// (a GOPROXY may hold credentials).
var fetchKeys = []string{"GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GOSUMDB", "GOINSECURE", "GOAUTH",
	"GOVCS", "GOPATH", "GOMODCACHE", "GOCACHE", "GOCACHEPROG", "GOTOOLCHAIN"}
