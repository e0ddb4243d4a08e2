// Package release runs `mage release`: goreleaser (.goreleaser.yaml) for archives, checksums,
// SBOMs, signatures and multi-platform images, then image SBOM attestations, the scan gate and
// a verification of the result, and a summary of what was made and how to check it.
//
// A release publishes only on an exact tag with a clean tree, SLIPWAY_REGISTRY and a signing
// identity (Decide). Anything else is a local release that still runs every stage: images go to
// the project's loopback registry, signatures use the project-local key, nothing leaves the
// machine. SKIP=stage,... skips stages of a local release on request, and the summary says so.
package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/runproof"
	"github.com/slipway-dev/slipway/internal/pipeline/setup"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// Options are the settings of one release.
type Options struct {
	Root     string
	Out      io.Writer // progress and the summary
	Skip     Skips
	Settings settings.Settings // the run's, read once by the caller
}

// flow is one release: its stages share what they read and make through it.
type flow struct {
	o        Options
	c        *stage.Context
	snapshot bool // release:snapshot: archives only, version suffixed "-snapshot"
	in       inputs
	plan     Plan
	infra    imageInfra
	signer   sign.Signer   // the local key's: what a local release signs with
	verifier sign.Verifier // what the release is verified against
	b        built
	bt       buildTimes
	vuln     quality.VulnResult
	checked  Checked
	sections []section // goreleaser's timed pipes, shown in the summary in its place

	pub         *publishing // nil: a local release
	stagingRepo string      // the publishing release's repository in the loopback registry
}

func newFlow(o Options) *flow {
	f := &flow{o: o, c: stage.New(o.Root, o.Out, o.Settings)}
	if o.Skip.Has("scan") {
		f.b.noVEX = "govulncheck did not run (SKIP=scan)"
		f.b.notScanned = errors.New("the scan was skipped (SKIP=scan)")
	}
	return f
}

// Run makes a release and returns its stages with their times, as the summary prints them
// (the bench reads them). When it fails after goreleaser started, the partial dist/ is moved to
// .slipway/failed-release/, so dist/ never holds a release that looks complete but is not.
func Run(ctx context.Context, o Options) ([]stage.Result, error) {
	f := newFlow(o)
	// Seconds of checks before minutes of tool builds; then the tools, a one-off cost; the
	// decision between publishing and a local release names the stages that follow.
	results, err := f.run(ctx, f.head())
	if err != nil {
		return results, err
	}
	if f.plan.Publish {
		return f.publish(ctx, results)
	}
	more, err := f.run(ctx, f.local())
	results = append(results, more...)
	if err == nil {
		f.summary(results).Write(o.Out)
	}
	return results, err
}

// run runs stages, shows goreleaser's timed pipes in its place, and sets dist/ aside when a
// stage failed after goreleaser started writing it.
func (f *flow) run(ctx context.Context, stages []stage.Stage) ([]stage.Result, error) {
	rs, err := stage.Run(ctx, f.c, stages)
	var out []stage.Result
	touched := false
	for _, r := range rs {
		if r.Name != stage.Goreleaser || r.Status == stage.Skipped {
			out = append(out, r)
			continue
		}
		touched = true
		for _, s := range f.sections {
			out = append(out, stage.Result{Name: stage.Goreleaser + ": " + s.name, Status: stage.OK, Duration: s.d})
		}
		if r.Status == stage.Failed {
			out = append(out, r)
		}
	}
	if err != nil && touched {
		setAsideOnFailure(f.o.Root, f.c.Dist, &err)
	}
	return out, err
}

