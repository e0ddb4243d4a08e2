package release

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
)

// validContents is a well-formed release.json: one archive, its SBOM, the checksums, the
// provenance and its bundle, the VEX document, and an image with one platform and its
// attestations.
func validContents() artifact.Contents {
	d := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	const prov, vexDoc = "slipway_1.0.0.provenance.json", "slipway_1.0.0.vex.json"
	index, platform := "ghcr.io/acme/slipway@"+d("1"), "ghcr.io/acme/slipway@"+d("2")
	return artifact.Contents{
		Schema: artifact.ContentsSchema, Version: "1.0.0",
		Files: []artifact.File{
			{Name: "slipway_1.0.0_linux_amd64.tar.gz", Kind: artifact.KindArchive, Size: 1, SHA256: strings.Repeat("a", 64)},
			{Name: "slipway_1.0.0_linux_amd64.tar.gz" + artifact.SBOMSuffix, Kind: artifact.KindSBOM, Size: 1, SHA256: strings.Repeat("b", 64)},
			{Name: artifact.ChecksumsFile, Kind: artifact.KindChecksums, Size: 1, SHA256: strings.Repeat("c", 64)},
			{Name: "slipway_1.0.0_image_linux_amd64" + artifact.SBOMSuffix, Kind: artifact.KindImageSBOM, Size: 1, SHA256: strings.Repeat("d", 64)},
			{Name: prov, Kind: artifact.KindProvenance, Size: 1, SHA256: strings.Repeat("e", 64)},
			{Name: prov + artifact.BundleSuffix, Kind: artifact.KindAttestation, Size: 1, SHA256: strings.Repeat("f", 64)},
			{Name: vexDoc, Kind: artifact.KindVEX, Size: 1, SHA256: strings.Repeat("0", 64)},
		},
		Images: []artifact.Image{{Repo: "ghcr.io/acme/slipway", Digest: d("1"), Tags: []string{"1.0.0"},
			Platforms: []artifact.Platform{{OS: "linux", Arch: "amd64", Digest: d("2")}}}},
		Attestations: []artifact.Attestation{
			{Image: index, Type: artifact.ProvenanceType, File: prov, Digests: []string{d("3")}},
			{Image: index, Type: artifact.VEXType, File: vexDoc, Digests: []string{d("4")}},
			{Image: platform, Type: artifact.ProvenanceType, File: prov, Digests: []string{d("5")}},
			{Image: platform, Type: artifact.VEXType, File: vexDoc, Digests: []string{d("6")}},
			{Image: platform, Type: artifact.SBOMType, File: "slipway_1.0.0_image_linux_amd64" + artifact.SBOMSuffix, Digests: []string{d("7")}},
		},
	}
}

func writeContentsJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	if err := os.WriteFile(filepath.Join(dist, artifact.ContentsFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dist
}

func TestReadContentsRoundTrips(t *testing.T) {
	want := validContents()
	got, err := artifact.ReadContents(writeContentsJSON(t, want))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Fatalf("read back\n%s\nwant\n%s", a, b)
	}
}

