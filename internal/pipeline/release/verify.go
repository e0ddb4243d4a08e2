package release

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/oci"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/provenance"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// goreleaser's record of what it built and pushed (see .goreleaser.yaml).
const (
	artifactsJSON = "artifacts.json"  // goreleaser's record of what it built and pushed
	imageType     = "Docker Manifest" // goreleaser's artifact type for the index ko pushed
	extraDigest   = "Digest"          // goreleaser's Extra key: the pushed digest
)

// Checked is what one verification looked at.
type Checked struct {
	Files        []artifact.File        // every file ContentsFile lists
	Images       []artifact.Image       // every image index it lists, as read from its registry
	Attestations []artifact.Attestation // every attestation it lists
	ArchivesOnly bool                   // the signed contents say the release has no images
	NoVEX        string                 // why the release has no VEX document, as its signed contents say
	Provenance   *Expectation           // what every provenance statement was checked to say; nil: not checked
	Notes        []string
}

// Verify checks the release in dist against its signed contents (ContentsFile): the contents'
// signature first, since nothing it lists can be trusted without it; then every file it lists
// by sha256, checksums.txt's lines against it and checksums.txt's signature, an SBOM for every
// archive, the SLSA provenance of every archive; and in their registries every image it lists:
// the index by digest with the recorded platform manifests, every recorded tag still pointing at
// it, its signature, a verified SBOM attestation on every platform, and provenance and VEX
// attestations on the index and every platform. Provenance must say what ExpectationFrom
// expects (with settings s). Every failure is reported, each naming the artifact. With signatures false (a
// snapshot, or a release run with SKIP=sign) no signature or attestation is checked, and the
// notes say so.
func Verify(ctx context.Context, s settings.Settings, dist string, v sign.Verifier, crane string, signatures bool) (Checked, error) {
	var want Expectation
	if signatures {
		var err error
		if want, _, err = ExpectationFrom(ctx, s, filepath.Dir(dist), v); err != nil {
			return Checked{}, err
		}
	}
	return verifyAgainst(ctx, dist, v, want, crane, signatures)
}

// verifyAgainst is Verify with the provenance's expectation given.
func verifyAgainst(ctx context.Context, dist string, v sign.Verifier, want Expectation, crane string, signatures bool) (Checked, error) {
	var c Checked
	path := filepath.Join(dist, artifact.ContentsFile)
	if _, err := os.Stat(path); err != nil {
		return c, fmt.Errorf("%s is missing: it is the release's signed list of contents, and without it nothing "+
			"says which files, images and attestations to expect; verify a complete release (`mage release`, or "+
			"download %s and %s with the release)", path, artifact.ContentsFile, artifact.ContentsFile+artifact.BundleSuffix)
	}
	if signatures {
		if err := v.VerifyBlob(ctx, path, path+artifact.BundleSuffix); err != nil {
			return c, fmt.Errorf("release in %s does not verify: %s\n(nothing %s lists can be trusted, so nothing else was checked)", dist, run.Brief(err), artifact.ContentsFile)
		}
	} else {
		c.Notes = append(c.Notes, "signatures NOT CHECKED: the release is unsigned (a snapshot, or SKIP=sign)")
	}
	contents, err := artifact.ReadContents(dist)
	if err != nil {
		return c, err
	}
	c.ArchivesOnly, c.NoVEX, c.Attestations = contents.ArchivesOnly, contents.NoVEX, contents.Attestations

	var bad []string
	for _, want := range contents.Files {
		f, err := fileDigest(filepath.Join(dist, want.Name))
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: listed in %s but %v", want.Name, artifact.ContentsFile, err))
			continue
		}
		f.Name, f.Kind = want.Name, want.Kind
		c.Files = append(c.Files, f)
		if want.Kind == artifact.KindChecksums {
			continue // compared line by line below, which names what changed
		}
		if f.SHA256 != want.SHA256 {
			bad = append(bad, fmt.Sprintf("%s: sha256 %s does not match %s (%s): the file was changed after the release", want.Name, f.SHA256, artifact.ContentsFile, want.SHA256))
		}
		if want.Kind == artifact.KindArchive && !slices.ContainsFunc(contents.Files, func(s artifact.File) bool {
			return s.Name == want.Name+artifact.SBOMSuffix && s.Kind == artifact.KindSBOM
		}) {
			bad = append(bad, fmt.Sprintf("%s: no SBOM (%s) in %s", want.Name, want.Name+artifact.SBOMSuffix, artifact.ContentsFile))
		}
	}
	bad = append(bad, checkChecksums(ctx, dist, contents, v, signatures)...)
	if signatures {
		c.Provenance = &want
		bad = append(bad, checkArchiveProvenance(ctx, dist, contents, v, want)...)
	}

	for _, img := range contents.Images {
		checked, problems := verifyImage(ctx, img, contents.Attestations, v, crane, signatures)
		c.Images = append(c.Images, checked)
		bad = append(bad, problems...)
		if signatures {
			bad = append(bad, checkImageAttestations(ctx, dist, img, contents, v, want)...)
		}
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("release in %s does not verify:\n  - %s", dist, strings.Join(bad, "\n  - "))
	}
	return c, nil
}

