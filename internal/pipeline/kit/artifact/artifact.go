// Package artifact is the model of what a release holds: its files, its images pinned by digest
// and their attestations, as release.json (ContentsFile) lists them. The release writes it,
// verify checks a release against it, and deploy reads the image to deploy from it; none of them
// needs the others to read it.
package artifact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Names of the files goreleaser writes (see .goreleaser.yaml).
const (
	ChecksumsFile = "checksums.txt"
	BundleSuffix  = ".sigstore.json" // cosign bundle next to the file it signs
	SBOMSuffix    = ".sbom.cdx.json" // CycloneDX SBOM next to the archive it describes
	SBOMType      = "cyclonedx"      // cosign attestation type of image SBOMs
)

// ContentsFile is the release's own list of what it holds, signed by the release's identity
// (ContentsFile + BundleSuffix). It is what `mage verify` checks the release against, so that
// verify is never blind: whatever it lists must be there, checksums.txt must list exactly its
// archives and SBOMs, and a release without images says so here rather than by omission.
const ContentsFile = "release.json"

// ContentsSchema is the version of ContentsFile's layout; verify refuses any other. 2: provenance,
// VEX and attestations of every type, with their digests.
const ContentsSchema = 2

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
	if c.Schema != ContentsSchema {
		bad = append(bad, fmt.Sprintf("schema %d, this verify reads schema %d", c.Schema, ContentsSchema))
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

// Checksummed is what checksums.txt must list: the archives and their SBOMs, by sha256.
func (c Contents) Checksummed() map[string]string {
	m := map[string]string{}
	for _, f := range c.Files {
		if f.Kind == KindArchive || f.Kind == KindSBOM {
			m[f.Name] = f.SHA256
		}
	}
	return m
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

// ImageSBOMName is the file ImageSBOMs writes for one platform image.
func ImageSBOMName(project, version string, p Platform) string {
	return fmt.Sprintf("%s_%s_image_%s_%s%s%s", project, version, p.OS, p.Arch, p.Variant, SBOMSuffix)
}

// File is one release file with its size and digest.
type File struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // KindArchive, KindSBOM, ...
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Image is an image index pinned by digest: as pushed, with the tags that point at it, and as
// release.json lists it, with its platform manifests.
type Image struct {
	Repo      string     `json:"repo"` // registry/repository, no tag
	Digest    string     `json:"digest"`
	Tags      []string   `json:"tags"` // the tags that point at it
	Platforms []Platform `json:"platforms"`
}

// Ref is the image pinned by digest.
func (i Image) Ref() string { return i.Repo + "@" + i.Digest }

// Platform is one platform manifest of an image index.
type Platform struct {
	OS      string `json:"os"`
	Arch    string `json:"architecture"`
	Variant string `json:"variant,omitempty"`
	Digest  string `json:"digest"`
	Size    int64  `json:"size"` // compressed: config and layers, what a pull downloads
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// ParseRef reads an image pinned by digest, "name[:tag]@sha256:<hex>", into an Image with its
// repository and digest. A tag alone is refused: tags move, digests do not.
func ParseRef(ref string) (Image, error) {
	name, digest, ok := strings.Cut(strings.TrimSpace(ref), "@")
	if !ok || !sha256Digest.MatchString(digest) {
		return Image{}, fmt.Errorf("image %q is not pinned by digest: want name@sha256:<64 hex digits>, "+
			"e.g. from `crane digest` or the release's dist/%s", ref, ContentsFile)
	}
	name = StripTag(name)
	if name == "" {
		return Image{}, fmt.Errorf("image %q has no name before the digest", ref)
	}
	return Image{Repo: name, Digest: digest}, nil
}

// StripTag drops ":tag" from a reference; a ":" before the last "/" is a registry port.
func StripTag(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}
