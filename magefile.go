//go:build mage

// Slipway: build, test, release and run this service. Start with `go run mage.go release`
// (a signed, scanned local release in dist/) and `go run mage.go test`; `mage -h <target>` says
// more about one target. Every target installs what it needs on first use, inside the checkout.
package main

// This file is the menu: each target is a doc comment (what `mage -l` prints) and a few lines
// that call a tested package under internal/pipeline.

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/magefile/mage/mg"

	"github.com/slipway-dev/slipway/internal/pipeline/bench"
	"github.com/slipway-dev/slipway/internal/pipeline/deploy"
	"github.com/slipway-dev/slipway/internal/pipeline/devimage"
	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/initproject"
	"github.com/slipway-dev/slipway/internal/pipeline/inspect"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/lock"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/standin"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/release"
	"github.com/slipway-dev/slipway/internal/pipeline/runproof"
	"github.com/slipway-dev/slipway/internal/pipeline/scan"
	"github.com/slipway-dev/slipway/internal/pipeline/setup"
)

// root is the checkout every target works in, found once per run; cfg its settings, read once.
var (
	root string
	cfg  settings.Settings
)

// newRun is the context of one run of a target's stages: the checkout, the settings, stdout.
func newRun() *stage.Context { return stage.New(root, os.Stdout, cfg) }

// SIGTERM (a CI cancel, `timeout`, `kill`) stops a target the way Ctrl-C does: its context is
// cancelled and what it started is stopped, instead of the magefile dying with children left.
// The checkout and the settings are read once, before any target: a value that does not parse
// stops the run at once, naming the variable, and a SLIPWAY_ variable nothing reads (a typo) is
// named.
func init() {
	run.Interruptible()
	var err error
	if root, err = project.Root(); err == nil {
		err = checkSettings()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mage: %v\n", err)
		os.Exit(2)
	}
	for _, u := range settings.UnknownEnv(os.Environ()) {
		fmt.Fprintf(os.Stderr, "mage: warning: %s\n", u)
	}
}

// checkSettings loads the settings, and parses up front the lists that only their own packages
// can read, so that a typo in one fails every target before it starts, not the one that uses it.
func checkSettings() error {
	var err error
	cfg, err = settings.Init()
	_, skip := release.ParseSkip(cfg.Skip)
	_, severity := scan.ParseSeverities(cfg.ScanSeverity)
	_, platforms := platform.ParseList(cfg.Platforms)
	_, cases := bench.ParseCases(cfg.Bench)
	_, reps := bench.ParseReps(cfg.BenchReps)
	if platforms != nil {
		platforms = fmt.Errorf("%s: %w", platform.EnvVar, platforms)
	}
	return errors.Join(err, skip, severity, platforms, cases, reps)
}

// `mage build`, `mage verify` and `mage release` name namespaces as well as single targets;
// Go cannot have a func and a type of one name, so those three are aliases.
var Aliases = map[string]any{
	"build":   Build.Host,
	"release": Release.Full,
	"verify":  Verify.Release,
}

// ---- build and verify:static/repro/run (internal/pipeline/{gobuild,inspect,runproof}) ----

// Build compiles static, stripped, version-stamped binaries into dist/slipway_<os>_<arch>/.
type Build mg.Namespace

// Default is `mage build` with no target: the host binary.
var Default = Build.Host

// Host builds the binary for this machine (also `mage build`, the default target). Nothing is
// compiled when no input (Go files, embedded files, go.mod/go.sum, version, flags) changed.
func (Build) Host(ctx context.Context) error {
	defer lock.Hold(ctx, "build:host")()
	o, err := gobuild.For(ctx, newRun(), []platform.Platform{platform.Host()})
	if err != nil {
		return err
	}
	_, err = gobuild.Build(ctx, o)
	return err
}