// checkArchiveProvenance holds every archive to the provenance statement: its bundle verifies
// against the archive (signed by the release's identity, the archive's digest a subject), it
// signs exactly the statement listed, and the statement says what want expects.
func checkArchiveProvenance(ctx context.Context, dist string, contents artifact.Contents, v sign.Verifier, want Expectation) []string {
	i := slices.IndexFunc(contents.Files, func(f artifact.File) bool { return f.Kind == artifact.KindProvenance })
	if i < 0 {
		return []string{fmt.Sprintf("%s lists no provenance: a signed release has a SLSA provenance statement of its archives (%s)", artifact.ContentsFile, artifact.ProvenanceName(project.Name, contents.Version))}
	}
	stmt := contents.Files[i]
	bundle := stmt.Name + artifact.BundleSuffix
	if !slices.ContainsFunc(contents.Files, func(f artifact.File) bool { return f.Name == bundle && f.Kind == artifact.KindAttestation }) {
		return []string{fmt.Sprintf("%s: %s lists no signature bundle of it (%s)", stmt.Name, artifact.ContentsFile, bundle)}
	}
	statement, err := os.ReadFile(filepath.Join(dist, stmt.Name))
	if err != nil {
		return nil // reported as a missing file
	}
	var bad []string
	compared := false
	for _, f := range contents.Files {
		if f.Kind != artifact.KindArchive {
			continue
		}
		data, err := v.VerifyBlobAttestation(ctx, filepath.Join(dist, f.Name), filepath.Join(dist, bundle), artifact.ProvenanceType)
		if err != nil {
			bad = append(bad, run.Brief(err)+" (the provenance is missing, about other artifacts, or not by the release's signer)")
			continue
		}
		// One bundle for every archive: what it signs is compared with the listed file once.
		if !compared {
			compared = true
			if payload, err := provenance.Payload(data); err != nil || !bytes.Equal(payload, statement) {
				bad = append(bad, fmt.Sprintf("%s signs another statement than %s", bundle, stmt.Name))
			}
		}
		if err := provenance.Check(data, want.of(f.SHA256)); err != nil {
			bad = append(bad, fmt.Sprintf("%s: provenance: %s", f.Name, mismatch(err)))
		}
	}
	return bad
}

// checkImageAttestations holds the index and every platform image of img to the release's
// provenance and VEX: each carries a listed attestation of both that verifies, the provenance
// saying what want expects of that digest, the VEX attestation being the release's document.
func checkImageAttestations(ctx context.Context, dist string, img artifact.Image, contents artifact.Contents, v sign.Verifier, want Expectation) []string {
	var doc any
	i := slices.IndexFunc(contents.Files, func(f artifact.File) bool { return f.Kind == artifact.KindVEX })
	if i >= 0 {
		data, err := os.ReadFile(filepath.Join(dist, contents.Files[i].Name))
		if err != nil {
			return nil // reported as a missing file
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return []string{fmt.Sprintf("%s is not JSON: %v", contents.Files[i].Name, err)}
		}
	}
	var bad []string
	subjects := []struct{ what, digest string }{{"index", img.Digest}}
	for _, p := range img.Platforms {
		subjects = append(subjects, struct{ what, digest string }{p.String(), p.Digest})
	}
	for _, s := range subjects {
		ref := img.Repo + "@" + s.digest
		name := fmt.Sprintf("image %s (%s)", img.Ref(), s.what)
		types := []string{artifact.ProvenanceType}
		if doc != nil {
			types = append(types, artifact.VEXType)
		}
		for _, t := range types {
			if !slices.ContainsFunc(contents.Attestations, func(a artifact.Attestation) bool { return a.Image == ref && a.Type == t }) {
				bad = append(bad, fmt.Sprintf("%s: %s lists no %s attestation for it", name, artifact.ContentsFile, t))
				continue
			}
			envs, err := v.VerifiedAttestations(ctx, ref, t)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: no valid %s attestation (missing, or not by the release's signer): %s", name, t, run.Brief(err)))
				continue
			}
			if t == artifact.ProvenanceType {
				bad = append(bad, anyProvenance(name, envs, want.of(s.digest))...)
			} else if !slices.ContainsFunc(envs, func(env []byte) bool { return predicateIs(env, doc) }) {
				bad = append(bad, fmt.Sprintf("%s: no verified %s attestation is the release's VEX document %s", name, t, contents.Files[i].Name))
			}
		}
	}
	return bad
}

