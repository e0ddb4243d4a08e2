package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/project"
	envcfg "github.com/slipway-dev/slipway/internal/pipeline/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// publish releases for real, and nothing becomes public until the exact bytes that go out have
// passed every gate. It builds once:
//
//  1. goreleaser builds everything with the images pushed to a staging repository of the
//     loopback registry and nothing signed (a keyless signature is public the moment it is
//     made: it is written to the transparency log); the run proof and the scan gate follow, and
//     the scan must include a vulnerability scan;
//  2. only then the checksums, the image indexes and the image SBOM attestations are signed;
//  3. dist/ and the staged images are verified as a user would verify them;
//  4. promotion: each image is copied by digest, with its signatures and attestations, to
//     SLIPWAY_REGISTRY and verified again there; the GitHub release is created as a draft and
//     the verified files uploaded; then the tags are set (the version; latest unless a
//     pre-release);
//  5. dist/release.json is recorded again, naming the published images, signed and verified
//     against the target; last, it and its bundle go up to the draft, which is made public.
//
// A failure before step 4 leaves nothing in the target registry and nothing on GitHub, and
// says so.
func publish(ctx context.Context, o Options, st *stages, in inputs, plan Plan) (err error) {
	var pub publishing
	defer func() {
		if err != nil && !pub.promoting {
			err = fmt.Errorf("%w\nnothing was published: the target registry and GitHub were not touched", err)
		}
	}()
	if err := st.run("publishing checks", func() (string, error) {
		var err error
		pub, err = preparePublishing(ctx, o, in)
		return pub.note(), err
	}); err != nil {
		return err
	}
	if image.ShipStandIns() {
		fmt.Fprintf(o.Out, "!! TEST ONLY (%s=1): images built on stand-in base images will be published\n", image.ShipStandInsEnv)
	}
	if pub.github == nil {
		fmt.Fprintf(o.Out, "!! GitHub release: NOT RUN (%s): only the images will be published\n", pub.noGitHub)
	}
	infra, err := startImageInfra(ctx, o, st, in)
	if err != nil {
		return err
	}
	// A repository of this run's own: what is attached to its images (and promoted with them) is
	// this run's signatures only, not those of an earlier release of the same digests.
	stagingRepo := "staging/" + strconv.FormatInt(time.Now().UnixNano(), 10) + "/" + project.Name
	pub.staging = infra.registry.Addr + "/" + stagingRepo
	// Promoted or refused, the staging copy has served: it is removed so that they do not pile up.
	// The published images are in the target; the refused ones were never meant to be kept.
	defer func() {
		if rmErr := infra.registry.RemoveRepository(stagingRepo); rmErr != nil {
			fmt.Fprintf(o.Out, "note: the staging copy %s was not removed: %v\n", pub.staging, rmErr)
		}
	}()
	for i, kv := range infra.env {
		if strings.HasPrefix(kv, "SLIPWAY_IMAGE=") {
			infra.env[i] = "SLIPWAY_IMAGE=" + pub.staging
		}
	}
	b, err := buildStaged(ctx, o, st, in, infra, stagedBuild{sign: false, publish: true})
	if err != nil {
		return err
	}
	if b.notScanned != nil {
		return fmt.Errorf("refusing to publish %s: %w", in.version, b.notScanned)
	}
	dist := project.DistDir(o.Root)
	if err := signStaged(ctx, st, in, dist, pub.signer); err != nil {
		return err
	}
	b.signer = &pub.signer // release.json is signed with the publishing identity too
	err = finish(ctx, o, st, in, plan, b, pub.verifier, &publishHooks{
		promote: func(c *Checked) error {
			pub.promoting = true
			return pub.promote(ctx, st, in, dist, c)
		},
		announce: func(c *Checked) error { return pub.announce(ctx, st, dist, c) },
	})
	if err == nil && pub.github == nil {
		fmt.Fprintf(o.Out, "\n!! GitHub release: NOT RUN (%s): the images are published to %s; the files are in %s only\n",
			pub.noGitHub, pub.target, dist)
	}
	return err
}

// publishing is what a publishing release signs with, verifies against and promotes to.
type publishing struct {
	signer    sign.Signer
	verifier  sign.Verifier
	trust     string // the verifier, described
	target    string // SLIPWAY_REGISTRY/slipway
	staging   string // the staging repository in the loopback registry
	tags      []string
	tag       string // the git tag: the GitHub release's
	github    *GitHub
	noGitHub  string // why the GitHub release is NOT RUN (github is nil)
	promoting bool   // the target registry or GitHub may have been written to
	draft     Draft  // the GitHub release while it is a draft (promote to announce)
}

// TlogEnv set to false signs a publishing release made with COSIGN_KEY without transparency-log
// entries (a private registry, an air-gapped network; the key is then the only trust anchor, as
// verification with a key already assumes). Keyless signing always writes them.
const TlogEnv = project.EnvPrefix + "SIGN_TLOG"

