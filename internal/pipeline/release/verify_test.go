package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/provenance"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

func TestVerifyPassesAnIntactRelease(t *testing.T) {
	f := newFixture(t, true)
	c, err := f.verify()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, file := range c.Files {
		kinds = append(kinds, file.Kind)
	}
	slices.Sort(kinds)
	want := []string{artifact.KindArchive, artifact.KindArchive, artifact.KindAttestation, artifact.KindChecksums, artifact.KindImageSBOM, artifact.KindImageSBOM, artifact.KindProvenance, artifact.KindSBOM, artifact.KindSBOM, artifact.KindSignature, artifact.KindVEX}
	if !slices.Equal(kinds, want) {
		t.Errorf("checked files of kinds %v, want %v", kinds, want)
	}
	if len(c.Images) != 1 || c.Images[0].Ref() != f.image.Ref() || strings.Join(c.Images[0].Tags, ",") != "1.0.0,latest" ||
		len(c.Images[0].Platforms) != 2 || c.ArchivesOnly {
		t.Errorf("checked images %+v, want %s tagged 1.0.0 and latest (and not the scratch tags) with two platforms", c.Images, f.image.Ref())
	}
	// An SBOM per platform; provenance and VEX on the index and each platform; each with the
	// digest of its manifest in the registry.
	atts := f.contents().Attestations
	if len(atts) != 8 || len(c.Attestations) != 8 {
		t.Errorf("release.json lists %d attestations (verify saw %d), want 2 SBOMs, 3 provenance, 3 VEX", len(atts), len(c.Attestations))
	}
	for _, a := range atts {
		if len(a.Digests) != 1 {
			t.Errorf("attestation %s %s: digests %v, want the one manifest attached", a.Type, a.Image, a.Digests)
		}
	}
	if c.Provenance == nil || *c.Provenance != fixtureExpectation {
		t.Errorf("provenance checked against %v, want %v", c.Provenance, fixtureExpectation)
	}
	if len(c.Notes) != 0 {
		t.Errorf("notes %q on a fully checked release", c.Notes)
	}
}

// The signed contents are verify's root: without them, or with a signature that is not the
// release's, nothing is trusted and nothing else is checked.
func TestVerifyNeedsSignedContents(t *testing.T) {
	f := newFixture(t, false)
	contents := f.read(artifact.ContentsFile)

	os.Remove(f.path(artifact.ContentsFile))
	f.fails([]string{"release.json is missing: it is the release's signed list of contents"})

	f.write(artifact.ContentsFile, contents)
	bundle := f.read(artifact.ContentsFile + artifact.BundleSuffix)
	os.Remove(f.path(artifact.ContentsFile + artifact.BundleSuffix))
	f.fails([]string{"release.json is not signed: its signature bundle", "nothing release.json lists can be trusted"})

	f.signBlob(artifact.ContentsFile, f.theirs)
	f.fails([]string{"release.json: signature does not verify (public key " + f.ours.Public})

	// Signed by us, then edited: archives_only flipped, which would pass off a release whose
	// images were dropped from the list.
	f.write(artifact.ContentsFile+artifact.BundleSuffix, bundle)
	f.write(artifact.ContentsFile, strings.Replace(contents, `"archives_only": true`, `"archives_only": false`, 1))
	f.fails([]string{"release.json: signature does not verify"})

	f.write(artifact.ContentsFile, contents)
	if _, err := f.verify(); err != nil {
		t.Fatalf("restored release: %v", err)
	}
}

// A release without images passes only when its signed contents say so.
func TestVerifyArchivesOnlyOnlyWhenSignedSaysSo(t *testing.T) {
	f := newFixture(t, false)
	c, err := f.verify()
	if err != nil || !c.ArchivesOnly || len(c.Images) != 0 {
		t.Fatalf("archives-only release: %+v, %v", c, err)
	}
	contents := f.contents()
	contents.ArchivesOnly = false
	f.writeContents(contents, f.ours)
	f.fails([]string{"it lists no image and does not say archives_only"})
}