// setAsideOnFailure moves dist/ to .slipway/failed-release/ when the release failed after
// goreleaser started writing it. Before that, dist/ still holds whatever was there (say, the
// last good release) and is left alone, so the caller calls it only then.
func setAsideOnFailure(root, dist string, err *error) {
	if *err == nil {
		return
	}
	if _, statErr := os.Stat(dist); statErr != nil {
		return
	}
	failed := filepath.Join(project.StateDir(root), "failed-release")
	if rmErr := os.RemoveAll(failed); rmErr != nil {
		*err = errors.Join(*err, rmErr)
		return
	}
	if mkErr := os.MkdirAll(project.StateDir(root), 0o755); mkErr != nil {
		*err = errors.Join(*err, mkErr)
		return
	}
	if mvErr := os.Rename(dist, failed); mvErr != nil {
		*err = errors.Join(*err, fmt.Errorf("could not move the partial %s aside: %w; delete it before using it", dist, mvErr))
		return
	}
	*err = fmt.Errorf("%w\n(the partial output was moved to %s for inspection)", *err, failed)
}

// skippedBy is the skip decision of a stage that any of the SKIP names leaves out.
func (f *flow) skippedBy(names ...string) func(*stage.Context) (string, bool) {
	return func(*stage.Context) (string, bool) {
		for _, n := range names {
			if f.o.Skip.Has(n) {
				return "SKIP=" + n, true
			}
		}
		return "", false
	}
}

// head is what every release runs first: the checks, the tools and the decision.
func (f *flow) head() []stage.Stage {
	return []stage.Stage{
		{Name: stage.Preflight, Run: func(ctx context.Context, _ *stage.Context) (string, error) { return "", Preflight(ctx, f.o) }},
		setup.Tools(Needs...),
		{Name: stage.Prepare, Run: f.prepareRelease},
	}
}

func (f *flow) prepareRelease(ctx context.Context, c *stage.Context) (string, error) {
	var err error
	if f.in, err = prepare(ctx, c); err != nil {
		return "", err
	}
	if f.plan, err = Decide(f.in.state, f.o.Skip); err != nil {
		return "", err
	}
	if f.plan.Publish {
		fmt.Fprintf(c.Out, "publishing %s to %s (signing: %s)\n", f.in.version, f.in.state.Registry, f.plan.Identity)
	} else {
		fmt.Fprintf(c.Out, "local release of %s: %s\n", f.in.version, strings.Join(f.plan.Local, "; "))
	}
	for _, s := range f.o.Skip {
		fmt.Fprintf(c.Out, "SKIP=%s: %s will not run\n", s, stageWhat(s))
	}
	return "", nil
}

// local is every stage on this machine: images to the loopback registry, the local key.
func (f *flow) local() []stage.Stage {
	key := sign.LocalKey(f.o.Root)
	f.signer = sign.Signer{Cosign: f.in.cosign, Key: key.Private}
	f.verifier = sign.Verifier{Cosign: f.in.cosign, Key: key.Public}
	if !f.o.Skip.Has("sign") {
		f.b.signer = &f.signer
	}
	list := []stage.Stage{{Name: stage.SigningKey, Skip: f.skippedBy("sign"), Run: func(ctx context.Context, _ *stage.Context) (string, error) {
		created, err := key.Ensure(ctx, f.in.cosign)
		if created || err != nil {
			return "generated " + key.Private, err
		}
		// Preflight could not open a key made before cosign was built; now it can.
		return "", key.CheckPassword(ctx, f.in.cosign)
	}}}
	list = append(list, f.imageInfra()...)
	list = append(list, f.build()...)
	return append(list, f.contents(stage.Contents), f.verify(stage.Verify))
}

// built is what the build's stages decided for the contents and the gate: what signs, and why
// there is no VEX document or scan. The files they made (image SBOMs, provenance, VEX) are
// the run's Artifacts.
type built struct {
	noVEX      string       // why there is no VEX document
	notScanned error        // why the vulnerability scan did not run; nil when it did
	signer     *sign.Signer // what signed the checksums, images and attestations; nil: unsigned
}

// unsignedWhy is why the build's signer is nil.
func (f *flow) unsignedWhy() string {
	if f.o.Skip.Has("sign") {
		return "SKIP=sign"
	}
	return "signed after the scan gate"
}