// preparePublishing checks in seconds, before anything is built, what only publishing needs:
// how it signs, what it verifies against, that the target registry answers with this machine's
// credentials, and the GitHub release (or why there is none).
func preparePublishing(ctx context.Context, o Options, in inputs) (publishing, error) {
	pub := publishing{target: in.state.Registry + "/" + project.Name, tags: imageTags(in.version), tag: in.state.Tag}
	tlog, err := signTlog(in.state.CosignKey)
	if err != nil {
		return pub, err
	}
	pub.signer = sign.Signer{Cosign: in.cosign, Key: in.state.CosignKey, Tlog: tlog}
	pub.verifier, pub.trust = VerifierFromEnv(o.Root, in.cosign)
	if envcfg.Current().VerifyKey == "" && pub.verifier.Key == sign.LocalKey(o.Root).Public {
		return pub, errors.New("a publishing release verifies what it signed against what users will verify with, and nothing names it: " +
			"set VERIFY_KEY to the public key of COSIGN_KEY (or VERIFY_CERT_IDENTITY and VERIFY_CERT_ISSUER for a keyless signer)")
	}
	if err := pub.verifier.Check(); err != nil {
		return pub, err
	}
	if image.ShipStandIns() && in.state.TagBuild {
		return pub, fmt.Errorf("%s is set in a CI build of a tag: it is for the pipeline's own tests and never ships a real release; unset it", image.ShipStandInsEnv)
	}
	cfg, err := readConfig(o.Root)
	if err != nil {
		return pub, err
	}
	pub.github, pub.noGitHub, err = GitHubFromEnv(cfg.Release.GitHub.Owner, cfg.Release.GitHub.Name, in.state.TagBuild)
	if err != nil {
		return pub, err
	}
	if err := checkTarget(ctx, in.crane, pub.target); err != nil {
		return pub, err
	}
	if pub.github != nil {
		return pub, pub.github.CheckUnpublished(ctx, pub.tag)
	}
	return pub, nil
}

func signTlog(key string) (bool, error) {
	switch v := envcfg.Current().SignTlog; v {
	case "true":
		return true, nil
	case "false":
		if key == "" {
			return false, fmt.Errorf("%s=false needs COSIGN_KEY: a keyless signature is trusted only through the transparency log", TlogEnv)
		}
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q: want true (the default) or false", TlogEnv, v)
	}
}

func (pub publishing) note() string {
	tlog := "with transparency-log entries"
	if !pub.signer.Tlog {
		tlog = "NO transparency log (" + TlogEnv + "=false)"
	}
	gh := "GitHub release NOT RUN (" + pub.noGitHub + ")"
	if pub.github != nil {
		gh = "GitHub release of " + pub.github.Owner + "/" + pub.github.Repo
	}
	return fmt.Sprintf("to %s (tags %s), signed %s, verified against %s; %s", pub.target, strings.Join(pub.tags, ", "), tlog, pub.trust, gh)
}

// signStaged signs what passed the scan gate, in the staging registry and dist/: the checksums,
// the images, their SBOM attestations, the provenance (the archives' bundle and an attestation on
// every image) and the VEX document's attestations.
func signStaged(ctx context.Context, st *stages, in inputs, dist string, signer sign.Signer) error {
	if err := st.run("checksums signature", func() (string, error) {
		sums := filepath.Join(dist, ChecksumsFile)
		return "", signer.SignBlob(ctx, sums, sums+BundleSuffix)
	}); err != nil {
		return err
	}
	if err := signImages(ctx, st, dist, signer); err != nil {
		return err
	}
	if err := st.run("image SBOM attestations", func() (string, error) {
		n, err := attestImageSBOMs(ctx, dist, project.Name, in.version, in.crane, signer)
		return fmt.Sprintf("%d signed", n), err
	}); err != nil {
		return err
	}
	if err := st.run("provenance signatures", func() (string, error) {
		n, err := attestProvenance(ctx, dist, in.version, in.crane, signer)
		return fmt.Sprintf("statement of the archives and %d image attestations signed", n), err
	}); err != nil {
		return err
	}
	// The gate refuses to publish without govulncheck's verdict, so the document is there.
	return st.run("VEX attestations", func() (string, error) {
		n, err := attestVEX(ctx, dist, in.version, in.crane, signer)
		return fmt.Sprintf("%d signed", n), err
	})
}

