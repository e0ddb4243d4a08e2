//go:build mage

// Slipway's build-to-deploy pipeline. This file is the menu: each target is a doc comment
// (what `mage -l` prints) and a few lines that call a tested package under internal/pipeline.
// Run targets with `go run mage.go <target>`, `go tool mage <target>` or an installed `mage`.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/magefile/mage/mg"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/inspect"
	"github.com/slipway-dev/slipway/internal/pipeline/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/tools"
	"github.com/slipway-dev/slipway/internal/pipeline/version"
)

// `mage build` names a namespace as well as a single target; Go cannot have a func and a type
// of one name, so it is an alias.
var Aliases = map[string]any{
	"build": Build.Host,
}

// ---- build (internal/pipeline/{platform,version,gobuild,inspect}) ----

// Build compiles static, stripped, version-stamped binaries into dist/slipway_<os>_<arch>/.
type Build mg.Namespace

// Default is `mage build` with no target: the host binary.
var Default = Build.Host

// Host builds the binary for this machine (also `mage build`, the default target). Nothing is
// compiled when no input (Go files, embedded files, go.mod/go.sum, version, flags) changed.
func (Build) Host(ctx context.Context) error {
	o, err := gobuild.Project(ctx, []platform.Platform{platform.Host()})
	if err != nil {
		return err
	}
	_, err = gobuild.Build(ctx, o)
	return err
}

// All builds every platform in parallel, then runs verify:static. PLATFORMS=linux/amd64,linux/arm64
// narrows the matrix (default: linux amd64/arm64/arm/v7, darwin amd64/arm64, windows amd64/arm64).
func (Build) All(ctx context.Context) error {
	o, err := gobuild.Project(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := gobuild.Build(ctx, o); err != nil {
		return err
	}
	return Verify{}.Static(ctx)
}

// Verify checks built artifacts.
type Verify mg.Namespace

// Static checks every binary in dist/ (PLATFORMS honored): right OS/arch, no dynamic loader or
// libraries, stripped, built with CGO_ENABLED=0 and -trimpath.
func (Verify) Static(ctx context.Context) error {
	o, err := gobuild.Project(ctx, nil)
	if err != nil {
		return err
	}
	if err := inspect.Dist(o.Dist, o.Platforms); err != nil {
		return err
	}
	fmt.Printf("verify:static: %d binaries static, stripped, CGO_ENABLED=0, -trimpath\n", len(o.Platforms))
	return nil
}

// Repro builds a copy of the checkout twice (two directories, the second with an empty GOCACHE)
// and compares the SHA-256 of every binary (PLATFORMS honored). Slow: the second build starts
// from nothing.
func (Verify) Repro(ctx context.Context) error {
	o, err := gobuild.Project(ctx, nil)
	if err != nil {
		return err
	}
	return gobuild.Repro(ctx, o)
}

// Clean removes dist/ (or $SLIPWAY_DIST). Pinned tools in .slipway/ stay.
func Clean() error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	fmt.Println("removing", project.DistDir(root))
	return os.RemoveAll(project.DistDir(root))
}

// Version prints the version stamp the next build will link in.
func Version(ctx context.Context) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	s, err := version.Describe(ctx, root)
	if err != nil {
		return err
	}
	fmt.Printf("version %s\ncommit  %s\ndate    %s\n", s.Version, s.Commit, s.Date)
	return nil
}

// ---- quality: test, lint, vuln (internal/pipeline/quality) ----

// Test runs every test of every module with the race detector, including the Docker-backed
// end-to-end tests (test/e2e), and prints coverage per package (profile: coverage.out).
// E2E=0 leaves the end-to-end tests out; `go test ./...` is the quick loop without Docker.
func Test(ctx context.Context) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	return quality.Test(ctx, root, quality.E2E(), os.Stdout)
}

// Lint runs gofmt, go vet and the pinned golangci-lint (config: .golangci.yml) on every module.
func Lint(ctx context.Context) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	bin, err := tools.Path(ctx, root, "golangci-lint")
	if err != nil {
		return err
	}
	return quality.Lint(ctx, root, bin, os.Stdout)
}

// Vuln runs the pinned govulncheck and fails only on vulnerable code the service calls.
// SLIPWAY_VULNDB=file:///path (or a directory) names a local copy of the Go vulnerability
// database; with SLIPWAY_OFFLINE=1 and none, the check reports NOT RUN instead of failing.
func Vuln(ctx context.Context) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	bin, err := tools.Path(ctx, root, "govulncheck")
	if err != nil {
		return err
	}
	res, err := quality.Vuln(ctx, bin, root, project.Offline())
	if err != nil {
		return err
	}
	res.Report(os.Stdout)
	return res.Err()
}

// ---- tools ----

// Setup installs every pinned tool (tools/<name>/go.mod) into .slipway/tools and reports each one.
func Setup(ctx context.Context) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	for _, t := range tools.All {
		v, err := t.Version(root)
		if err != nil {
			return err
		}
		_, had, err := t.Installed(root)
		if err != nil {
			return err
		}
		p, err := t.Path(ctx, root)
		if err != nil {
			return err
		}
		state := "installed"
		if had {
			state = "found"
		}
		fmt.Printf("%-14s %-10s %-9s %s\n", t.Name, v, state, p)
	}
	return nil
}