// A contents file verify cannot make sense of is refused, naming what is wrong.
func TestReadContentsRefusesMalformedLists(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(c *artifact.Contents)
		want string
	}{
		"another schema":        {func(c *artifact.Contents) { c.Schema = 1 }, "schema 1, this verify reads schema 2"},
		"a path, not a name":    {func(c *artifact.Contents) { c.Files[0].Name = "../cosign.key" }, `file "../cosign.key": not a file name in dist/`},
		"a short digest":        {func(c *artifact.Contents) { c.Files[0].SHA256 = "abc" }, `sha256 "abc" is not 64 hex digits`},
		"a file twice":          {func(c *artifact.Contents) { c.Files[1].Name = c.Files[0].Name }, "is listed twice"},
		"an unknown kind":       {func(c *artifact.Contents) { c.Files[0].Kind = "binary" }, `unknown kind "binary"`},
		"no checksums file":     {func(c *artifact.Contents) { c.Files = slices.Delete(c.Files, 2, 3) }, "it does not list checksums.txt"},
		"no images, no flag":    {func(c *artifact.Contents) { c.Images, c.Attestations = nil, nil }, "lists no image and does not say archives_only"},
		"images and the flag":   {func(c *artifact.Contents) { c.ArchivesOnly = true }, "archives_only is set but 1 image(s) are listed"},
		"an image by tag":       {func(c *artifact.Contents) { c.Images[0].Digest = "1.0.0" }, "want a repository and a sha256 digest"},
		"an image, no platform": {func(c *artifact.Contents) { c.Images[0].Platforms = nil }, "lists no platform"},
		"an SBOM attestation elsewhere": {func(c *artifact.Contents) { c.Attestations[4].Image = c.Attestations[0].Image },
			"not a platform manifest of a listed image"},
		"an attestation of no listed image": {func(c *artifact.Contents) { c.Attestations[0].Image = "ghcr.io/acme/other@" + c.Images[0].Digest },
			"not a listed image or platform manifest"},
		"an attestation of no listed SBOM": {func(c *artifact.Contents) { c.Attestations[4].File = "other.json" },
			`have cyclonedx of "other.json"`},
		"a provenance attestation of the VEX document": {func(c *artifact.Contents) { c.Attestations[0].File = "slipway_1.0.0.vex.json" },
			`have slsaprovenance1 of "slipway_1.0.0.vex.json"`},
		"an unknown attestation type": {func(c *artifact.Contents) { c.Attestations[1].Type = "spdx" }, "have spdx of"},
		"an attestation digest by tag": {func(c *artifact.Contents) { c.Attestations[1].Digests = []string{"latest"} },
			`digest "latest" is not sha256:<hex>`},
		"two provenance statements": {func(c *artifact.Contents) {
			c.Files = append(c.Files, artifact.File{Name: "other.provenance.json", Kind: artifact.KindProvenance, SHA256: strings.Repeat("9", 64)})
		}, "it lists 2 files of kind provenance: a release has one"},
		"a bundle of no statement": {func(c *artifact.Contents) { c.Files[5].Name = "checksums.txt.intoto.sigstore.json" },
			"attestation checksums.txt.intoto.sigstore.json: want the bundle of a listed provenance statement"},
		"no VEX and no reason": {func(c *artifact.Contents) { c.Files = c.Files[:6] }, "it must list a VEX document or say why there is none (no_vex)"},
		"a VEX and a reason":   {func(c *artifact.Contents) { c.NoVEX = "offline" }, "it must list a VEX document or say why there is none (no_vex), and not both"},
	} {
		t.Run(name, func(t *testing.T) {
			c := validContents()
			tc.edit(&c)
			_, err := artifact.ReadContents(writeContentsJSON(t, c))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadContents: %v, want %q", err, tc.want)
			}
		})
	}
	// A field verify does not know is not silently ignored: it may be a check this verify lacks.
	var m map[string]any
	data, _ := json.Marshal(validContents())
	_ = json.Unmarshal(data, &m)
	m["signed_by"] = "anyone"
	if _, err := artifact.ReadContents(writeContentsJSON(t, m)); err == nil || !strings.Contains(err.Error(), `unknown field "signed_by"`) {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestChecksumsDiffNamesEveryLine(t *testing.T) {
	c := validContents()
	listed := map[string]string{
		"slipway_1.0.0_linux_amd64.tar.gz": strings.Repeat("e", 64), // changed
		"extra.zip":                        strings.Repeat("f", 64), // gained
		// the SBOM's line is lost; image SBOMs and checksums.txt itself are never listed
	}
	got := strings.Join(checksumsDiff(listed, c), "\n")
	for _, want := range []string{
		"checksums.txt gained a line: it lists extra.zip, which release.json does not",
		"checksums.txt: the line for slipway_1.0.0_linux_amd64.tar.gz has sha256 " + strings.Repeat("e", 64) + ", release.json says " + strings.Repeat("a", 64),
		"checksums.txt lost a line: it does not list slipway_1.0.0_linux_amd64.tar.gz.sbom.cdx.json, which release.json does",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "\n") != 2 {
		t.Errorf("want exactly three differences:\n%s", got)
	}
	same := map[string]string{
		"slipway_1.0.0_linux_amd64.tar.gz":                       strings.Repeat("a", 64),
		"slipway_1.0.0_linux_amd64.tar.gz" + artifact.SBOMSuffix: strings.Repeat("b", 64),
	}
	if d := checksumsDiff(same, c); len(d) != 0 {
		t.Errorf("matching lines differ: %v", d)
	}
}

// The release refuses to record contents that are not what it built.
func TestContentsOfRefusesAnInconsistentBuild(t *testing.T) {
	f := newFixture(t, true)
	list := func() error {
		s := f.signer(f.ours)
		_, err := contentsOf(context.Background(), f.dist, fixtureVersion, f.crane, false, built{signer: &s, noVEX: "not made"}, nil)
		return err
	}
	if err := list(); err != nil {
		t.Fatal(err)
	}
	f.write("slipway_1.0.0_windows_amd64.zip", "zip bytez")
	if err := list(); err == nil || !strings.Contains(err.Error(), "slipway_1.0.0_windows_amd64.zip changed after goreleaser listed it") {
		t.Fatalf("a file changed after checksums.txt: %v", err)
	}
	f.write("slipway_1.0.0_windows_amd64.zip", fixtureFiles["slipway_1.0.0_windows_amd64.zip"])

	config := filepath.Join(filepath.Dir(f.dist), ConfigFile)
	if err := os.WriteFile(config, []byte("builds: [{id: slipway}]\nkos: [{build: slipway, platforms: [linux/amd64, linux/arm64, linux/arm/v7]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := list(); err == nil || !strings.Contains(err.Error(), "platform linux/arm/v7 (.goreleaser.yaml) is missing from the index") {
		t.Fatalf("an index without a configured platform: %v", err)
	}
	if err := os.WriteFile(config, []byte("builds: [{id: slipway}]\nkos: [{build: slipway, platforms: [linux/amd64]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	f.craneOut("delete", f.image.Repo+":latest")
	f.craneOut("delete", f.image.Repo+":"+fixtureVersion)
	if err := list(); err == nil || !strings.Contains(err.Error(), "no tag of "+f.image.Repo+" points at "+f.image.Digest) {
		t.Fatalf("an index without tags: %v", err)
	}

	os.Remove(f.path(artifactsJSON))
	if err := list(); err == nil || !strings.Contains(err.Error(), artifactsJSON) {
		t.Fatalf("no record of the pushed images: %v", err)
	}
	f.write(artifactsJSON, "[]")
	if err := list(); err == nil || !strings.Contains(err.Error(), "goreleaser pushed no image") {
		t.Fatalf("no image pushed: %v", err)
	}
}
