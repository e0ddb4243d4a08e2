package release

import (
	"bytes"
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

	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/provenance"
	"github.com/slipway-dev/slipway/internal/pipeline/run"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// ContentsFile is the release's own list of what it holds, signed by the release's identity
// (ContentsFile + BundleSuffix). It is what `mage verify` checks the release against, so that
// verify is never blind: whatever it lists must be there, checksums.txt must list exactly its
// archives and SBOMs, and a release without images says so here rather than by omission.
const ContentsFile = "release.json"

// contentsSchema is the version of ContentsFile's layout; verify refuses any other. 2: provenance,
// VEX and attestations of every type, with their digests.
const contentsSchema = 2

// Kinds of the files a release lists.
const (
	KindArchive   = "archive"    // a binary's archive (tar.gz, zip)
	KindSBOM      = "sbom"       // an archive's SBOM
	KindChecksums = "checksums"  // checksums.txt
	KindSignature = "signature"  // checksums.txt's bundle
	KindImageSBOM = "image-sbom" // a platform image's SBOM, also attached as an attestation
	// KindProvenance is the SLSA provenance statement of every archive (its subjects); its
	// predicate is also attached to every image as an attestation.
	KindProvenance = "provenance"
	// KindAttestation is the provenance statement signed: a Sigstore bundle with the statement in
	// a DSSE envelope, named after it (ProvenanceFile + BundleSuffix).
	KindAttestation = "attestation"
	KindVEX         = "vex" // the OpenVEX document, also attached to every image as an attestation
)

// Cosign's types of the attestations a release makes, with the predicate type URI each writes
// (cosign's options/predicate.go).
const (
	ProvenanceType = "slsaprovenance1" // SLSA provenance v1
	VEXType        = "openvex"
)

var predicateURIs = map[string]string{
	SBOMType:       "https://cyclonedx.org/bom",
	ProvenanceType: provenance.PredicateType,
	VEXType:        "https://openvex.dev/ns",
}

// attestedKind is the kind of file each attestation type attaches.
var attestedKind = map[string]string{SBOMType: KindImageSBOM, ProvenanceType: KindProvenance, VEXType: KindVEX}

// Contents is ContentsFile: every file with its digest, every image index with its tags and
// platform manifests, and every attestation.
type Contents struct {
	Schema  int    `json:"schema"`
	Version string `json:"version"`
	// ArchivesOnly: the release was made without images (SKIP=images, a snapshot). A release
	// that lists no image is accepted only with this set.
	ArchivesOnly bool `json:"archives_only"`
	// NoVEX says why the release has no VEX document (govulncheck did not run): a release
	// without one says so here rather than by omission.
	NoVEX        string        `json:"no_vex,omitempty"`
	Files        []File        `json:"files"`
	Images       []Image       `json:"images"`
	Attestations []Attestation `json:"attestations"`
}

// Attestation is a signed attestation attached to an image index or platform manifest.
type Attestation struct {
	Image string `json:"image"` // repo@sha256:... of the index or platform manifest
	Type  string `json:"type"`  // the cosign predicate type: SBOMType, ProvenanceType, VEXType
	File  string `json:"file"`  // the attested document (for provenance, the statement whose predicate it is), one of the release's files
	// Digests are the attestation manifests of this type attached to the image when the release
	// listed its contents (the referrers under the registry's referrers tag; none where the
	// registry has the referrers API instead): what to look for, not what verify checks, since
	// attesting again adds others; verify checks the signatures and what they say.
	Digests []string `json:"digests"`
}

// contentsOf lists what dist/ holds after a release's build: the files checksums.txt names,
// checksums.txt with its bundle (when signed), the provenance statement and its bundle (signed),
// the VEX document or why there is none; unless archivesOnly, every image index goreleaser
// pushed, the tags that point at it in its registry and its platform manifests, the image SBOMs
// (as ImageSBOMs named them) and, when signed, every attestation with its digests.
func contentsOf(ctx context.Context, dist, version, crane string, archivesOnly bool, b built) (Contents, error) {
	signed := b.signer != nil
	c := Contents{Schema: contentsSchema, Version: version, ArchivesOnly: archivesOnly}
	sums := filepath.Join(dist, ChecksumsFile)
	listed, err := readChecksums(sums)
	if err != nil {
		return c, err
	}
	for _, name := range slices.Sorted(maps.Keys(listed)) {
		f, err := fileDigest(filepath.Join(dist, name))
		if err != nil {
			return c, fmt.Errorf("%s: listed in %s but %w", name, ChecksumsFile, err)
		}
		if f.SHA256 != listed[name] {
			return c, fmt.Errorf("%s changed after goreleaser listed it in %s: a stage wrote to dist/ that must not", name, ChecksumsFile)
		}
		switch f.Name = name; {
		case isArchive(name):
			f.Kind = KindArchive
		case strings.HasSuffix(name, SBOMSuffix):
			f.Kind = KindSBOM
		default:
			return c, fmt.Errorf("%s lists %s, neither an archive nor an SBOM: give its kind a name in %s (contents.go)", ChecksumsFile, name, ContentsFile)
		}
		c.Files = append(c.Files, f)
	}
	others := map[string]string{ChecksumsFile: KindChecksums}
	if signed {
		others[ChecksumsFile+BundleSuffix] = KindSignature
	}
	if b.provenance != "" {
		others[b.provenance] = KindProvenance
		if signed {
			others[b.provenance+BundleSuffix] = KindAttestation
		}
	}
	if b.vex != "" {
		others[b.vex] = KindVEX
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
	sboms := map[string]File{}
	for _, f := range b.imageSBOMs {
		sboms[f.Name] = f
	}
	for _, r := range recs {
		img := Image{Repo: r.Repo, Digest: r.Digest}
		if img.Platforms, err = IndexPlatforms(ctx, crane, img.Ref()); err != nil {
			return c, fmt.Errorf("image %s: %w", img.Ref(), err)
		}
		for _, p := range want {
			if !slices.ContainsFunc(img.Platforms, func(q Platform) bool { return q.String() == p }) {
				return c, fmt.Errorf("image %s: platform %s (%s) is missing from the index", img.Ref(), p, ConfigFile)
			}
		}
		if img.Tags, err = tagsOf(ctx, crane, img.Repo, img.Digest); err != nil {
			return c, err
		}
		// Provenance and VEX are about the index and every platform image; an SBOM about a
		// platform image's contents.
		var atts []Attestation
		for _, subject := range append([]string{img.Digest}, digestsOf(img.Platforms)...) {
			ref := img.Repo + "@" + subject
			if b.provenance != "" {
				atts = append(atts, Attestation{Image: ref, Type: ProvenanceType, File: b.provenance})
			}
			if b.vex != "" {
				atts = append(atts, Attestation{Image: ref, Type: VEXType, File: b.vex})
			}
		}
		for _, p := range img.Platforms {
			f, ok := sboms[imageSBOMName(project.Name, version, p)]
			if !ok {
				continue
			}
			f.Kind = KindImageSBOM
			c.Files = append(c.Files, f)
			atts = append(atts, Attestation{Image: img.Repo + "@" + p.Digest, Type: SBOMType, File: f.Name})
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
		out, err := run.Output(ctx, crane, "manifest", repo+"@"+d)
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

func digestsOf(ps []Platform) []string {
	var ds []string
	for _, p := range ps {
		ds = append(ds, p.Digest)
	}
	return ds
}

// writeContents writes ContentsFile into dist/ and, with a signer, its bundle: the same identity
// as checksums.txt's. Without one (SKIP=sign, a snapshot) it is unsigned, and `mage verify`
// refuses it.
func writeContents(ctx context.Context, dist string, c Contents, signer *sign.Signer) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dist, ContentsFile)
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	if signer == nil {
		return nil
	}
	return signer.SignBlob(ctx, path, path+BundleSuffix)
}

var (
	sha256Hex    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	sha256Digest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// ReadContents reads and checks the layout of dist/release.json. It does not check the
// signature: Verify does, before trusting a word of it.
func ReadContents(dist string) (Contents, error) {
	var c Contents
	path := filepath.Join(dist, ContentsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s is not a release contents file: %w", path, err)
	}
	var bad []string
	if c.Schema != contentsSchema {
		bad = append(bad, fmt.Sprintf("schema %d, this verify reads schema %d", c.Schema, contentsSchema))
	}
	names := map[string]string{}
	kinds := map[string]int{}
	for _, f := range c.Files {
		switch {
		case f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == "..":
			bad = append(bad, fmt.Sprintf("file %q: not a file name in dist/", f.Name))
		case !sha256Hex.MatchString(f.SHA256):
			bad = append(bad, fmt.Sprintf("file %s: sha256 %q is not 64 hex digits", f.Name, f.SHA256))
		case names[f.Name] != "":
			bad = append(bad, fmt.Sprintf("file %s is listed twice", f.Name))
		case !slices.Contains([]string{KindArchive, KindSBOM, KindChecksums, KindSignature, KindImageSBOM, KindProvenance, KindAttestation, KindVEX}, f.Kind):
			bad = append(bad, fmt.Sprintf("file %s: unknown kind %q", f.Name, f.Kind))
		}
		names[f.Name] = f.Kind
		kinds[f.Kind]++
	}
	if !slices.ContainsFunc(c.Files, func(f File) bool { return f.Kind == KindChecksums && f.Name == ChecksumsFile }) {
		bad = append(bad, "it does not list "+ChecksumsFile)
	}
	for _, k := range []string{KindProvenance, KindAttestation, KindVEX} {
		if kinds[k] > 1 {
			bad = append(bad, fmt.Sprintf("it lists %d files of kind %s: a release has one", kinds[k], k))
		}
	}
	for _, f := range c.Files {
		if f.Kind == KindAttestation && names[strings.TrimSuffix(f.Name, BundleSuffix)] != KindProvenance {
			bad = append(bad, fmt.Sprintf("attestation %s: want the bundle of a listed provenance statement, <statement>%s", f.Name, BundleSuffix))
		}
	}
	if (kinds[KindVEX] == 0) == (c.NoVEX == "") {
		bad = append(bad, "it must list a VEX document or say why there is none (no_vex), and not both")
	}
	switch {
	case c.ArchivesOnly && len(c.Images) > 0:
		bad = append(bad, fmt.Sprintf("archives_only is set but %d image(s) are listed", len(c.Images)))
	case !c.ArchivesOnly && len(c.Images) == 0:
		bad = append(bad, "it lists no image and does not say archives_only: a release without images must say so")
	}
	platforms := map[string]bool{} // repo@digest of every listed platform manifest
	indexes := map[string]bool{}   // and of every listed index
	for _, img := range c.Images {
		if img.Repo == "" || strings.ContainsAny(img.Repo, "@ ") || !sha256Digest.MatchString(img.Digest) {
			bad = append(bad, fmt.Sprintf("image %q: want a repository and a sha256 digest", img.Ref()))
		}
		indexes[img.Ref()] = true
		if len(img.Platforms) == 0 {
			bad = append(bad, fmt.Sprintf("image %s lists no platform", img.Ref()))
		}
		for _, p := range img.Platforms {
			if !sha256Digest.MatchString(p.Digest) || p.OS == "" || p.Arch == "" {
				bad = append(bad, fmt.Sprintf("image %s: platform %q %q: want os/arch and a sha256 digest", img.Ref(), p, p.Digest))
			}
			platforms[img.Repo+"@"+p.Digest] = true
		}
	}
	for _, a := range c.Attestations {
		switch {
		case a.Type == SBOMType && !platforms[a.Image]:
			bad = append(bad, fmt.Sprintf("attestation of %s: not a platform manifest of a listed image", a.Image))
		case !platforms[a.Image] && !indexes[a.Image]:
			bad = append(bad, fmt.Sprintf("attestation of %s: not a listed image or platform manifest", a.Image))
		}
		if kind, ok := attestedKind[a.Type]; !ok || names[a.File] != kind {
			bad = append(bad, fmt.Sprintf("attestation of %s: want a type of %s with a listed file of its kind, have %s of %q", a.Image, strings.Join(slices.Sorted(maps.Keys(attestedKind)), ", "), a.Type, a.File))
		}
		for _, d := range a.Digests {
			if !sha256Digest.MatchString(d) {
				bad = append(bad, fmt.Sprintf("attestation of %s: digest %q is not sha256:<hex>", a.Image, d))
			}
		}
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("%s is not a valid release contents file:\n  - %s", path, strings.Join(bad, "\n  - "))
	}
	return c, nil
}

// checksummed is what checksums.txt must list: the archives and their SBOMs, by sha256.
func (c Contents) checksummed() map[string]string {
	m := map[string]string{}
	for _, f := range c.Files {
		if f.Kind == KindArchive || f.Kind == KindSBOM {
			m[f.Name] = f.SHA256
		}
	}
	return m
}

// checksumsDiff compares the lines of checksums.txt with what the contents say it lists: every
// line gained, lost or changed, by file name.
func checksumsDiff(listed map[string]string, c Contents) []string {
	want := c.checksummed()
	var d []string
	for _, name := range slices.Sorted(maps.Keys(listed)) {
		switch sum, ok := want[name]; {
		case !ok:
			d = append(d, fmt.Sprintf("%s gained a line: it lists %s, which %s does not", ChecksumsFile, name, ContentsFile))
		case sum != listed[name]:
			d = append(d, fmt.Sprintf("%s: the line for %s has sha256 %s, %s says %s", ChecksumsFile, name, listed[name], ContentsFile, sum))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := listed[name]; !ok {
			d = append(d, fmt.Sprintf("%s lost a line: it does not list %s, which %s does", ChecksumsFile, name, ContentsFile))
		}
	}
	return d
}

// ProvenanceName is the release's SLSA provenance statement: one for all archives, so that one
// signature covers them (its bundle is ProvenanceName + BundleSuffix).
func ProvenanceName(project, version string) string {
	return fmt.Sprintf("%s_%s.provenance.json", project, version)
}

// VEXName is the release's OpenVEX document.
func VEXName(project, version string) string {
	return fmt.Sprintf("%s_%s.vex.json", project, version)
}

// imageSBOMName is the file ImageSBOMs writes for one platform image.
func imageSBOMName(project, version string, p Platform) string {
	return fmt.Sprintf("%s_%s_image_%s_%s%s%s", project, version, p.OS, p.Arch, p.Variant, SBOMSuffix)
}

// cosignTag is the tag cosign keeps an artifact's signatures and attestations under.
var cosignTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}`)

// tagsOf lists the tags of repo that point at digest. ko records none when it pushes several,
// so the registry is asked: every tag is read once, at release time.
func tagsOf(ctx context.Context, crane, repo, digest string) ([]string, error) {
	out, err := (run.Cmd{}).Output(ctx, crane, "ls", repo)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	var tags []string
	for tag := range strings.FieldsSeq(out) {
		if cosignTag.MatchString(tag) {
			continue
		}
		d, err := (run.Cmd{}).Output(ctx, crane, "digest", repo+":"+tag)
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

func sortFiles(fs []File) {
	slices.SortFunc(fs, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
}
