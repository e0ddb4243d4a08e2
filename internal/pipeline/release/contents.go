package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/oci"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/provenance"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

var predicateURIs = map[string]string{
	artifact.SBOMType:       "https://cyclonedx.org/bom",
	artifact.ProvenanceType: provenance.PredicateType,
	artifact.VEXType:        "https://openvex.dev/ns",
}

// contentsOf lists what dist/ holds after a release's build: the files checksums.txt names,
// checksums.txt with its bundle (when signed), the provenance statement and its bundle (signed),
// the VEX document or why there is none; unless archivesOnly, every image index goreleaser
// pushed, the tags that point at it in its registry and its platform manifests, the image SBOMs
// (as ImageSBOMs named them) and, when signed, every attestation with its digests. The files
// the stages made beside goreleaser's (provenance, VEX, image SBOMs) come from made.
func contentsOf(ctx context.Context, dist, version, crane string, archivesOnly bool, b built, made stage.Artifacts) (artifact.Contents, error) {
	signed := b.signer != nil
	prov, vex := made.Name(artifact.KindProvenance), made.Name(artifact.KindVEX)
	c := artifact.Contents{Schema: artifact.ContentsSchema, Version: version, ArchivesOnly: archivesOnly}
	sums := filepath.Join(dist, artifact.ChecksumsFile)
	listed, err := readChecksums(sums)
	if err != nil {
		return c, err
	}
	for _, name := range slices.Sorted(maps.Keys(listed)) {
		f, err := fileDigest(filepath.Join(dist, name))
		if err != nil {
			return c, fmt.Errorf("%s: listed in %s but %w", name, artifact.ChecksumsFile, err)
		}
		if f.SHA256 != listed[name] {
			return c, fmt.Errorf("%s changed after goreleaser listed it in %s: a stage wrote to dist/ that must not", name, artifact.ChecksumsFile)
		}
		switch f.Name = name; {
		case isArchive(name):
			f.Kind = artifact.KindArchive
		case strings.HasSuffix(name, artifact.SBOMSuffix):
			f.Kind = artifact.KindSBOM
		default:
			return c, fmt.Errorf("%s lists %s, neither an archive nor an SBOM: give its kind a name in %s (contents.go)", artifact.ChecksumsFile, name, artifact.ContentsFile)
		}
		c.Files = append(c.Files, f)
	}
	others := map[string]string{artifact.ChecksumsFile: artifact.KindChecksums}
	if signed {
		others[artifact.ChecksumsFile+artifact.BundleSuffix] = artifact.KindSignature
	}
	if prov != "" {
		others[prov] = artifact.KindProvenance
		if signed {
			others[prov+artifact.BundleSuffix] = artifact.KindAttestation
		}
	}
	if vex != "" {
		others[vex] = artifact.KindVEX
	} else if c.NoVEX = b.noVEX; c.NoVEX == "" {
		return c, errors.New("the release made no VEX document and says not why (a stage that skips it must give the reason)")
	}
	for name, kind := range others {
		f, err := fileDigest(filepath.Join(dist, name))
		if err != nil {
			return c, fmt.Errorf("%s: %w", name, err)
		}
		f.Name, f.Kind = name, kind
		c.Files = append(c.Files, f)
	}
	if archivesOnly {
		sortFiles(c.Files)
		return c, nil
	}

	recs, err := ReadImages(dist)
	if err != nil {
		return c, err
	}
	if len(recs) == 0 {
		return c, fmt.Errorf("goreleaser pushed no image (%s lists none) though images were not skipped", filepath.Join(dist, artifactsJSON))
	}
	want, err := imagePlatforms(dist)
	if err != nil {
		return c, err
	}
	sboms := map[string]artifact.File{}
	for _, a := range made.Of(artifact.KindImageSBOM) {
		f, err := fileDigest(a.Path)
		if err != nil {
			return c, fmt.Errorf("%s: %w", a.Name, err)
		}
		f.Name = a.Name
		sboms[f.Name] = f
	}
	for _, r := range recs {
		img := artifact.Image{Repo: r.Repo, Digest: r.Digest}
		if img.Platforms, err = IndexPlatforms(ctx, crane, img.Ref()); err != nil {
			return c, fmt.Errorf("image %s: %w", img.Ref(), err)
		}
		for _, p := range want {
			if !slices.ContainsFunc(img.Platforms, func(q artifact.Platform) bool { return q.String() == p }) {
				return c, fmt.Errorf("image %s: platform %s (%s) is missing from the index", img.Ref(), p, ConfigFile)
			}
		}
		if img.Tags, err = tagsOf(ctx, crane, img.Repo, img.Digest); err != nil {
			return c, err
		}
		// Provenance and VEX are about the index and every platform image; an SBOM about a
		// platform image's contents.
		var atts []artifact.Attestation
		for _, subject := range append([]string{img.Digest}, digestsOf(img.Platforms)...) {
			ref := img.Repo + "@" + subject
			if prov != "" {
				atts = append(atts, artifact.Attestation{Image: ref, Type: artifact.ProvenanceType, File: prov})
			}
			if vex != "" {
				atts = append(atts, artifact.Attestation{Image: ref, Type: artifact.VEXType, File: vex})
			}
		}
		for _, p := range img.Platforms {
			f, ok := sboms[artifact.ImageSBOMName(project.Name, version, p)]
			if !ok {
				continue
			}
			f.Kind = artifact.KindImageSBOM
			c.Files = append(c.Files, f)
			atts = append(atts, artifact.Attestation{Image: img.Repo + "@" + p.Digest, Type: artifact.SBOMType, File: f.Name})
		}
		if signed {
			for _, a := range atts {
				if a.Digests, err = attestationDigests(ctx, crane, a.Image, a.Type); err != nil {
					return c, err
				}
				c.Attestations = append(c.Attestations, a)
			}
		}
		c.Images = append(c.Images, img)
	}
	sortFiles(c.Files)
	return c, nil
}