// anyProvenance passes when one verified attestation says what want expects (a reproducible
// build of another commit may have attested the same digest too), and otherwise names what each
// got wrong.
func anyProvenance(name string, envs [][]byte, want provenance.Expect) []string {
	var errs []string
	for _, env := range envs {
		err := provenance.Check(env, want)
		if err == nil {
			return nil
		}
		errs = append(errs, mismatch(err))
	}
	return []string{fmt.Sprintf("%s: provenance: %s", name, strings.Join(errs, " | "))}
}

// mismatch is a failed provenance.Check on one line, with the setting that changes what verify
// expects where the statement is sound but about another build (a release of another commit, or
// from CI, verified here).
func mismatch(err error) string {
	var settings []string
	for _, s := range []struct {
		err error
		env string
	}{{provenance.ErrRepository, RepositoryEnv}, {provenance.ErrCommit, CommitEnv}, {provenance.ErrBuilder, BuilderEnv}} {
		if errors.Is(err, s.err) {
			settings = append(settings, s.env)
		}
	}
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	if len(settings) > 0 {
		msg += " (to expect otherwise, set " + strings.Join(settings, ", ") + ")"
	}
	return msg
}

// predicateIs reports whether the statement in a DSSE envelope has doc as its predicate.
func predicateIs(env []byte, doc any) bool {
	payload, err := provenance.Payload(env)
	if err != nil {
		return false
	}
	var st struct{ Predicate any }
	return json.Unmarshal(payload, &st) == nil && reflect.DeepEqual(st.Predicate, doc)
}

// checkChecksums holds checksums.txt to the contents: exactly the archives and SBOMs it lists,
// with their sha256 (what `sha256sum --check` users rely on), and signed by the same identity.
func checkChecksums(ctx context.Context, dist string, contents artifact.Contents, v sign.Verifier, signatures bool) []string {
	sums := filepath.Join(dist, artifact.ChecksumsFile)
	listed, err := readChecksums(sums)
	if errors.Is(err, os.ErrNotExist) {
		return nil // reported as a missing file
	}
	if err != nil {
		return []string{err.Error()}
	}
	bad := checksumsDiff(listed, contents)
	if len(bad) == 0 {
		// Same lines, other bytes (order, spacing): still not the file that was released.
		want := contents.Files[slices.IndexFunc(contents.Files, func(f artifact.File) bool { return f.Kind == artifact.KindChecksums })]
		if got, err := fileDigest(sums); err == nil && got.SHA256 != want.SHA256 {
			bad = append(bad, fmt.Sprintf("%s: sha256 %s does not match %s (%s): the file was changed after the release", artifact.ChecksumsFile, got.SHA256, artifact.ContentsFile, want.SHA256))
		}
	}
	if signatures {
		if err := v.VerifyBlob(ctx, sums, sums+artifact.BundleSuffix); err != nil {
			bad = append(bad, run.Brief(err))
		}
	}
	return bad
}

// inventory lists a release without checking it (SKIP=verify): what its contents file lists.
func inventory(dist string) (Checked, error) {
	c := Checked{Notes: []string{"NOT VERIFIED (SKIP=verify): run `mage verify`"}}
	contents, err := artifact.ReadContents(dist)
	if err != nil {
		return c, err
	}
	c.Files, c.Images, c.Attestations = contents.Files, contents.Images, contents.Attestations
	c.ArchivesOnly, c.NoVEX = contents.ArchivesOnly, contents.NoVEX
	return c, nil
}