func TestVerifyNamesAChangedOrMissingFile(t *testing.T) {
	f := newFixture(t, false)
	f.write("slipway_1.0.0_linux_amd64.tar.gz", "archive bytez")
	os.Remove(f.path("slipway_1.0.0_windows_amd64.zip" + artifact.SBOMSuffix))
	f.fails([]string{
		"slipway_1.0.0_linux_amd64.tar.gz: sha256 " + sha("archive bytez") + " does not match release.json (" + sha("archive bytes") + ")",
		"slipway_1.0.0_windows_amd64.zip.sbom.cdx.json: listed in release.json but it is missing",
	})
}

func TestVerifyWantsAnSBOMForEveryArchive(t *testing.T) {
	f := newFixture(t, false)
	c := f.contents()
	c.Files = slices.DeleteFunc(c.Files, func(file artifact.File) bool {
		return file.Name == "slipway_1.0.0_windows_amd64.zip"+artifact.SBOMSuffix
	})
	f.writeContents(c, f.ours)
	f.fails([]string{"slipway_1.0.0_windows_amd64.zip: no SBOM (slipway_1.0.0_windows_amd64.zip.sbom.cdx.json) in release.json"})
}

// checksums.txt must list exactly what release.json says, even when it is signed again with
// the release's own key (so only this check can catch it).
func TestVerifyHoldsChecksumsToTheContents(t *testing.T) {
	f := newFixture(t, false)
	orig := f.read(artifact.ChecksumsFile)
	lines := strings.Split(strings.TrimSuffix(orig, "\n"), "\n")
	for _, tc := range []struct {
		name, sums, want string
	}{
		{"a line lost", strings.Join(lines[1:], "\n") + "\n", "checksums.txt lost a line: it does not list slipway_1.0.0_linux_amd64.tar.gz, which release.json does"},
		{"a line gained", orig + sha("notes") + "  NOTES.txt\n", "checksums.txt gained a line: it lists NOTES.txt, which release.json does not"},
		{"a line changed", strings.Replace(orig, sha("zip bytes"), sha("zip bytez"), 1),
			"checksums.txt: the line for slipway_1.0.0_windows_amd64.zip has sha256 " + sha("zip bytez")},
		{"the same lines reordered", strings.Join(append(slices.Clone(lines[1:]), lines[0]), "\n") + "\n", "checksums.txt: sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.write("NOTES.txt", "notes")
			f.write(artifact.ChecksumsFile, tc.sums)
			f.signBlob(artifact.ChecksumsFile, f.ours)
			f.fails([]string{tc.want}, "signature does not verify")
		})
	}
}

// checksums.txt's own signature is checked too: a bundle by another key fails even when the
// (signed) contents record exactly that bundle.
func TestVerifyChecksCheckumsSignature(t *testing.T) {
	f := newFixture(t, false)
	f.signBlob(artifact.ChecksumsFile, f.theirs)
	f.relist()
	f.fails([]string{"checksums.txt: signature does not verify"}, "release.json: signature")
}

// Without signatures (SKIP=sign, a snapshot) the files are still held to the contents, and the
// notes say the signatures were not checked.
func TestVerifyWithoutSignaturesSaysSo(t *testing.T) {
	f := newFixture(t, false)
	os.Remove(f.path(artifact.ContentsFile + artifact.BundleSuffix))
	c, err := Verify(context.Background(), settings.Current(), f.dist, f.verifier(), f.crane, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(c.Notes, "\n"), "signatures NOT CHECKED") {
		t.Fatalf("notes %q do not say the signatures were skipped", c.Notes)
	}
	f.write("slipway_1.0.0_windows_amd64.zip", "zip bytez")
	if _, err := Verify(context.Background(), settings.Current(), f.dist, f.verifier(), f.crane, false); err == nil || !strings.Contains(err.Error(), "slipway_1.0.0_windows_amd64.zip: sha256") {
		t.Fatalf("an unsigned release with a changed archive: %v", err)
	}
}