// All builds every platform in parallel, then runs verify:static. PLATFORMS=linux/amd64,linux/arm64
// narrows the matrix (default: linux amd64/arm64/arm/v7, darwin amd64/arm64, windows amd64/arm64).
func (Build) All(ctx context.Context) error {
	defer lock.Hold(ctx, "build:all")()
	o, err := gobuild.For(ctx, newRun(), nil)
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
// libraries, stripped, built with CGO_ENABLED=0 and -trimpath, stamped with this checkout's
// version, commit and date (`mage version`).
func (Verify) Static(ctx context.Context) error {
	o, err := gobuild.For(ctx, newRun(), nil)
	if err != nil {
		return err
	}
	if err := inspect.Dist(o.Dist, o.Platforms, o.Stamp); err != nil {
		return err
	}
	fmt.Printf("verify:static: %d binaries static, stripped, CGO_ENABLED=0, -trimpath, stamped %s\n", len(o.Platforms), o.Stamp.Version)
	return nil
}

// Repro builds a copy of the checkout twice (two directories, the second with an empty GOCACHE)
// and compares the SHA-256 of every binary (PLATFORMS honored). Slow: the second build starts
// from nothing.
func (Verify) Repro(ctx context.Context) error {
	defer lock.Hold(ctx, "verify:repro")()
	o, err := gobuild.For(ctx, newRun(), nil)
	if err != nil {
		return err
	}
	return gobuild.Repro(ctx, o)
}

// Run runs every Linux artifact on its own architecture, natively or emulated through binfmt_misc
// and QEMU, to prove it starts where it is deployed. Each binary in dist/ (PLATFORMS honored)
// runs `version` with nothing but its own directory as its root and must report its platform and
// this checkout's version. Each platform image of the image deploy:render deploys (DEPLOY_IMAGE,
// or the last release's) runs hardened as docker:run runs it: it must answer /readyz and
// healthcheck and exit 0 on SIGTERM. What this machine cannot emulate is NOT RUN, with the fix.
func (Verify) Run(ctx context.Context) error {
	return runproof.Verify(ctx, newRun())
}

// Clean removes dist/ (or $SLIPWAY_DIST) and stops this checkout's loopback registry. Pinned
// tools and the registry's images in .slipway/ stay.
func Clean(ctx context.Context) error {
	defer lock.Hold(ctx, "clean")()
	if err := registry.StopProject(project.StateDir(root), os.Stdout); err != nil {
		return err
	}
	dist := project.DistDir(root, cfg)
	fmt.Println("removing", dist)
	return os.RemoveAll(dist)
}

// Version prints the version stamp the next build will link in.
func Version(ctx context.Context) error {
	s, err := newRun().Stamp(ctx)
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
	// The end-to-end tests drive the pinned tools: build what is missing first, one at a time
	// with progress, rather than from parallel test packages at once.
	e2e := cfg.E2E
	if e2e {
		if _, err := tools.Ensure(ctx, root, os.Stdout, tools.Names()...); err != nil {
			return err
		}
	}
	return quality.Test(ctx, root, e2e, os.Stdout)
}

// Lint runs gofmt, go vet and the pinned golangci-lint (config: .golangci.yml) on every module.
func Lint(ctx context.Context) error {
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
	bin, err := tools.Path(ctx, root, "govulncheck")
	if err != nil {
		return err
	}
	res, err := quality.Vuln(ctx, root, bin, cfg)
	if err != nil {
		return err
	}
	res.Report(os.Stdout)
	return res.Err()
}

// ---- setup (internal/pipeline/setup) ----

// Setup installs every pinned tool (tools/<name>/go.mod) into .slipway/tools, the buildx Docker
// CLI plugin, and with SLIPWAY_OFFLINE=1 fresh stand-ins for the upstream base images. No target
// needs it first: each installs what it uses on first use. It is for preparing a machine ahead.
func Setup(ctx context.Context) error {
	defer lock.Hold(ctx, "setup")()
	return setup.Run(ctx, newRun())
}

// ---- registry, docker (internal/pipeline/{devimage,image,offline/registry}) ----

// Registry is the project's loopback registry (.slipway/registry), which the first target that
// needs it starts and later runs reuse.
type Registry mg.Namespace

// Stop stops this checkout's loopback registry, never another checkout's; its images stay.
func (Registry) Stop(ctx context.Context) error {
	defer lock.Hold(ctx, "registry:stop")()
	return registry.StopProject(project.StateDir(root), os.Stdout)
}

// Docker builds and runs the service's images locally. SLIPWAY_IMAGE_MIRROR=host/prefix takes
// base images from a mirror; SLIPWAY_OFFLINE=1 from the stand-ins `mage setup` made.
type Docker mg.Namespace

// Build builds slipway:dev, the image releases ship, from the mage-built binary. It uses
// Dockerfile.distroless for this machine's Linux architecture, also tags slipway:<version> and
// prints the image size per layer.
func (Docker) Build(ctx context.Context) error {
	defer lock.Hold(ctx, "docker:build")()
	_, err := devimage.Build(ctx, newRun())
	return err
}

// Source builds slipway:dev-alpine from source with the multi-stage Dockerfile (Go builder,
// Alpine runtime), version-stamped, and prints its size per layer.
func (Docker) Source(ctx context.Context) error {
	defer lock.Hold(ctx, "docker:source")()
	_, err := devimage.Source(ctx, newRun())
	return err
}

// Run runs slipway:dev hardened on 127.0.0.1:8080 and streams its logs until Ctrl-C. It
// rebuilds the image first if anything changed, runs it read-only, non-root and without
// capabilities, waits for /readyz and prints the URL; Ctrl-C stops and removes it. PORT=...
// picks the port, DETACH=1 leaves it running (docker:stop stops it).
func (Docker) Run(ctx context.Context) error {
	o := image.DevOptionsFrom(cfg, os.Stdout)
	mg.CtxDeps(ctx, Docker.Build)
	return image.RunDev(ctx, o)
}

// Stop stops a detached docker:run gracefully and removes it.
func (Docker) Stop(ctx context.Context) error {
	return image.StopDev(ctx, os.Stdout)
}

// ---- release and verify (internal/pipeline/{sign,release}) ----

// Release holds the release targets: `mage release` (alias of release:full), release:snapshot
// and release:check.
type Release mg.Namespace

// Full makes a release; `mage release` is its alias. With an exact tag, a clean tree,
// SLIPWAY_REGISTRY and a signing identity (COSIGN_KEY with VERIFY_KEY, or keyless OIDC in CI)
// it publishes: built once, signed after the scan, verified, then promoted (images by digest,
// tags last; the GitHub release a draft until made public last, with GITHUB_TOKEN). Otherwise it is a local release that still runs every stage: archives, checksums, SBOMs,
// signatures with .slipway/cosign.key (password: COSIGN_PASSWORD), multi-platform images in the
// loopback registry, SLSA provenance, the VEX document, the scan, a verification and a summary. SKIP=images,sbom,sign,scan,verify
// skips stages of a local release, and the summary says so.
func (Release) Full(ctx context.Context) error {
	defer lock.Hold(ctx, "release:full")()
	skip, err := release.ParseSkip(cfg.Skip)
	if err != nil {
		return err
	}
	_, err = release.Run(ctx, release.Options{Root: root, Out: os.Stdout, Skip: skip, Settings: cfg})
	return err
}

// Snapshot builds the archives, checksums and SBOMs of every platform, fast, for pull-request
// checks: no images, no signatures, nothing published.
func (Release) Snapshot(ctx context.Context) error {
	defer lock.Hold(ctx, "release:snapshot")()
	return release.Snapshot(ctx, release.Options{Root: root, Out: os.Stdout, Settings: cfg})
}

// Check runs `goreleaser check` (deprecations fail it), checks .goreleaser.yaml against
// build:all and that every tool the release needs is installed.
func (Release) Check(ctx context.Context) error {
	defer lock.Hold(ctx, "release:check")()
	return release.Check(ctx, newRun())
}

// Release verifies the release in dist/ (alias: `mage verify`) against its signed list of
// contents, dist/release.json: every file it lists, checksums.txt line for line and its
// signature, an SBOM and SLSA provenance for every archive, and in their registries every image
// it lists, its tags, platforms, signature, SBOM, provenance and VEX attestations; no images
// only if the list says so. It fails naming each artifact that does not verify. It trusts
// .slipway/cosign.pub, or VERIFY_KEY (a public key or KMS URI), or for a downloaded keyless
// release VERIFY_CERT_IDENTITY and VERIFY_CERT_ISSUER (VERIFY_TRUSTED_ROOT: Sigstore's trusted
// root from a file, with no network); the provenance must name this checkout's repository, its
// HEAD and the signer or local builder, or VERIFY_SOURCE_REPOSITORY, VERIFY_SOURCE_COMMIT and
// VERIFY_BUILDER_ID.
func (Verify) Release(ctx context.Context) error {
	cosign, err := tools.Path(ctx, root, "cosign")
	if err != nil {
		return err
	}
	crane, err := tools.Path(ctx, root, "crane")
	if err != nil {
		return err
	}
	return release.VerifyDist(ctx, cfg, root, cosign, crane, os.Stdout)
}

// ---- scan (internal/pipeline/scan) ----

// Scan is the security gate: Trivy over the source tree (Go module vulnerabilities, secrets,
// licenses), the Dockerfiles and Kubernetes manifests, and slipway:dev (built first), with
// govulncheck's verdict beside it. Fails on HIGH/CRITICAL (SCAN_SEVERITY) and on expired or
// incomplete .trivyignore.yaml entries; SARIF and JSON reports go to dist/scan. Offline without
// a vulnerability database (SLIPWAY_TRIVY_DB, or the mirror's), that part is reported NOT RUN.
func Scan(ctx context.Context) error {
	defer lock.Hold(ctx, "scan")()
	mg.CtxDeps(ctx, Docker.Build)
	o, err := scan.Defaults(ctx, root, cfg)
	if err != nil {
		return err
	}
	o.Images = []string{image.DevTag}
	_, err = scan.Run(ctx, o)
	return err
}

// ---- starter: init, deploy (internal/pipeline/{initproject,deploy}) ----

// Init makes the template your service: `mage init github.com/acme/widget [-name=widget]`.
// It rewrites the module path, names, env prefix (WIDGET_), configs, manifests and workflows,
// refuses a tree with uncommitted changes, prints what it changed and is safe to re-run.
func Init(ctx context.Context, modulePath string, name *string) error {
	n := "" // default: the module path's last element
	if name != nil {
		n = *name
	}
	id, err := initproject.New(modulePath, n)
	if err != nil {
		return err
	}
	return initproject.Run(ctx, root, id, os.Stdout)
}

// Deploy holds the Kubernetes targets (manifests in deploy/kubernetes).
type Deploy mg.Namespace

// Render prints the Kubernetes manifests with the image pinned to the released digest.
// DEPLOY_OVERLAY picks the overlay (default deploy/kubernetes/overlays/example);
// DEPLOY_IMAGE=name@sha256:... overrides the image the last release recorded in dist/release.json.
func (Deploy) Render(ctx context.Context) error {
	return deploy.Print(ctx, newRun())
}

// Image prints the image deploy:render deploys as name=, digest= and ref= lines.
// That is DEPLOY_IMAGE or the last release's image; CI appends the lines to $GITHUB_OUTPUT.
func (Deploy) Image() error {
	img, err := deploy.ChooseImage(cfg, newRun().Dist)
	if err != nil {
		return err
	}
	fmt.Print(deploy.Outputs(img))
	return nil
}

// ---- bench (internal/pipeline/bench) ----

// Bench measures the pipeline and the service against their limits and peers, side by side.
// It runs each case's contenders interleaved and prints median, min–max and ratios with the
// goals of BENCHMARKS.md. BENCH=build,noop,size,rebuild,start,serve,release picks cases
// (default: all); BENCH_REPS repetitions (default 5); BENCH_COLD_PLATFORMS the cold-cache matrix
// (default linux/amd64). A run of every case with 5+ repetitions rewrites the results in
// BENCHMARKS.md (BENCH_WRITE=1 or 0 overrides). About 10 minutes on 2 cores with warm caches;
// the release case needs COSIGN_PASSWORD and replaces dist/.
func Bench(ctx context.Context) error {
	defer lock.Hold(ctx, "bench")()
	if err := standin.Ensure(ctx, newRun(), image.Upstream...); err != nil {
		return err
	}
	o, err := bench.OptionsFrom(root, cfg)
	if err != nil {
		return err
	}
	return bench.Run(ctx, o, os.Stdout)
}
