package release

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/run"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// ContentsFile is the release's own list of what it holds, signed by the release's identity
// (ContentsFile + BundleSuffix). It is what `mage verify` checks the release against, so that
// verify is never blind: whatever it lists must be there, checksums.txt must list exactly its
// archives and SBOMs, and a release without images says so here rather than by omission.
const ContentsFile = "release.json"

// contentsSchema is the version of ContentsFile's layout; verify refuses any other.
const contentsSchema = 1

// Kinds of the files a release lists.
const (
	KindArchive   = "archive"    // a binary's archive (tar.gz, zip)
	KindSBOM      = "sbom"       // an archive's SBOM
	KindChecksums = "checksums"  // checksums.txt
	KindSignature = "signature"  // checksums.txt's bundle
	KindImageSBOM = "image-sbom" // a platform image's SBOM, also attached as an attestation
)

// Contents is ContentsFile: every file with its digest, every image index with its tags and
// platform manifests, and every attestation.
type Contents struct {
	Schema  int    `json:"schema"`
	Version string `json:"version"`
	// ArchivesOnly: the release was made without images (SKIP=images, a snapshot). A release
	// that lists no image is accepted only with this set.
	ArchivesOnly bool          `json:"archives_only"`
	Files        []File        `json:"files"`
	Images       []Image       `json:"images"`
	Attestations []Attestation `json:"attestations"`
}

// Attestation is a signed attestation attached to a platform manifest of a release image.
type Attestation struct {
	Image string `json:"image"` // repo@sha256:... of the platform manifest
	Type  string `json:"type"`  // the cosign predicate type, SBOMType
	File  string `json:"file"`  // the attested document, one of the release's files
}

// contentsOf lists what dist/ holds after a release's build: the files checksums.txt names and
// checksums.txt with its bundle (when signed); unless archivesOnly, every image index
// goreleaser pushed, the tags that point at it in its registry and its platform manifests, the
// image SBOMs (as ImageSBOMs named them) and, when signed, their attestations.
func contentsOf(ctx context.Context, dist, version, crane string, archivesOnly, signed bool, imageSBOMs []File) (Contents, error) {
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
	for name, kind := range map[string]string{ChecksumsFile: KindChecksums, ChecksumsFile + BundleSuffix: KindSignature} {
		f, err := fileDigest(filepath.Join(dist, name))
		if kind == KindSignature && !signed {
			continue // unsigned (SKIP=sign, a snapshot): there is no bundle
		}
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
	for _, f := range imageSBOMs {
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
		for _, p := range img.Platforms {
			f, ok := sboms[imageSBOMName(project.Name, version, p)]
			if !ok {
				continue
			}
			f.Kind = KindImageSBOM
			c.Files = append(c.Files, f)
			if signed {
				c.Attestations = append(c.Attestations, Attestation{Image: img.Repo + "@" + p.Digest, Type: SBOMType, File: f.Name})
			}
		}
		c.Images = append(c.Images, img)
	}
	sortFiles(c.Files)
	return c, nil
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
	for _, f := range c.Files {
		switch {
		case f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == "..":
			bad = append(bad, fmt.Sprintf("file %q: not a file name in dist/", f.Name))
		case !sha256Hex.MatchString(f.SHA256):
			bad = append(bad, fmt.Sprintf("file %s: sha256 %q is not 64 hex digits", f.Name, f.SHA256))
		case names[f.Name] != "":
			bad = append(bad, fmt.Sprintf("file %s is listed twice", f.Name))
		case !slices.Contains([]string{KindArchive, KindSBOM, KindChecksums, KindSignature, KindImageSBOM}, f.Kind):
			bad = append(bad, fmt.Sprintf("file %s: unknown kind %q", f.Name, f.Kind))
		}
		names[f.Name] = f.Kind
	}
	if !slices.ContainsFunc(c.Files, func(f File) bool { return f.Kind == KindChecksums && f.Name == ChecksumsFile }) {
		bad = append(bad, "it does not list "+ChecksumsFile)
	}
	switch {
	case c.ArchivesOnly && len(c.Images) > 0:
		bad = append(bad, fmt.Sprintf("archives_only is set but %d image(s) are listed", len(c.Images)))
	case !c.ArchivesOnly && len(c.Images) == 0:
		bad = append(bad, "it lists no image and does not say archives_only: a release without images must say so")
	}
	platforms := map[string]bool{} // repo@digest of every listed platform manifest
	for _, img := range c.Images {
		if img.Repo == "" || strings.ContainsAny(img.Repo, "@ ") || !sha256Digest.MatchString(img.Digest) {
			bad = append(bad, fmt.Sprintf("image %q: want a repository and a sha256 digest", img.Ref()))
		}
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
		if !platforms[a.Image] {
			bad = append(bad, fmt.Sprintf("attestation of %s: not a platform manifest of a listed image", a.Image))
		}
		if names[a.File] != KindImageSBOM || a.Type != SBOMType {
			bad = append(bad, fmt.Sprintf("attestation of %s: want type %s of a listed image SBOM, have %s of %q", a.Image, SBOMType, a.Type, a.File))
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
