package release

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/run"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// Names of the files goreleaser writes (see .goreleaser.yaml).
const (
	ChecksumsFile = "checksums.txt"
	BundleSuffix  = ".sigstore.json"  // cosign bundle next to the file it signs
	SBOMSuffix    = ".sbom.cdx.json"  // CycloneDX SBOM next to the archive it describes
	SBOMType      = "cyclonedx"       // cosign attestation type of image SBOMs
	artifactsJSON = "artifacts.json"  // goreleaser's record of what it built and pushed
	imageType     = "Docker Manifest" // goreleaser's artifact type for the index ko pushed
	extraDigest   = "Digest"          // goreleaser's Extra key: the pushed digest
)

// Checked is what one verification looked at.
type Checked struct {
	Files  []File  // every file listed in the checksums file
	Images []Image // every pushed image index
	Notes  []string
}

// File is one release file with its size and digest.
type File struct {
	Name   string
	Size   int64
	SHA256 string
}

// Image is one pushed image index and its platform manifests.
type Image struct {
	Repo      string   // registry/repository, no tag
	Tags      []string // the tags that point at it
	Digest    string   // sha256:... of the index
	Platforms []Platform
}

// Ref is the image pinned by digest.
func (i Image) Ref() string { return i.Repo + "@" + i.Digest }

// Platform is one platform manifest of an image index.
type Platform struct {
	OS, Arch, Variant string
	Digest            string
	Size              int64 // compressed: config and layers, what a pull downloads
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Verify checks a release in dist: the signature of the checksums file, every file against the
// checksums, an SBOM for every archive, and (from goreleaser's artifacts.json) every image's
// signature, platforms and SBOM attestations in its registry. Every failure is reported, each
// naming the artifact. With signatures false (a snapshot, or a release run with SKIP=sign) no
// signature is checked, and the notes say so.
func Verify(ctx context.Context, dist string, v sign.Verifier, crane string, signatures bool) (Checked, error) {
	var c Checked
	var bad []string
	sums := filepath.Join(dist, ChecksumsFile)
	if _, err := os.Stat(sums); err != nil {
		return c, fmt.Errorf("%s is missing: nothing to verify in %s (run `mage release` first)", sums, dist)
	}
	if signatures {
		if err := v.VerifyBlob(ctx, sums, sums+BundleSuffix); err != nil {
			bad = append(bad, err.Error())
		}
	} else {
		c.Notes = append(c.Notes, "signatures NOT CHECKED: the release is unsigned (a snapshot, or SKIP=sign)")
	}

	listed, err := readChecksums(sums)
	if err != nil {
		return c, err
	}
	for _, name := range slices.Sorted(maps.Keys(listed)) {
		f, err := fileDigest(filepath.Join(dist, name))
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: listed in %s but %v", name, ChecksumsFile, err))
			continue
		}
		f.Name = name
		if f.SHA256 != listed[name] {
			bad = append(bad, fmt.Sprintf("%s: sha256 %s does not match %s (%s): the file was changed after the release", name, f.SHA256, ChecksumsFile, listed[name]))
		}
		c.Files = append(c.Files, f)
		if isArchive(name) {
			if _, ok := listed[name+SBOMSuffix]; !ok {
				bad = append(bad, fmt.Sprintf("%s: no SBOM (%s) in %s", name, name+SBOMSuffix, ChecksumsFile))
			}
		}
	}

	images, err := ReadImages(dist)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.Notes = append(c.Notes, fmt.Sprintf("images NOT CHECKED: no %s in %s (a downloaded release has none); "+
			"verify an image with `cosign %s`", artifactsJSON, dist, strings.Join(v.ImageArgs("IMAGE@sha256:DIGEST"), " ")))
	case err != nil:
		return c, err
	case len(images) == 0:
		c.Notes = append(c.Notes, "this release has no images")
	}
	if len(images) > 0 {
		want, err := imagePlatforms(dist)
		if err != nil {
			return c, err
		}
		for i := range images {
			images[i].Platforms = want
		}
	}
	for _, img := range images {
		checked, problems := verifyImage(ctx, img, v, crane, signatures)
		c.Images = append(c.Images, checked)
		bad = append(bad, problems...)
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("release in %s does not verify:\n  - %s", dist, strings.Join(bad, "\n  - "))
	}
	return c, nil
}

// inventory lists a release without checking it (SKIP=verify): every file the checksums file
// names, with its size and digest, and the pushed images.
func inventory(dist string) (Checked, error) {
	c := Checked{Notes: []string{"NOT VERIFIED (SKIP=verify): run `mage verify`"}}
	listed, err := readChecksums(filepath.Join(dist, ChecksumsFile))
	if err != nil {
		return c, err
	}
	for _, name := range slices.Sorted(maps.Keys(listed)) {
		f, err := fileDigest(filepath.Join(dist, name))
		if err != nil {
			return c, fmt.Errorf("%s: %w", name, err)
		}
		f.Name = name
		c.Files = append(c.Files, f)
	}
	recs, err := ReadImages(dist)
	if err != nil {
		return c, err
	}
	for _, r := range recs {
		c.Images = append(c.Images, Image{Repo: r.Repo, Tags: r.Tags, Digest: r.Digest})
	}
	return c, nil
}

