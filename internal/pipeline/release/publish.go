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
	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
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
func (f *flow) publish(ctx context.Context, results []stage.Result) (_ []stage.Result, err error) {
	f.pub = &publishing{}
	// A repository of this run's own: what is attached to its images (and promoted with them) is
	// this run's signatures only, not those of an earlier release of the same digests.
	f.stagingRepo = "staging/" + strconv.FormatInt(time.Now().UnixNano(), 10) + "/" + project.Name
	defer func() {
		if err != nil && !f.pub.promoting {
			err = fmt.Errorf("%w\nnothing was published: the target registry and GitHub were not touched", err)
		}
	}()
	// Promoted or refused, the staging copy has served: it is removed so that they do not pile up.
	// The published images are in the target; the refused ones were never meant to be kept.
	defer func() {
		if f.infra.registry == nil {
			return
		}
		if rmErr := f.infra.registry.RemoveRepository(f.stagingRepo); rmErr != nil {
			fmt.Fprintf(f.o.Out, "note: the staging copy %s was not removed: %v\n", f.pub.staging, rmErr)
		}
	}()
	more, err := f.run(ctx, f.publishStages())
	results = append(results, more...)
	if err != nil {
		return results, err
	}
	f.summary(results).Write(f.o.Out)
	if f.pub.github == nil {
		fmt.Fprintf(f.o.Out, "\n!! GitHub release: NOT RUN (%s): the images are published to %s; the files are in %s only\n",
			f.pub.noGitHub, f.pub.target, f.c.Dist)
	}
	return results, nil
}

// publishStages are a publishing release's stages: the checks of what only publishing needs,
// the build, the signatures once the scan gate passed, the verification, the promotion, and
// the contents recorded and verified again with the published images, then the announcement.
func (f *flow) publishStages() []stage.Stage {
	pub := f.pub
	list := []stage.Stage{{Name: stage.PublishingChecks, Run: func(ctx context.Context, c *stage.Context) (string, error) {
		var err error
		*pub, err = preparePublishing(ctx, f.o, f.in)
		if err != nil {
			return "", err
		}
		f.verifier = pub.verifier
		if image.ShipStandIns(c.Settings) {
			fmt.Fprintf(c.Out, "!! TEST ONLY (%s=1): images built on stand-in base images will be published\n", image.ShipStandInsEnv)
		}
		if pub.github == nil {
			fmt.Fprintf(c.Out, "!! GitHub release: NOT RUN (%s): only the images will be published\n", pub.noGitHub)
		}
		return pub.note(), nil
	}}}
	list = append(list, f.imageInfra()...)
	list = append(list, f.build()...)
	list = append(list, f.signStaged()...)
	list = append(list, f.contents(stage.Contents), f.verify(stage.Verify))
	list = append(list, pub.promoteStages(f.in, f.c.Dist, &f.checked)...)
	return append(list, f.contents(stage.ContentsPublished), f.verify(stage.VerifyPublished), pub.announceStage(f.c.Dist, &f.checked))
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
	tlog, err := signTlog(o.Settings.SignTlog, in.state.CosignKey)
	if err != nil {
		return pub, err
	}
	pub.signer = sign.Signer{Cosign: in.cosign, Key: in.state.CosignKey, Tlog: tlog}
	pub.verifier, pub.trust = VerifierFrom(o.Settings, o.Root, in.cosign)
	if o.Settings.VerifyKey == "" && pub.verifier.Key == sign.LocalKey(o.Root).Public {
		return pub, errors.New("a publishing release verifies what it signed against what users will verify with, and nothing names it: " +
			"set VERIFY_KEY to the public key of COSIGN_KEY (or VERIFY_CERT_IDENTITY and VERIFY_CERT_ISSUER for a keyless signer)")
	}
	if err := pub.verifier.Check(); err != nil {
		return pub, err
	}
	if image.ShipStandIns(o.Settings) && in.state.TagBuild {
		return pub, fmt.Errorf("%s is set in a CI build of a tag: it is for the pipeline's own tests and never ships a real release; unset it", image.ShipStandInsEnv)
	}
	cfg, err := readConfig(o.Root)
	if err != nil {
		return pub, err
	}
	pub.github, pub.noGitHub, err = GitHubFrom(o.Settings, cfg.Release.GitHub.Owner, cfg.Release.GitHub.Name, in.state.TagBuild)
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

func signTlog(v, key string) (bool, error) {
	switch v {
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
func (f *flow) signStaged() []stage.Stage {
	signer := &f.pub.signer
	return []stage.Stage{
		{Name: stage.ChecksumsSignature, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			f.b.signer = signer // from here on, the release is signed with the publishing identity
			sums := filepath.Join(c.Dist, artifact.ChecksumsFile)
			return "", signer.SignBlob(ctx, sums, sums+artifact.BundleSuffix)
		}},
		f.imageSignatures(),
		{Name: stage.ImageSBOMAttestations, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			n, err := attestImageSBOMs(ctx, c.Dist, project.Name, f.in.version, f.in.crane, *signer)
			return fmt.Sprintf("%d signed", n), err
		}},
		{Name: stage.ProvenanceSignatures, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			n, err := attestProvenance(ctx, c.Dist, f.in.version, f.in.crane, *signer)
			return fmt.Sprintf("statement of the archives and %d image attestations signed", n), err
		}},
		// The gate refuses to publish without govulncheck's verdict, so the document is there.
		{Name: stage.VEXAttestations, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			n, err := attestVEX(ctx, c.Dist, f.in.version, f.in.crane, *signer)
			return fmt.Sprintf("%d signed", n), err
		}},
	}
}