// build is goreleaser's run and what follows it up to the scan gate: everything a release is,
// short of publishing. A local release signs as it goes; a publishing one signs after the gate.
func (f *flow) build() []stage.Stage {
	var list []stage.Stage
	// Parts of goreleaser's run it is told to leave out.
	if f.b.signer == nil {
		list = append(list, stage.Skipping(stage.Signatures, f.unsignedWhy()))
	}
	if f.o.Skip.Has("sbom") {
		list = append(list, stage.Skipping(stage.SBOMs, "SKIP=sbom"))
	}
	list = append(list, stage.Stage{Name: stage.Goreleaser, Run: f.goreleaser})
	if f.pub == nil {
		list = append(list, f.imageSignatures())
	}
	return append(list,
		stage.Stage{Name: stage.ImageSBOMs, Skip: f.skippedBy("images", "sbom"), Run: f.imageSBOMs},
		stage.Stage{Name: stage.RunProof, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			return runProof(ctx, f.o, c.Dist, f.in, !f.o.Skip.Has("images"), f.pub != nil)
		}},
		stage.Stage{Name: stage.Provenance, Run: f.provenance},
		stage.Stage{Name: stage.Govulncheck, Skip: f.skippedBy("scan"), Run: func(ctx context.Context, _ *stage.Context) (string, error) {
			var note string
			var err error
			f.vuln, note, err = govulncheck(ctx, f.o, f.in)
			return note, err
		}},
		stage.Stage{Name: stage.VEX, Skip: f.skippedBy("scan"), Run: f.vexDocument},
		stage.Stage{Name: stage.Scan, Skip: f.skippedBy("scan"), Run: f.scan},
	)
}

func (f *flow) goreleaser(ctx context.Context, c *stage.Context) (string, error) {
	args := []string{"release", "--clean", "--skip=validate,announce"}
	if f.snapshot {
		args = []string{"release", "--snapshot", "--clean", "--skip=ko,sign,announce,publish,validate"}
		return "", f.runGoreleaser(ctx, c, f.in.goreleaserEnv(false), args)
	}
	if f.b.signer == nil {
		args = append(args, "--skip=sign")
	}
	if f.o.Skip.Has("sbom") {
		args = append(args, "--skip=sbom")
	}
	if f.o.Skip.Has("images") {
		args = append(args, "--skip=ko")
	}
	env := append(append([]string(nil), f.infra.env...), f.signer.Env()...)
	env = append(env, f.in.goreleaserEnv(f.pub != nil)...)
	f.bt.started = time.Now()
	if err := f.runGoreleaser(ctx, c, env, args); err != nil {
		return "", err
	}
	f.bt.finished = time.Now()
	return "", nil
}