func TestVerifyRefusesAMalformedChecksumsFile(t *testing.T) {
	f := newFixture(t, false)
	f.write(artifact.ChecksumsFile, "abc  ../etc/passwd\n")
	f.fails([]string{"not a \"<sha256>  <file>\" line"})
}

// Every image check in the registry, one tamper each, with the release's own files intact.
func TestVerifyChecksEveryImageInItsRegistry(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		tamper func(f *fixture)
		want   func(f *fixture) string
	}{
		{"a tag moved", func(f *fixture) {
			f.craneOut("tag", f.image.Repo+"@"+f.image.Platforms[0].Digest, "latest")
		}, func(f *fixture) string {
			return "tag " + f.image.Repo + ":latest points at " + f.image.Platforms[0].Digest + ", not at the released index"
		}},
		{"a tag deleted", func(f *fixture) {
			f.craneOut("delete", f.image.Repo+":latest")
		}, func(f *fixture) string { return "tag " + f.image.Repo + ":latest is missing from its registry" }},
		{"the index deleted", func(f *fixture) {
			f.craneOut("delete", f.image.Ref())
		}, func(f *fixture) string { return "image " + f.image.Ref() + " is missing from its registry" }},
		{"unsigned", func(f *fixture) {
			f.deleteCosignTag(f.image.Digest)
		}, func(f *fixture) string { return "image " + f.image.Ref() + ": signature does not verify" }},
		{"signed by another key", func(f *fixture) {
			f.deleteCosignTag(f.image.Digest)
			f.signImage(f.theirs)
		}, func(f *fixture) string { return "image " + f.image.Ref() + ": signature does not verify" }},
		{"an attestation deleted", func(f *fixture) {
			f.deleteCosignTag(f.image.Platforms[1].Digest)
		}, func(f *fixture) string { return "image " + f.image.Ref() + " (linux/arm64): no valid SBOM attestation" }},
		{"an attestation by another key", func(f *fixture) {
			f.deleteCosignTag(f.image.Platforms[1].Digest)
			f.attest(f.image.Platforms[1], f.theirs)
		}, func(f *fixture) string { return "image " + f.image.Ref() + " (linux/arm64): no valid SBOM attestation" }},
		{"an attestation left out of the contents", func(f *fixture) {
			c := f.contents()
			c.Attestations = c.Attestations[:1]
			f.writeContents(c, f.ours)
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + " (linux/arm64): release.json lists no cyclonedx SBOM attestation for it"
		}},
		{"a platform the index lacks", func(f *fixture) {
			c := f.contents()
			c.Images[0].Platforms = append(c.Images[0].Platforms, artifact.Platform{OS: "linux", Arch: "arm", Variant: "v7", Digest: "sha256:" + strings.Repeat("7", 64)})
			f.writeContents(c, f.ours)
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + ": the index lacks platform linux/arm/v7 sha256:" + strings.Repeat("7", 64) + " that release.json lists"
		}},
		{"a platform left out of the contents", func(f *fixture) {
			c := f.contents()
			c.Images[0].Platforms = c.Images[0].Platforms[:1]
			c.Attestations = c.Attestations[:1]
			c.Files = slices.DeleteFunc(c.Files, func(file artifact.File) bool { return strings.Contains(file.Name, "linux_arm64"+artifact.SBOMSuffix) })
			f.writeContents(c, f.ours)
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + ": the index holds platform linux/arm64 " + f.image.Platforms[1].Digest + " that release.json does not list"
		}},
		{"an image SBOM changed", func(f *fixture) {
			f.write(artifact.ImageSBOMName("slipway", fixtureVersion, f.image.Platforms[1]), `{"bomFormat":"CycloneDX","components":[]}`)
		}, func(f *fixture) string { return "slipway_1.0.0_image_linux_arm64.sbom.cdx.json: sha256" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, true)
			if _, err := f.verify(); err != nil {
				t.Fatalf("before the tamper: %v", err)
			}
			tc.tamper(f)
			f.fails([]string{tc.want(f)})
		})
	}

	// Without signatures, an unsigned image passes (SKIP=sign), and the notes say so.
	f := newFixture(t, true)
	f.deleteCosignTag(f.image.Digest)
	c, err := Verify(ctx, settings.Current(), f.dist, f.verifier(), f.crane, false)
	if err != nil || !strings.Contains(strings.Join(c.Notes, "\n"), "signatures NOT CHECKED") {
		t.Fatalf("unsigned image without signature checks: %+v, %v", c.Notes, err)
	}
}