// promoteStages run once dist/ and the staged images verified (c): the copies by digest, their
// verification in the target, the GitHub draft with the verified files, then the image tags.
func (pub *publishing) promoteStages(in inputs, dist string, c *Checked) []stage.Stage {
	var recs []artifact.Image
	var platforms []string
	var assets []Asset
	var published []artifact.Image
	p := &promotion{}
	return []stage.Stage{
		{Name: stage.CopyImages, Run: func(ctx context.Context, _ *stage.Context) (string, error) {
			pub.promoting = true
			var err error
			if recs, err = ReadImages(dist); err != nil {
				return "", err
			}
			if platforms, err = imagePlatforms(dist); err != nil {
				return "", err
			}
			// The exact files that verified, with the digests they verified with.
			if assets, err = releaseAssets(dist, c.Files); err != nil {
				return "", err
			}
			*p = promotion{crane: in.crane, target: pub.target, tags: pub.tags, verifier: pub.verifier}
			n := 0
			for _, r := range recs {
				k, err := p.copy(ctx, r)
				if err != nil {
					return "", err
				}
				n += k
			}
			return fmt.Sprintf("%d index(es) and %d signature/attestation manifests to %s by digest; no tag yet", len(recs), n, p.target), nil
		}},
		{Name: stage.VerifyCopiedImages, Run: func(ctx context.Context, _ *stage.Context) (string, error) {
			for _, r := range recs {
				r.Tags = p.tags
				img, err := p.verify(ctx, r, platforms)
				if err != nil {
					return "", err
				}
				published = append(published, img)
			}
			return "in " + p.target, nil
		}},
		{Name: stage.GitHubDraft, Skip: pub.withoutGitHub, Run: func(ctx context.Context, _ *stage.Context) (string, error) {
			var err error
			if pub.draft, err = pub.createDraft(ctx, dist, assets); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s, %d files", pub.draft.URL, len(assets)), nil
		}},
		{Name: stage.ImageTags, Run: func(ctx context.Context, _ *stage.Context) (string, error) {
			for _, r := range recs {
				if err := p.tag(ctx, r.Digest); err != nil {
					return "", err
				}
			}
			note := strings.Join(p.tags, ", ")
			if len(p.tags) == 1 {
				note += " (not latest: a pre-release)"
			}
			if err := recordPublished(dist, pub.staging, pub.target); err != nil {
				return note, err
			}
			c.Images = published
			return note, nil
		}},
	}
}

// withoutGitHub skips the GitHub stages of a release that has no GitHub release, and says why.
func (pub *publishing) withoutGitHub(*stage.Context) (string, bool) {
	return pub.noGitHub, pub.github == nil
}

// announceStage is the last step, once dist/release.json was recorded again with the published
// images and verified: it attaches release.json and its bundle to the draft (the files users
// verify the rest with) and makes the draft public. Without GitHub the step is NOT RUN, loudly.
func (pub *publishing) announceStage(dist string, c *Checked) stage.Stage {
	return stage.Stage{Name: stage.GitHubPublic, Run: func(ctx context.Context, _ *stage.Context) (string, error) {
		if pub.github == nil {
			c.Notes = append(c.Notes, fmt.Sprintf("GitHub release NOT RUN (%s): the images are published; the files are in dist/ only", pub.noGitHub))
			return "", stage.CannotRun(pub.noGitHub)
		}
		stillDraft := fmt.Sprintf("(the images are published and tagged; the GitHub release is still a draft: finish it at %s)", pub.draft.URL)
		for _, name := range []string{artifact.ContentsFile, artifact.ContentsFile + artifact.BundleSuffix} {
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
		return pub.draft.URL + ", with " + artifact.ContentsFile, nil
	}}
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
func releaseAssets(dist string, files []artifact.File) ([]Asset, error) {
	var as []Asset
	have := map[string]bool{}
	for _, f := range files {
		as = append(as, Asset{Name: f.Name, Path: filepath.Join(dist, f.Name), SHA256: f.SHA256})
		have[f.Name] = true
	}
	for _, name := range []string{artifact.ChecksumsFile, artifact.ChecksumsFile + artifact.BundleSuffix} {
		if !have[name] {
			return nil, fmt.Errorf("%s is not among the verified files: a published release ships it", name)
		}
	}
	return as, nil
}