// verifyImage checks one index in its registry: it is there by digest with the recorded
// platform manifests, every recorded tag points at it, its signature verifies, and every
// platform carries a listed SBOM attestation that verifies.
func verifyImage(ctx context.Context, want artifact.Image, atts []artifact.Attestation, v sign.Verifier, crane string, signatures bool) (artifact.Image, []string) {
	out := artifact.Image{Repo: want.Repo, Digest: want.Digest, Tags: want.Tags}
	var bad []string
	platforms, err := IndexPlatforms(ctx, crane, want.Ref())
	if err != nil {
		return want, []string{fmt.Sprintf("image %s is missing from its registry (or unreadable): %s", want.Ref(), run.Brief(err))}
	}
	out.Platforms = platforms
	for _, w := range want.Platforms {
		if !slices.ContainsFunc(platforms, func(p artifact.Platform) bool { return p.String() == w.String() && p.Digest == w.Digest }) {
			bad = append(bad, fmt.Sprintf("image %s: the index lacks platform %s %s that %s lists", want.Ref(), w, w.Digest, artifact.ContentsFile))
		}
	}
	for _, p := range platforms {
		if !slices.ContainsFunc(want.Platforms, func(w artifact.Platform) bool { return p.String() == w.String() && p.Digest == w.Digest }) {
			bad = append(bad, fmt.Sprintf("image %s: the index holds platform %s %s that %s does not list", want.Ref(), p, p.Digest, artifact.ContentsFile))
		}
	}
	for _, tag := range want.Tags {
		d, err := oci.Crane{Bin: crane}.Digest(ctx, want.Repo+":"+tag)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("image %s: tag %s:%s is missing from its registry: %s", want.Ref(), want.Repo, tag, run.Brief(err)))
		case d != want.Digest:
			bad = append(bad, fmt.Sprintf("image %s: tag %s:%s points at %s, not at the released index", want.Ref(), want.Repo, tag, d))
		}
	}
	if !signatures {
		return out, bad
	}
	if err := v.VerifyImage(ctx, want.Ref()); err != nil {
		bad = append(bad, run.Brief(err))
	}
	for _, p := range want.Platforms {
		ref := want.Repo + "@" + p.Digest
		i := slices.IndexFunc(atts, func(a artifact.Attestation) bool { return a.Image == ref && a.Type == artifact.SBOMType })
		if i < 0 {
			bad = append(bad, fmt.Sprintf("image %s (%s): %s lists no %s SBOM attestation for it", want.Ref(), p, artifact.ContentsFile, artifact.SBOMType))
			continue
		}
		if err := v.VerifyAttestation(ctx, ref, artifact.SBOMType); err != nil {
			bad = append(bad, fmt.Sprintf("image %s (%s): no valid SBOM attestation (missing, or not by the release's signer): %s", want.Ref(), p, run.Brief(err)))
		}
	}
	return out, bad
}

// ReadImages reads the image indexes ko pushed from goreleaser's artifacts.json: one record
// per index (ko names it repo@digest, or repo:tag@digest for a single tag).
func ReadImages(dist string) ([]artifact.Image, error) {
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
	var recs []artifact.Image
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
		i := slices.IndexFunc(recs, func(r artifact.Image) bool { return r.Repo == repo && r.Digest == digest })
		if i < 0 {
			recs = append(recs, artifact.Image{Repo: repo, Digest: digest})
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
func IndexPlatforms(ctx context.Context, crane, ref string) ([]artifact.Platform, error) {
	out, err := oci.Crane{Bin: crane}.Manifest(ctx, ref)
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
	var ps []artifact.Platform
	for _, m := range idx.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue
		}
		p := artifact.Platform{OS: m.Platform.OS, Arch: m.Platform.Arch, Variant: m.Platform.Variant, Digest: m.Digest}
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
	out, err := oci.Crane{Bin: crane}.Manifest(ctx, ref)
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

func fileDigest(path string) (artifact.File, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return artifact.File{}, errors.New("it is missing")
		}
		return artifact.File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return artifact.File{}, err
	}
	return artifact.File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
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