// promote runs once dist/ and the staged images verified (c): the copies by digest, their
// verification in the target, the GitHub draft with the verified files, then the image tags.
func (pub *publishing) promote(ctx context.Context, st *stages, in inputs, dist string, c *Checked) error {
	recs, err := ReadImages(dist)
	if err != nil {
		return err
	}
	platforms, err := imagePlatforms(dist)
	if err != nil {
		return err
	}
	// The exact files that verified, with the digests they verified with.
	assets, err := releaseAssets(dist, c.Files)
	if err != nil {
		return err
	}
	p := promotion{crane: in.crane, target: pub.target, tags: pub.tags, verifier: pub.verifier}
	if err := st.run("copy images", func() (string, error) {
		n := 0
		for _, r := range recs {
			k, err := p.copy(ctx, r)
			if err != nil {
				return "", err
			}
			n += k
		}
		return fmt.Sprintf("%d index(es) and %d signature/attestation manifests to %s by digest; no tag yet", len(recs), n, p.target), nil
	}); err != nil {
		return err
	}
	var published []Image
	if err := st.run("verify copied images", func() (string, error) {
		for _, r := range recs {
			r.Tags = p.tags
			img, err := p.verify(ctx, r, platforms)
			if err != nil {
				return "", err
			}
			published = append(published, img)
		}
		return "in " + p.target, nil
	}); err != nil {
		return err
	}
	if pub.github != nil {
		if err := st.run("GitHub release: draft", func() (string, error) {
			var err error
			if pub.draft, err = pub.createDraft(ctx, dist, assets); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s, %d files", pub.draft.URL, len(assets)), nil
		}); err != nil {
			return err
		}
	}
	if err := st.run("image tags", func() (string, error) {
		for _, r := range recs {
			if err := p.tag(ctx, r.Digest); err != nil {
				return "", err
			}
		}
		note := strings.Join(p.tags, ", ")
		if len(p.tags) == 1 {
			note += " (not latest: a pre-release)"
		}
		return note, recordPublished(dist, pub.staging, pub.target)
	}); err != nil {
		return err
	}
	c.Images = published
	return nil
}

// announce is the last step, once dist/release.json was recorded again with the published images
// and verified: it attaches release.json and its bundle to the draft (the files users verify the
// rest with) and makes the draft public. Without GitHub the step is NOT RUN, loudly.
func (pub *publishing) announce(ctx context.Context, st *stages, dist string, c *Checked) error {
	if pub.github == nil {
		st.notRun("GitHub release", pub.noGitHub)
		c.Notes = append(c.Notes, fmt.Sprintf("GitHub release NOT RUN (%s): the images are published; the files are in dist/ only", pub.noGitHub))
		return nil
	}
	return st.run("GitHub release: public", func() (string, error) {
		stillDraft := fmt.Sprintf("(the images are published and tagged; the GitHub release is still a draft: finish it at %s)", pub.draft.URL)
		for _, name := range []string{ContentsFile, ContentsFile + BundleSuffix} {
			f, err := fileDigest(filepath.Join(dist, name))
			if err != nil {
				return "", fmt.Errorf("%s: %w\n%s", name, err, stillDraft)
			}
			if err := pub.github.Upload(ctx, pub.draft, Asset{Name: name, Path: filepath.Join(dist, name), SHA256: f.SHA256}); err != nil {
				return "", fmt.Errorf("%w\n%s", err, stillDraft)
			}
		}
		if err := pub.github.MakePublic(ctx, pub.draft); err != nil {
			return "", fmt.Errorf("%w\n%s", err, stillDraft)
		}
		return pub.draft.URL + ", with " + ContentsFile, nil
	})
}

// createDraft creates the draft GitHub release and uploads every asset; a failure leaves a
// draft, which only the repository's writers see.
func (pub publishing) createDraft(ctx context.Context, dist string, assets []Asset) (Draft, error) {
	// goreleaser writes the changelog of a publishing build (git log since the last tag).
	notes, err := os.ReadFile(filepath.Join(dist, "CHANGELOG.md"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return Draft{}, err
	}
	d, err := pub.github.CreateDraft(ctx, pub.tag, string(notes), semver.Prerelease(pub.tag) != "")
	if err != nil {
		return d, err
	}
	for _, a := range assets {
		if err := pub.github.Upload(ctx, d, a); err != nil {
			return d, fmt.Errorf("%w\n(nothing is public: the draft %s can be deleted)", err, d.URL)
		}
	}
	return d, nil
}

// releaseAssets are the files of the GitHub release: every file release.json lists, as verify
// checked them (with the digests they verified with), which includes checksums.txt and its
// bundle. release.json and its bundle follow in announce, once they name the published images.
func releaseAssets(dist string, files []File) ([]Asset, error) {
	var as []Asset
	have := map[string]bool{}
	for _, f := range files {
		as = append(as, Asset{Name: f.Name, Path: filepath.Join(dist, f.Name), SHA256: f.SHA256})
		have[f.Name] = true
	}
	for _, name := range []string{ChecksumsFile, ChecksumsFile + BundleSuffix} {
		if !have[name] {
			return nil, fmt.Errorf("%s is not among the verified files: a published release ships it", name)
		}
	}
	return as, nil
}

// notRun records a stage that could not run, loudly: never a silent pass.
func (s *stages) notRun(name, why string) {
	fmt.Fprintf(s.out, "==> %s: NOT RUN (%s)\n", name, why)
	s.results = append(s.results, StageResult{Name: name, Result: "NOT RUN (" + why + ")"})
}
