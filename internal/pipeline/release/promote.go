package release

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/oci"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// promotion moves verified images from the staging repository in the loopback registry to the
// target repository (SLIPWAY_REGISTRY/slipway): by digest, so the bytes that arrive are the
// bytes that were scanned and verified, with the signatures and attestations cosign attached,
// and with the tags set last, once the copy verified in the target.
type promotion struct {
	crane    string
	target   string        // registry/repository, no tag
	tags     []string      // imageTags: set on every index, last
	verifier sign.Verifier // who must have signed, checked again in the target
}

// imageTags are the tags a published index gets, as .goreleaser.yaml's kos.tags writes them for
// the staging registry: the version, and latest unless it is a pre-release (a test keeps the two
// definitions the same).
func imageTags(version string) []string {
	tags := []string{version}
	if semver.Prerelease("v"+version) == "" {
		tags = append(tags, "latest")
	}
	return tags
}

// copy puts a staged image into the target by digest: the index with its platform images and
// their blobs, then every referrer of the index and of each platform image (cosign's signature
// and attestation bundles). It sets no tag. A version tag that already names another image in
// the target is refused before anything is copied: a published version never changes.
func (p promotion) copy(ctx context.Context, img artifact.Image) (referrers int, err error) {
	version := p.target + ":" + p.tags[0]
	switch d, found, err := (oci.Crane{Bin: p.crane}).Lookup(ctx, version); {
	case err != nil:
		return 0, fmt.Errorf("reading %s: %w", version, err)
	case found && d != img.Digest:
		return 0, fmt.Errorf("%s is already published as %s, not %s: a published version never changes; tag a new version", version, d, img.Digest)
	}
	if err := p.copyDigest(ctx, img.Repo, img.Digest); err != nil {
		return 0, err
	}
	platforms, err := IndexPlatforms(ctx, p.crane, img.Repo+"@"+img.Digest)
	if err != nil {
		return 0, err
	}
	subjects := []string{img.Digest}
	for _, pl := range platforms {
		subjects = append(subjects, pl.Digest)
	}
	for _, s := range subjects {
		refs, err := stagedReferrers(ctx, p.crane, img.Repo, s)
		if err != nil {
			return referrers, err
		}
		for _, r := range refs {
			if err := p.copyDigest(ctx, img.Repo, r); err != nil {
				return referrers, err
			}
			referrers++
		}
	}
	return referrers, nil
}

// copyDigest copies one manifest (an index with everything it names) by digest. crane keeps the
// digest, and for a manifest with a subject it updates the target's referrers (the registry's
// referrers API, or the referrers tag where there is none).
func (p promotion) copyDigest(ctx context.Context, repo, digest string) error {
	if err := (oci.Crane{Bin: p.crane}).Copy(ctx, repo+"@"+digest, p.target+"@"+digest); err != nil {
		return fmt.Errorf("copying %s@%s to %s: %w", repo, digest, p.target, err)
	}
	return nil
}

// verify checks a copied image where users will pull it: the same checks as the staged one got
// (platforms, index signature, SBOM attestations), by digest.
func (p promotion) verify(ctx context.Context, img artifact.Image, platforms []string) (artifact.Image, error) {
	staged, err := IndexPlatforms(ctx, p.crane, img.Repo+"@"+img.Digest)
	if err != nil {
		return artifact.Image{}, fmt.Errorf("image %s@%s: %w", img.Repo, img.Digest, err)
	}
	var bad []string
	for _, w := range platforms {
		if !slices.ContainsFunc(staged, func(s artifact.Platform) bool { return s.String() == w }) {
			bad = append(bad, fmt.Sprintf("image %s@%s: platform %s is missing from the index", img.Repo, img.Digest, w))
		}
	}
	// The copy must hold the staged platforms by digest, each with its SBOM attestation; no
	// tag yet: tags are set only once this passed.
	want := artifact.Image{Repo: p.target, Digest: img.Digest, Platforms: staged}
	var atts []artifact.Attestation
	for _, pl := range staged {
		atts = append(atts, artifact.Attestation{Image: p.target + "@" + pl.Digest, Type: artifact.SBOMType})
	}
	checked, more := verifyImage(ctx, want, atts, p.verifier, p.crane, true)
	if bad = append(bad, more...); len(bad) > 0 {
		return checked, fmt.Errorf("the copy in %s does not verify:\n  - %s", p.target, strings.Join(bad, "\n  - "))
	}
	return checked, nil
}