// imageSignatures signs every pushed image index by digest (a tag can move; the digest cannot).
func (f *flow) imageSignatures() stage.Stage {
	return stage.Stage{Name: stage.ImageSignatures, Skip: f.skippedBy("images", "sign"), Run: func(ctx context.Context, c *stage.Context) (string, error) {
		recs, err := ReadImages(c.Dist)
		if err != nil {
			return "", err
		}
		for _, r := range recs {
			if err := f.b.signer.SignImage(ctx, r.Repo+"@"+r.Digest); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%d index signed", len(recs)), nil
	}}
}

func (f *flow) imageSBOMs(ctx context.Context, c *stage.Context) (string, error) {
	files, err := ImageSBOMs(ctx, c.Dist, project.Name, f.in.version, f.in.trivy, f.in.crane, f.b.signer)
	for _, file := range files {
		c.Add(stage.Artifact{Name: file.Name, Path: filepath.Join(c.Dist, file.Name), Kind: artifact.KindImageSBOM})
	}
	if f.b.signer == nil {
		return "written, NOT attested (" + f.unsignedWhy() + ")", err
	}
	return fmt.Sprintf("%d written and attested", len(files)), err
}

func (f *flow) provenance(ctx context.Context, c *stage.Context) (string, error) {
	name, err := writeProvenance(ctx, c.Dist, f.in, baseImage(f.infra), f.bt)
	if err != nil {
		return "", err
	}
	c.Add(stage.Artifact{Name: name, Path: filepath.Join(c.Dist, name), Kind: artifact.KindProvenance})
	if f.b.signer == nil {
		return name + " written, NOT signed (" + f.unsignedWhy() + ")", nil
	}
	n, err := attestProvenance(ctx, c.Dist, f.in.version, f.in.crane, *f.b.signer)
	return fmt.Sprintf("%s signed; %d image attestations", name, n), err
}

func (f *flow) vexDocument(ctx context.Context, c *stage.Context) (string, error) {
	if !f.vuln.Ran {
		f.b.noVEX = "govulncheck did not run: " + f.vuln.NotRun
		return "", stage.CannotRun(f.b.noVEX)
	}
	withImages := !f.o.Skip.Has("images")
	name, err := writeVEX(ctx, c.Dist, f.in, f.vuln, withImages, f.pub != nil)
	if err != nil {
		return "", err
	}
	c.Add(stage.Artifact{Name: name, Path: filepath.Join(c.Dist, name), Kind: artifact.KindVEX})
	switch {
	case !withImages:
		return name + " written (no images to attest)", nil
	case f.b.signer == nil:
		return name + " written, NOT attested (" + f.unsignedWhy() + ")", nil
	}
	n, err := attestVEX(ctx, c.Dist, f.in.version, f.in.crane, *f.b.signer)
	return fmt.Sprintf("%s written; %d image attestations", name, n), err
}

func (f *flow) scan(ctx context.Context, c *stage.Context) (string, error) {
	note, notScanned, err := scanGate(ctx, f.o, c.Dist, f.in, c.Artifacts.Name(artifact.KindVEX), f.vuln)
	f.b.notScanned = notScanned
	if err == nil && f.pub != nil && notScanned != nil {
		return note, fmt.Errorf("refusing to publish %s: %w", f.in.version, notScanned)
	}
	return note, err
}

// baseImage is the base image the images were built on, pinned by digest; "" without images.
func baseImage(infra imageInfra) string {
	for _, kv := range infra.env {
		if ref, ok := strings.CutPrefix(kv, "SLIPWAY_BASE_IMAGE="); ok {
			return ref
		}
	}
	return ""
}

// runProof runs every Linux binary in dist/ and every platform image of the index on its own
// architecture (natively, or emulated through binfmt_misc and QEMU), as runproof does for
// `mage verify:run`. Where emulation is missing that artifact is NOT RUN: loud in a local
// release, a refusal in a publishing one.
func runProof(ctx context.Context, o Options, dist string, in inputs, withImages, publish bool) (string, error) {
	ps, err := platform.ParseList(strings.Join(in.platforms, ","))
	if err != nil {
		return "", err
	}
	c := runproof.Checker{Crane: in.crane}
	res, err := c.Binaries(ctx, dist, ps, in.tag)
	if withImages {
		recs, rerr := ReadImages(dist)
		if rerr != nil {
			return "", rerr
		}
		var refs []string
		for _, r := range recs {
			refs = append(refs, r.Repo+"@"+r.Digest)
		}
		imgs, ierr := c.Images(ctx, refs, in.tag)
		res, err = append(res, imgs...), errors.Join(err, ierr)
	}
	runproof.Report(o.Out, res)
	if err != nil {
		return "", err
	}
	if runproof.AnyNotRun(res) {
		if publish {
			return "", errors.New("refusing to publish: some Linux artifacts were NOT RUN (above): " + runproof.Fix)
		}
		fmt.Fprintln(o.Out, "!! some Linux artifacts were NOT RUN (above): a publishing release would refuse. "+runproof.Fix)
		return fmt.Sprintf("%d of %d NOT RUN", countNotRun(res), len(res)), nil
	}
	return fmt.Sprintf("%d artifacts ran", len(res)), nil
}

func countNotRun(res []runproof.Result) int {
	n := 0
	for _, r := range res {
		if r.NotRun != "" {
			n++
		}
	}
	return n
}

// version is the version the release's files carry.
func (f *flow) version() string {
	if f.snapshot {
		return f.in.version + "-snapshot"
	}
	return f.in.version
}

// contents records the release's contents (dist/release.json), signed with the build's signer.
func (f *flow) contents(name string) stage.Stage {
	return stage.Stage{Name: name, Run: func(ctx context.Context, c *stage.Context) (string, error) {
		note, err := recordContents(ctx, c.Dist, f.version(), f.in.crane, f.snapshot || f.o.Skip.Has("images"), f.b, c.Artifacts)
		if err != nil {
			return "", err
		}
		// What the summary lists when the release is not verified (SKIP=verify).
		f.checked, err = inventory(c.Dist)
		return note, err
	}}
}

// verify verifies the release against its contents as a user would.
func (f *flow) verify(name string) stage.Stage {
	return stage.Stage{Name: name, Skip: f.skippedBy("verify"), Run: func(ctx context.Context, c *stage.Context) (string, error) {
		var err error
		f.checked, err = Verify(ctx, c.Settings, c.Dist, f.verifier, f.in.crane, f.b.signer != nil)
		if f.snapshot {
			return "checksums and SBOMs", err
		}
		return strings.Join(f.checked.Notes, "; "), err
	}}
}

// summary is what the release prints once every stage passed.
func (f *flow) summary(results []stage.Result) Summary {
	s := Summary{
		Version: f.version(), Plan: f.plan, Stages: results, Checked: f.checked,
		Root: f.o.Root, Dist: f.c.Dist, Extra: contentsFiles(f.c.Dist), Verifier: f.verifier, Unsigned: f.b.signer == nil,
	}
	if f.snapshot {
		s.Plan = Plan{Local: []string{"a snapshot is never published"}}
	}
	return s
}

// recordContents writes dist/release.json, signed with the build's signer, and says what it lists.
func recordContents(ctx context.Context, dist, version, crane string, archivesOnly bool, b built, made stage.Artifacts) (string, error) {
	c, err := contentsOf(ctx, dist, version, crane, archivesOnly, b, made)
	if err != nil {
		return "", err
	}
	if err := writeContents(ctx, dist, c, b.signer); err != nil {
		return "", err
	}
	note := fmt.Sprintf("%d files, %d image(s), %d attestation(s)", len(c.Files), len(c.Images), len(c.Attestations))
	if archivesOnly {
		note += ", archives only"
	}
	if b.signer == nil {
		return note + ", NOT signed", nil
	}
	return note + ", signed", nil
}

// contentsFiles are release.json and its bundle, for the summary (they cannot list themselves).
func contentsFiles(dist string) []artifact.File {
	var fs []artifact.File
	for _, name := range []string{artifact.ContentsFile, artifact.ContentsFile + artifact.BundleSuffix} {
		if f, err := fileDigest(filepath.Join(dist, name)); err == nil {
			f.Name = name
			fs = append(fs, f)
		}
	}
	return fs
}

func stageWhat(name string) string {
	for _, s := range Stages {
		if s.Name == name {
			return s.What
		}
	}
	return name
}

// Snapshot is `mage release:snapshot`, the pull-request check: goreleaser's archives, checksums
// and SBOMs for every platform, checked like a release, with no images, no signatures and
// nothing published. Archive names carry "-snapshot".
func Snapshot(ctx context.Context, o Options) error {
	f := newFlow(o)
	results, err := f.run(ctx, f.snapshotStages())
	if err == nil {
		f.summary(results).Write(o.Out)
	}
	return err
}

func (f *flow) snapshotStages() []stage.Stage {
	f.snapshot = true
	f.b = built{noVEX: "a snapshot runs no vulnerability check"}
	return []stage.Stage{
		{Name: stage.Prepare, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			var err error
			f.in, err = prepare(ctx, c)
			f.verifier, _ = VerifierFrom(f.o.Settings, f.o.Root, f.in.cosign)
			return "", err
		}},
		{Name: stage.Goreleaser, Run: f.goreleaser},
		stage.Skipping(stage.ImagesAndSignatures, "a snapshot has none"),
		f.contents(stage.Contents),
		f.verify(stage.Verify),
	}
}