// verifyImage checks one index: it lists the platforms goreleaser built, its signature verifies,
// and so does each platform's SBOM attestation.
func verifyImage(ctx context.Context, img PushedImage, v sign.Verifier, crane string, signatures bool) (Image, []string) {
	out := Image{Repo: img.Repo, Tags: img.Tags, Digest: img.Digest}
	var bad []string
	platforms, err := IndexPlatforms(ctx, crane, out.Ref())
	if err != nil {
		return out, []string{fmt.Sprintf("image %s: %v", out.Ref(), err)}
	}
	out.Platforms = platforms
	for _, want := range img.Platforms {
		if !slices.ContainsFunc(platforms, func(p Platform) bool { return p.String() == want }) {
			bad = append(bad, fmt.Sprintf("image %s: platform %s is missing from the index", out.Ref(), want))
		}
	}
	if !signatures {
		return out, bad
	}
	if err := v.VerifyImage(ctx, out.Ref()); err != nil {
		bad = append(bad, err.Error())
	}
	for _, p := range platforms {
		ref := out.Repo + "@" + p.Digest
		if err := v.VerifyAttestation(ctx, ref, SBOMType); err != nil {
			bad = append(bad, fmt.Sprintf("image %s (%s): no valid SBOM attestation: %v", out.Ref(), p, err))
		}
	}
	return out, bad
}

// PushedImage is a pushed image index as goreleaser recorded it in artifacts.json.
type PushedImage struct {
	Repo, Digest string
	Tags         []string
	Platforms    []string // what the index must hold (imagePlatforms), filled in by Verify
}

// ReadImages reads the image indexes ko pushed from goreleaser's artifacts.json: one record
// per index (ko names it repo@digest, or repo:tag@digest for a single tag).
func ReadImages(dist string) ([]PushedImage, error) {
	data, err := os.ReadFile(filepath.Join(dist, artifactsJSON))
	if err != nil {
		return nil, err
	}
	var arts []struct {
		Name  string         `json:"name"`
		Type  string         `json:"type"`
		Extra map[string]any `json:"extra"`
	}
	if err := json.Unmarshal(data, &arts); err != nil {
		return nil, fmt.Errorf("%s: %w", artifactsJSON, err)
	}
	var recs []PushedImage
	for _, a := range arts {
		if a.Type != imageType {
			continue
		}
		digest, _ := a.Extra[extraDigest].(string)
		if digest == "" {
			return nil, fmt.Errorf("%s: image %s has no digest: it was not pushed (a snapshot?)", artifactsJSON, a.Name)
		}
		name, _, _ := strings.Cut(a.Name, "@")
		repo, tag := splitTag(name)
		i := slices.IndexFunc(recs, func(r PushedImage) bool { return r.Repo == repo && r.Digest == digest })
		if i < 0 {
			recs = append(recs, PushedImage{Repo: repo, Digest: digest})
			i = len(recs) - 1
		}
		if tag != "" {
			recs[i].Tags = append(recs[i].Tags, tag)
		}
	}
	return recs, nil
}

// imagePlatforms are the platforms every image index must hold: .goreleaser.yaml's kos, read
// from the checkout dist/ is in (ko records none in artifacts.json).
func imagePlatforms(dist string) ([]string, error) {
	c, err := readConfig(filepath.Dir(dist))
	if err != nil {
		return nil, fmt.Errorf("the platforms the images must have: %w", err)
	}
	var ps []string
	for _, k := range c.Kos {
		ps = append(ps, k.Platforms...)
	}
	return ps, nil
}

// IndexPlatforms lists the platform manifests of an image index in its registry (attestation
// manifests, platform unknown/unknown, are left out).
func IndexPlatforms(ctx context.Context, crane, ref string) ([]Platform, error) {
	out, err := (run.Cmd{}).Output(ctx, crane, "manifest", ref)
	if err != nil {
		return nil, fmt.Errorf("reading the index from its registry: %w", err)
	}
	var idx struct {
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform *struct {
				OS      string `json:"os"`
				Arch    string `json:"architecture"`
				Variant string `json:"variant"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(out), &idx); err != nil {
		return nil, fmt.Errorf("%s is not an image index: %w", ref, err)
	}
	var ps []Platform
	for _, m := range idx.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue
		}
		p := Platform{OS: m.Platform.OS, Arch: m.Platform.Arch, Variant: m.Platform.Variant, Digest: m.Digest}
		if p.Size, err = imageSize(ctx, crane, repoOf(ref)+"@"+m.Digest); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("%s lists no platform images", ref)
	}
	return ps, nil
}

// imageSize adds up what pulling one platform image downloads: its config and layers.
func imageSize(ctx context.Context, crane, ref string) (int64, error) {
	out, err := (run.Cmd{}).Output(ctx, crane, "manifest", ref)
	if err != nil {
		return 0, fmt.Errorf("reading %s from its registry: %w", ref, err)
	}
	var m struct {
		Config struct{ Size int64 }   `json:"config"`
		Layers []struct{ Size int64 } `json:"layers"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return 0, fmt.Errorf("%s is not an image manifest: %w", ref, err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}

func repoOf(ref string) string {
	repo, _, _ := strings.Cut(ref, "@")
	r, _ := splitTag(repo)
	return r
}

// readChecksums parses "<sha256>  <name>" lines.
func readChecksums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 || name == "" || strings.ContainsAny(name, "/\\") {
			return nil, fmt.Errorf("%s:%d: not a \"<sha256>  <file>\" line: %q", path, n, line)
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("%s lists no files", path)
	}
	return sums, nil
}

func fileDigest(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return File{}, errors.New("it is missing")
		}
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func isArchive(name string) bool {
	return strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".zip")
}

// splitTag splits "host:port/repo:tag"; a ":" before the last "/" is a port.
func splitTag(ref string) (repo, tag string) {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}