// tag sets the tags on a verified index, then reads each back: it must name that digest.
func (p promotion) tag(ctx context.Context, digest string) error {
	for _, t := range p.tags {
		if err := (oci.Crane{Bin: p.crane}).Tag(ctx, p.target+"@"+digest, t); err != nil {
			return fmt.Errorf("tagging %s@%s as %s: %w", p.target, digest, t, err)
		}
	}
	for _, t := range p.tags {
		ref := p.target + ":" + t
		got, found, err := oci.Crane{Bin: p.crane}.Lookup(ctx, ref)
		if err != nil {
			return fmt.Errorf("reading %s back after tagging: %w", ref, err)
		}
		if !found || got != digest {
			return fmt.Errorf("%s names %q after tagging, want %s", ref, got, digest)
		}
	}
	return nil
}

// stagedReferrers lists what is attached to subject in the staging registry. The project's
// registry (distribution) has no referrers API, so cosign keeps them in an index under the
// referrers tag, sha256-<hex> (OCI distribution spec, "referrers tag schema"). A referrer kept
// anywhere else is missed and the copy then fails to verify in the target: never a silent pass.
func stagedReferrers(ctx context.Context, crane, repo, subject string) ([]string, error) {
	ref := repo + ":" + strings.Replace(subject, ":", "-", 1)
	out, err := oci.Crane{Bin: crane}.Manifest(ctx, ref)
	if oci.NotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var idx struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(out), &idx); err != nil {
		return nil, fmt.Errorf("%s is not a referrers index: %w", ref, err)
	}
	var ds []string
	for _, m := range idx.Manifests {
		ds = append(ds, m.Digest)
	}
	return ds, nil
}

// checkTarget proves, in seconds and before anything is built, that the target repository
// answers with this machine's credentials (an empty or missing repository is fine).
func checkTarget(ctx context.Context, crane, target string) error {
	c := oci.Crane{Bin: crane}
	_, err := c.Tags(ctx, target)
	if err == nil || oci.NotFound(err) {
		return nil
	}
	// Registries with token logins (Docker Hub) deny reading a repository that does not exist
	// yet, even to its owner: a token with push scope shows the login is good.
	if oci.Denied(err) && c.CanPush(ctx, target) == nil {
		return nil
	}
	return fmt.Errorf("the target repository %s does not answer: check SLIPWAY_REGISTRY, log in to it "+
		"(`docker login` or `crane auth login`; credentials are read from $DOCKER_CONFIG/config.json) and that its TLS certificate is trusted: %w", target, err)
}

// recordPublished rewrites the image records of dist/artifacts.json to name the target
// repository, so dist/ describes what was published: `mage verify`, deploy:image and the
// workflow's provenance step then read the published images, not the staging copies.
func recordPublished(dist, staged, target string) error {
	path := filepath.Join(dist, artifactsJSON)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var arts []map[string]any
	if err := json.Unmarshal(data, &arts); err != nil {
		return fmt.Errorf("%s: %w", artifactsJSON, err)
	}
	for _, a := range arts {
		if a["type"] != imageType {
			continue
		}
		for _, k := range []string{"name", "path"} {
			if v, ok := a[k].(string); ok {
				if rest, ok := strings.CutPrefix(v, staged); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "@")) {
					a[k] = target + rest
				}
			}
		}
	}
	out, err := json.Marshal(arts)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
