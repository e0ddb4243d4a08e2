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

	"github.com/slipway-dev/slipway/internal/pipeline/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/runproof"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// Options are the settings of one release.
type Options struct {
	Root    string
	Out     io.Writer // progress and the summary
	Skip    Skips
	Offline bool
}

// stages records what ran, how long it took and what was skipped, for the summary.
type stages struct {
	out         io.Writer
	results     []StageResult
	distTouched bool // goreleaser has started writing dist/
}

func (s *stages) run(name string, fn func() (string, error)) error {
	return s.record(name, false, fn)
}

// oneOff runs a stage whose cost falls on the first run only (tools, stand-ins built on first
// use): the summary counts it apart from the release's own time.
func (s *stages) oneOff(name string, fn func() (string, error)) error {
	return s.record(name, true, fn)
}

func (s *stages) record(name string, oneOff bool, fn func() (string, error)) error {
	fmt.Fprintf(s.out, "==> %s\n", name)
	start := time.Now()
	note, err := fn()
	r := StageResult{Name: name, Duration: time.Since(start), Result: "ok", OneOff: oneOff}
	if note != "" {
		r.Result = "ok, " + note
	}
	if err != nil {
		r.Result = "FAILED"
	}
	s.results = append(s.results, r)
	return err
}

// setAsideOnFailure moves dist/ to .slipway/failed-release/ when the release failed after
// goreleaser started writing it. Before that, dist/ still holds whatever was there (say, the
// last good release) and is left alone.
func (s *stages) setAsideOnFailure(root string, err *error) {
	dist := project.DistDir(root)
	if *err == nil || !s.distTouched {
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

func (s *stages) skipped(name, why string) {
	fmt.Fprintf(s.out, "==> %s: SKIPPED (%s)\n", name, why)
	s.results = append(s.results, StageResult{Name: name, Result: "SKIPPED (" + why + ")"})
}

// Run makes a release and returns its stages with their times, as the summary prints them
// (the bench reads them). When it fails after goreleaser started, the partial dist/ is moved to
// .slipway/failed-release/, so dist/ never holds a release that looks complete but is not.
func Run(ctx context.Context, o Options) ([]StageResult, error) {
	st := &stages{out: o.Out}
	err := runStages(ctx, o, st)
	return st.results, err
}

func runStages(ctx context.Context, o Options, st *stages) (err error) {
	defer st.setAsideOnFailure(o.Root, &err)

	// Seconds of checks before minutes of tool builds; then the tools, a one-off cost.
	if err := st.run("preflight", func() (string, error) { return "", Preflight(ctx, o) }); err != nil {
		return err
	}
	if err := st.oneOff("tools", func() (string, error) { return ensureTools(ctx, o) }); err != nil {
		return err
	}
	var in inputs
	var plan Plan
	err = st.run("prepare", func() (string, error) {
		var err error
		in, err = prepare(ctx, o)
		if err != nil {
			return "", err
		}
		plan, err = Decide(in.state, o.Skip)
		return "", err
	})
	if err != nil {
		return err
	}
	if plan.Publish {
		fmt.Fprintf(o.Out, "publishing %s to %s (signing: %s)\n", in.version, in.state.Registry, plan.Identity)
	} else {
		fmt.Fprintf(o.Out, "local release of %s: %s\n", in.version, strings.Join(plan.Local, "; "))
	}
	for _, s := range o.Skip {
		fmt.Fprintf(o.Out, "SKIP=%s: %s will not run\n", s, stageWhat(s))
	}
	if plan.Publish {
		return publish(ctx, o, st, in, plan)
	}
	return local(ctx, o, st, in, plan)
}

// local runs every stage on this machine: images to the loopback registry, the local key.
func local(ctx context.Context, o Options, st *stages, in inputs, plan Plan) error {
	key := sign.LocalKey(o.Root)
	signer := sign.Signer{Cosign: in.cosign, Key: key.Private}
	verifier := sign.Verifier{Cosign: in.cosign, Key: key.Public}
	if !o.Skip.Has("sign") {
		if err := st.run("signing key", func() (string, error) {
			created, err := key.Ensure(ctx, in.cosign)
			if created || err != nil {
				return "generated " + key.Private, err
			}
			// Preflight could not open a key made before cosign was built; now it can.
			return "", key.CheckPassword(ctx, in.cosign)
		}); err != nil {
			return err
		}
	}
	infra, err := startImageInfra(ctx, o, st, in)
	if err != nil {
		return err
	}
	b, err := buildStaged(ctx, o, st, in, infra, stagedBuild{signer: signer, sign: !o.Skip.Has("sign")})
	if err != nil {
		return err
	}
	return finish(ctx, o, st, in, plan, b, verifier, nil)
}

// built is what the goreleaser run and the stages after it made.
type built struct {
	imageSBOMs []artifact.File
	provenance string       // the provenance statement's file name in dist/
	vex        string       // the VEX document's file name in dist/; "" when none was made
	noVEX      string       // why there is no VEX document
	notScanned error        // why the vulnerability scan did not run; nil when it did
	signer     *sign.Signer // what signed the checksums, images and attestations; nil: unsigned
}

type stagedBuild struct {
	signer  sign.Signer
	sign    bool // sign the checksums, images and image SBOMs
	publish bool // the build is about to be published: nothing may be NOT RUN
}

// buildStaged runs goreleaser with images pushed to the loopback registry (infra), then the
// image SBOMs and the scan gate: everything a release is, short of publishing.
func buildStaged(ctx context.Context, o Options, st *stages, in inputs, infra imageInfra, sb stagedBuild) (built, error) {
	var b built
	withImages := !o.Skip.Has("images")
	env := infra.env
	args := []string{"release", "--clean", "--skip=validate,announce"}
	if !sb.sign {
		args = append(args, "--skip=sign")
		st.skipped("signatures", skipWhy(o.Skip, "sign"))
	}
	if o.Skip.Has("sbom") {
		args = append(args, "--skip=sbom")
		st.skipped("SBOMs", o.Skip.String())
	}
	if !withImages {
		args = append(args, "--skip=ko")
	}
	env = append(env, sb.signer.Env()...)
	env = append(env, in.goreleaserEnv(sb.publish)...)
	bt := buildTimes{started: time.Now()}
	if err := runGoreleaser(ctx, st, in, env, args); err != nil {
		return b, err
	}
	bt.finished = time.Now()
	dist := project.DistDir(o.Root)

	var signer *sign.Signer
	if sb.sign {
		signer = &sb.signer
	}
	b.signer = signer
	if withImages && signer != nil {
		if err := signImages(ctx, st, dist, *signer); err != nil {
			return b, err
		}
	}
	if withImages && !o.Skip.Has("sbom") {
		if err := st.run("image SBOMs", func() (string, error) {
			files, err := ImageSBOMs(ctx, dist, project.Name, in.version, in.trivy, in.crane, signer)
			b.imageSBOMs = files
			if signer == nil {
				return "written, NOT attested (" + skipWhy(o.Skip, "sign") + ")", err
			}
			return fmt.Sprintf("%d written and attested", len(files)), err
		}); err != nil {
			return b, err
		}
	}

	if err := st.run("run proof", func() (string, error) { return runProof(ctx, o, in, withImages, sb.publish) }); err != nil {
		return b, err
	}

	if err := st.run("provenance", func() (string, error) {
		var err error
		if b.provenance, err = writeProvenance(ctx, dist, in, baseImage(infra), bt); err != nil {
			return "", err
		}
		if signer == nil {
			return b.provenance + " written, NOT signed (" + skipWhy(o.Skip, "sign") + ")", nil
		}
		n, err := attestProvenance(ctx, dist, in.version, in.crane, *signer)
		return fmt.Sprintf("%s signed; %d image attestations", b.provenance, n), err
	}); err != nil {
		return b, err
	}

	if o.Skip.Has("scan") {
		st.skipped("VEX", o.Skip.String())
		st.skipped("scan", o.Skip.String())
		b.noVEX = "govulncheck did not run (SKIP=scan)"
		b.notScanned = errors.New("the scan was skipped (SKIP=scan)")
		return b, nil
	}
	var vuln quality.VulnResult
	if err := st.run("govulncheck", func() (string, error) {
		var note string
		var err error
		vuln, note, err = govulncheck(ctx, o, in)
		return note, err
	}); err != nil {
		return b, err
	}
	if !vuln.Ran {
		b.noVEX = "govulncheck did not run: " + vuln.NotRun
		st.notRun("VEX", b.noVEX)
	} else if err := st.run("VEX", func() (string, error) {
		var err error
		switch b.vex, err = writeVEX(ctx, dist, in, vuln, withImages, sb.publish); {
		case err != nil:
			return "", err
		case !withImages:
			return b.vex + " written (no images to attest)", nil
		case signer == nil:
			return b.vex + " written, NOT attested (" + skipWhy(o.Skip, "sign") + ")", nil
		}
		n, err := attestVEX(ctx, dist, in.version, in.crane, *signer)
		return fmt.Sprintf("%s written; %d image attestations", b.vex, n), err
	}); err != nil {
		return b, err
	}

	err := st.run("scan", func() (string, error) {
		note, notScanned, err := scanGate(ctx, o, in, b.vex, vuln)
		b.notScanned = notScanned
		return note, err
	})
	return b, err
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
func runProof(ctx context.Context, o Options, in inputs, withImages, publish bool) (string, error) {
	ps, err := platform.ParseList(strings.Join(in.platforms, ","))
	if err != nil {
		return "", err
	}
	c := runproof.Checker{Crane: in.crane}
	res, err := c.Binaries(ctx, project.DistDir(o.Root), ps, in.tag)
	if withImages {
		recs, rerr := ReadImages(project.DistDir(o.Root))
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

// signImages signs every pushed image index by digest (a tag can move; the digest cannot).
func signImages(ctx context.Context, st *stages, dist string, signer sign.Signer) error {
	return st.run("image signatures", func() (string, error) {
		recs, err := ReadImages(dist)
		if err != nil {
			return "", err
		}
		for _, r := range recs {
			if err := signer.SignImage(ctx, r.Repo+"@"+r.Digest); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%d index signed", len(recs)), nil
	})
}

// publishHooks are the public steps of a publishing release, which finish runs in between its
// own: promote once dist/ and the staged images verified; announce once the contents were
// recorded again with the published images and those verified too.
type publishHooks struct {
	promote  func(*Checked) error
	announce func(*Checked) error
}

// finish records and signs the release's contents, verifies the release against them as a user
// would and prints the summary. A publishing release (pub) promotes what verified, records the
// contents again, naming the published images, verifies those and announces; a local one passes
// nil.
func finish(ctx context.Context, o Options, st *stages, in inputs, plan Plan, b built, v sign.Verifier, pub *publishHooks) error {
	dist := project.DistDir(o.Root)
	if err := st.run("contents", func() (string, error) {
		return recordContents(ctx, dist, in.version, in.crane, o.Skip.Has("images"), b)
	}); err != nil {
		return err
	}
	var checked Checked
	if o.Skip.Has("verify") {
		st.skipped("verify", o.Skip.String())
		var err error
		if checked, err = inventory(dist); err != nil {
			return err
		}
	} else if err := st.run("verify", func() (string, error) {
		var err error
		checked, err = Verify(ctx, dist, v, in.crane, !o.Skip.Has("sign"))
		return strings.Join(checked.Notes, "; "), err
	}); err != nil {
		return err
	}
	if pub != nil {
		if err := pub.promote(&checked); err != nil {
			return err
		}
		if err := st.run("contents (published)", func() (string, error) {
			return recordContents(ctx, dist, in.version, in.crane, o.Skip.Has("images"), b)
		}); err != nil {
			return err
		}
		if err := st.run("verify (published)", func() (string, error) {
			var err error
			checked, err = Verify(ctx, dist, v, in.crane, true)
			return strings.Join(checked.Notes, "; "), err
		}); err != nil {
			return err
		}
		if err := pub.announce(&checked); err != nil {
			return err
		}
	}
	Summary{
		Version: in.version, Plan: plan, Stages: st.results, Checked: checked,
		Root: o.Root, Dist: dist, Extra: contentsFiles(dist), Verifier: v, Unsigned: b.signer == nil,
	}.Write(o.Out)
	return nil
}

// recordContents writes dist/release.json, signed with the build's signer, and says what it lists.
func recordContents(ctx context.Context, dist, version, crane string, archivesOnly bool, b built) (string, error) {
	c, err := contentsOf(ctx, dist, version, crane, archivesOnly, b)
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

func skipWhy(s Skips, stage string) string {
	if s.Has(stage) {
		return s.String()
	}
	return "signed after the scan gate"
}

// Snapshot is `mage release:snapshot`, the pull-request check: goreleaser's archives, checksums
// and SBOMs for every platform, checked like a release, with no images, no signatures and
// nothing published. Archive names carry "-snapshot".
func Snapshot(ctx context.Context, o Options) (err error) {
	st := &stages{out: o.Out}
	defer st.setAsideOnFailure(o.Root, &err)
	var in inputs
	if err := st.run("prepare", func() (string, error) {
		var err error
		in, err = prepare(ctx, o)
		return "", err
	}); err != nil {
		return err
	}
	args := []string{"release", "--snapshot", "--clean", "--skip=ko,sign,announce,publish,validate"}
	if err := runGoreleaser(ctx, st, in, in.goreleaserEnv(false), args); err != nil {
		return err
	}
	st.skipped("images and signatures", "a snapshot has none")
	dist := project.DistDir(o.Root)
	if err := st.run("contents", func() (string, error) {
		return recordContents(ctx, dist, in.version+"-snapshot", in.crane, true, built{noVEX: "a snapshot runs no vulnerability check"})
	}); err != nil {
		return err
	}
	v, _ := VerifierFromEnv(o.Root, in.cosign)
	var checked Checked
	if err := st.run("verify", func() (string, error) {
		var err error
		checked, err = Verify(ctx, dist, v, in.crane, false)
		return "checksums and SBOMs", err
	}); err != nil {
		return err
	}
	Summary{
		Version: in.version + "-snapshot", Plan: Plan{Local: []string{"a snapshot is never published"}},
		Stages: st.results, Checked: checked, Root: o.Root, Dist: dist, Extra: contentsFiles(dist), Verifier: v, Unsigned: true,
	}.Write(o.Out)
	return nil
}
