// Package gobuild compiles the service for a matrix of platforms into dist/.
//
// One definition of how a binary is built (LDFlags, GoFlags, Env) serves both `mage build:all`
// and goreleaser, which reads them from the environment (ReleaseEnv, .goreleaser.yaml).
package gobuild

import (
	"fmt"
	"strings"

	"github.com/slipway-dev/slipway/internal/buildinfo"
	"github.com/slipway-dev/slipway/internal/pipeline/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/version"
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
func Env(p platform.Platform) []string {
	return append([]string{"CGO_ENABLED=0", "GOFLAGS="}, p.Env()...)
}

// ReleaseEnv passes the same settings to goreleaser, whose .goreleaser.yaml reads
// {{ .Env.SLIPWAY_LDFLAGS }}, SLIPWAY_GOFLAGS and SLIPWAY_CGO_ENABLED.
func ReleaseEnv(s version.Stamp) ([]string, error) {
	ld, err := LDFlags(s)
	if err != nil {
		return nil, err
	}
	return []string{"SLIPWAY_LDFLAGS=" + ld, "SLIPWAY_GOFLAGS=" + GoFlags, "SLIPWAY_CGO_ENABLED=0"}, nil
}