// attestationDigests are the attestation manifests of one type attached to ref (repo@digest): the
// referrers cosign keeps under the referrers tag, with the predicate type in an annotation. A
// registry with the referrers API keeps no such tag (crane's copies to it write none): then
// there are none to list, which is no error, since verify does not go by them.
func attestationDigests(ctx context.Context, crane, ref, attType string) ([]string, error) {
	repo, subject, _ := strings.Cut(ref, "@")
	refs, err := stagedReferrers(ctx, crane, repo, subject)
	if err != nil {
		return nil, fmt.Errorf("the attestations of %s: %w", ref, err)
	}
	var ds []string
	for _, d := range refs {
		out, err := oci.Crane{Bin: crane}.Manifest(ctx, repo+"@"+d)
		if err != nil {
			return nil, fmt.Errorf("the attestations of %s: %w", ref, err)
		}
		var m struct {
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			return nil, fmt.Errorf("attestation %s@%s: %w", repo, d, err)
		}
		if m.Annotations["dev.sigstore.bundle.predicateType"] == predicateURIs[attType] {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	return ds, nil
}

func digestsOf(ps []artifact.Platform) []string {
	var ds []string
	for _, p := range ps {
		ds = append(ds, p.Digest)
	}
	return ds
}

// writeContents writes ContentsFile into dist/ and, with a signer, its bundle: the same identity
// as checksums.txt's. Without one (SKIP=sign, a snapshot) it is unsigned, and `mage verify`
// refuses it.
func writeContents(ctx context.Context, dist string, c artifact.Contents, signer *sign.Signer) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dist, artifact.ContentsFile)
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	if signer == nil {
		return nil
	}
	return signer.SignBlob(ctx, path, path+artifact.BundleSuffix)
}

// checksumsDiff compares the lines of checksums.txt with what the contents say it lists: every
// line gained, lost or changed, by file name.
func checksumsDiff(listed map[string]string, c artifact.Contents) []string {
	want := c.Checksummed()
	var d []string
	for _, name := range slices.Sorted(maps.Keys(listed)) {
		switch sum, ok := want[name]; {
		case !ok:
			d = append(d, fmt.Sprintf("%s gained a line: it lists %s, which %s does not", artifact.ChecksumsFile, name, artifact.ContentsFile))
		case sum != listed[name]:
			d = append(d, fmt.Sprintf("%s: the line for %s has sha256 %s, %s says %s", artifact.ChecksumsFile, name, listed[name], artifact.ContentsFile, sum))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := listed[name]; !ok {
			d = append(d, fmt.Sprintf("%s lost a line: it does not list %s, which %s does", artifact.ChecksumsFile, name, artifact.ContentsFile))
		}
	}
	return d
}

// cosignTag is the tag cosign keeps an artifact's signatures and attestations under.
var cosignTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}`)

// tagsOf lists the tags of repo that point at digest. ko records none when it pushes several,
// so the registry is asked: every tag is read once, at release time.
func tagsOf(ctx context.Context, crane, repo, digest string) ([]string, error) {
	c := oci.Crane{Bin: crane}
	all, err := c.Tags(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	var tags []string
	for _, tag := range all {
		if cosignTag.MatchString(tag) {
			continue
		}
		d, err := c.Digest(ctx, repo+":"+tag)
		if err != nil {
			return nil, fmt.Errorf("reading tag %s:%s: %w", repo, tag, err)
		}
		if d == digest {
			tags = append(tags, tag)
		}
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("no tag of %s points at %s: ko pushed the index without its tags", repo, digest)
	}
	slices.Sort(tags)
	return tags, nil
}

func sortFiles(fs []artifact.File) {
	slices.SortFunc(fs, func(a, b artifact.File) int { return strings.Compare(a.Name, b.Name) })
}