func TestReadImagesReadsKosIndexes(t *testing.T) {
	root := writeConfig(t, "builds: [{id: slipway}]\nkos:\n  - build: slipway\n    platforms: [linux/amd64, linux/arm64]\n")
	dist := filepath.Join(root, "dist")
	if err := os.Mkdir(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	if ps, err := imagePlatforms(dist); err != nil || strings.Join(ps, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("imagePlatforms = %v, %v", ps, err)
	}
	digest := "sha256:" + strings.Repeat("a", 64)
	// ko names the index repo@digest, or repo:tag@digest when it pushed a single tag.
	js := fmt.Sprintf(`[
	  {"name":"slipway_1.0.0_linux_amd64.tar.gz","type":"Archive"},
	  {"name":"127.0.0.1:5000/slipway@%s","type":"Docker Manifest","extra":{"Digest":%q}},
	  {"name":"127.0.0.1:5000/other:1.0.0@%s","type":"Docker Manifest","extra":{"Digest":%q}}
	]`, digest, digest, digest, digest)
	if err := os.WriteFile(filepath.Join(dist, artifactsJSON), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	imgs, err := ReadImages(dist)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || imgs[0].Repo != "127.0.0.1:5000/slipway" || imgs[0].Digest != digest || len(imgs[0].Tags) != 0 ||
		imgs[1].Repo != "127.0.0.1:5000/other" || strings.Join(imgs[1].Tags, ",") != "1.0.0" {
		t.Fatalf("ReadImages = %+v", imgs)
	}

	unpushed := `[{"name":"ko.local/slipway:1.0.0","type":"Docker Manifest","extra":{}}]`
	if err := os.WriteFile(filepath.Join(dist, artifactsJSON), []byte(unpushed), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadImages(dist); err == nil || !strings.Contains(err.Error(), "was not pushed") {
		t.Fatalf("an image without digest: %v", err)
	}
}

// Every way the archives' provenance must fail, one tamper each on an otherwise intact release
// whose list is signed again by the release (so only the provenance check can catch it).
func TestVerifyChecksTheArchivesProvenance(t *testing.T) {
	const otherCommit = "fedcba9876543210fedcba9876543210fedcba98"
	const workflow = "https://github.com/slipway-dev/slipway/.github/workflows/release.yml@refs/tags/v1.0.0"
	stmt := artifact.ProvenanceName("slipway", fixtureVersion)
	bundle := stmt + artifact.BundleSuffix
	for _, tc := range []struct {
		name   string
		tamper func(f *fixture)
		want   []string
	}{
		{"an attestation for another digest", func(f *fixture) {
			in := f.provenanceInputs()
			in.Subjects[1].SHA256 = sha("other zip bytes")
			f.writeProvenance(in, f.ours)
			f.relist()
		}, []string{"slipway_1.0.0_windows_amd64.zip: slsaprovenance1 attestation", "provided artifact digests do not match digests in statement"}},
		{"another commit", func(f *fixture) {
			in := f.provenanceInputs()
			in.Commit = otherCommit
			f.writeProvenance(in, f.ours)
			f.relist()
		}, []string{
			"slipway_1.0.0_linux_amd64.tar.gz: provenance: another commit: externalParameters.commit is \"" + otherCommit + "\", want \"" + fixtureCommit + "\"",
			"slipway_1.0.0_windows_amd64.zip: provenance: another commit",
			"(to expect otherwise, set VERIFY_SOURCE_COMMIT)",
		}},
		{"another builder", func(f *fixture) {
			in := f.provenanceInputs()
			in.Run = provenance.Run{BuilderID: workflow, InvocationID: "https://github.com/slipway-dev/slipway/actions/runs/1/attempts/1"}
			f.writeProvenance(in, f.ours)
			f.relist()
		}, []string{"slipway_1.0.0_linux_amd64.tar.gz: provenance: another builder: built by \"" + workflow + "\", want \"" + provenance.LocalBuilder + "\""}},
		{"another key", func(f *fixture) {
			f.writeProvenance(f.provenanceInputs(), f.theirs)
			f.relist()
		}, []string{"slipway_1.0.0_linux_amd64.tar.gz: slsaprovenance1 attestation", bundle + " does not verify (public key ", "not by the release's signer"}},
		{"a missing attestation", func(f *fixture) {
			os.Remove(f.path(bundle))
		}, []string{bundle + ": listed in release.json but it is missing", "slipway_1.0.0_linux_amd64.tar.gz has no slsaprovenance1 attestation"}},
		{"provenance left out of the contents", func(f *fixture) {
			c := f.contents()
			c.Files = slices.DeleteFunc(c.Files, func(file artifact.File) bool {
				return file.Kind == artifact.KindProvenance || file.Kind == artifact.KindAttestation
			})
			f.writeContents(c, f.ours)
		}, []string{"release.json lists no provenance: a signed release has a SLSA provenance statement of its archives (" + stmt + ")"}},
		{"a statement other than the one signed", func(f *fixture) {
			in := f.provenanceInputs()
			in.Version = "v9.9.9"
			data, err := provenance.Statement(in)
			if err != nil {
				t.Fatal(err)
			}
			f.write(stmt, string(data))
			f.relist()
		}, []string{bundle + " signs another statement than " + stmt}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, false)
			tc.tamper(f)
			f.fails(tc.want)
		})
	}
}

// Every way an image's provenance and VEX attestations must fail. cosign keeps every attestation
// of a digest under one tag; a tamper replaces them all with what it attaches.
func TestVerifyChecksTheImagesProvenanceAndVEX(t *testing.T) {
	ctx := context.Background()
	const otherCommit = "fedcba9876543210fedcba9876543210fedcba98"
	const workflow = "https://github.com/slipway-dev/slipway/.github/workflows/release.yml@refs/tags/v1.0.0"
	arm64 := func(f *fixture) string { return f.image.Repo + "@" + f.image.Platforms[1].Digest }
	// attach replaces what is attached to ref with one provenance predicate made of in, signed with k.
	attach := func(f *fixture, ref string, in provenance.Inputs, k sign.KeyPair) {
		f.t.Helper()
		f.deleteCosignTag(strings.SplitN(ref, "@", 2)[1])
		pred, err := provenance.Predicate(in)
		if err != nil {
			f.t.Fatal(err)
		}
		path := filepath.Join(f.t.TempDir(), "predicate.json")
		writeFile(f.t, path, string(pred))
		if err := f.signer(k).Attest(ctx, ref, artifact.ProvenanceType, path); err != nil {
			f.t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		tamper func(f *fixture)
		want   func(f *fixture) string
	}{
		{"an attestation for another digest", func(f *fixture) {
			// The amd64 image's provenance attestation, attached to the arm64 image in place of its
			// own (cosign attests only the digest it is given, so the referrer is made by hand:
			// crane, pushing a manifest with a subject, adds it to the subject's referrers).
			amd, arm := f.image.Platforms[0].Digest, f.image.Platforms[1].Digest
			theirs, err := attestationDigests(ctx, f.crane, f.image.Repo+"@"+amd, artifact.ProvenanceType)
			if err != nil {
				t.Fatal(err)
			}
			own, err := attestationDigests(ctx, f.crane, arm64(f), artifact.ProvenanceType)
			if err != nil {
				t.Fatal(err)
			}
			moved := f.editManifest(f.image.Repo+"@"+theirs[0], func(m map[string]any) {
				m["subject"].(map[string]any)["digest"] = arm
				m["subject"].(map[string]any)["size"] = len(f.craneOut("manifest", f.image.Repo+"@"+arm))
			})
			f.editManifest(f.image.Repo+":"+strings.Replace(arm, ":", "-", 1), func(idx map[string]any) {
				idx["manifests"] = slices.DeleteFunc(idx["manifests"].([]any), func(m any) bool { return m.(map[string]any)["digest"] == own[0] })
			})
			f.craneOut("delete", f.image.Repo+"@"+own[0])
			if refs, err := stagedReferrers(ctx, f.crane, f.image.Repo, arm); err != nil || !slices.Contains(refs, moved) || slices.Contains(refs, own[0]) {
				t.Fatalf("the arm64 image's referrers %v (%v): want %s in place of %s", refs, err, moved, own[0])
			}
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + " (linux/arm64): no valid slsaprovenance1 attestation (missing, or not by the release's signer)"
		}},
		{"another commit", func(f *fixture) {
			in := f.provenanceInputs()
			in.Commit = otherCommit
			attach(f, arm64(f), in, f.ours)
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + " (linux/arm64): provenance: another commit: externalParameters.commit is \"" + otherCommit + "\""
		}},
		{"another builder", func(f *fixture) {
			in := f.provenanceInputs()
			in.Run = provenance.Run{BuilderID: workflow, InvocationID: "https://github.com/slipway-dev/slipway/actions/runs/1/attempts/1"}
			attach(f, f.image.Ref(), in, f.ours)
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + " (index): provenance: another builder: built by \"" + workflow + "\""
		}},
		{"another key", func(f *fixture) {
			attach(f, arm64(f), f.provenanceInputs(), f.theirs)
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + " (linux/arm64): no valid slsaprovenance1 attestation (missing, or not by the release's signer)"
		}},
		{"a missing attestation", func(f *fixture) {
			f.deleteCosignTag(f.image.Platforms[1].Digest)
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + " (linux/arm64): no valid slsaprovenance1 attestation"
		}},
		{"an attestation left out of the contents", func(f *fixture) {
			c := f.contents()
			c.Attestations = slices.DeleteFunc(c.Attestations, func(a artifact.Attestation) bool {
				return a.Image == f.image.Ref() && a.Type == artifact.ProvenanceType
			})
			f.writeContents(c, f.ours)
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + " (index): release.json lists no slsaprovenance1 attestation for it"
		}},
		{"a VEX attestation of another document", func(f *fixture) {
			f.deleteCosignTag(f.image.Platforms[0].Digest)
			doc := filepath.Join(t.TempDir(), "other.vex.json")
			writeFile(t, doc, `{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/other","author":"someone","timestamp":"2026-11-02T10:00:00Z","version":1,"statements":[]}`)
			if err := f.signer(f.ours).Attest(ctx, f.image.Repo+"@"+f.image.Platforms[0].Digest, artifact.VEXType, doc); err != nil {
				t.Fatal(err)
			}
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + " (linux/amd64): no verified openvex attestation is the release's VEX document slipway_1.0.0.vex.json"
		}},
		{"a missing VEX attestation", func(f *fixture) {
			f.deleteCosignTag(f.image.Platforms[0].Digest)
		}, func(f *fixture) string {
			return "image " + f.image.Ref() + " (linux/amd64): no valid openvex attestation"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, true)
			tc.tamper(f)
			f.fails([]string{tc.want(f)})
		})
	}
}
