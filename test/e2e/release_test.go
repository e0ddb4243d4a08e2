//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
	"github.com/slipway-dev/slipway/internal/pipeline/provenance"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/quality/vulndbtest"
	"github.com/slipway-dev/slipway/internal/pipeline/release"
	"github.com/slipway-dev/slipway/internal/pipeline/scan"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// vexModule and vexAdvisory are the fixture advisory a local release's VEX document must
// neutralise: a module the checkout requires (the pipeline's, never in the service or the
// images), whose vulnerable symbol nothing calls.
const (
	vexModule   = "github.com/package-url/packageurl-go"
	vexAdvisory = "GHSA-slwy-vex0-0001"
)

// TestLocalRelease is `mage release` on a fresh clone, offline: every stage runs, the result
// verifies, and each kind of tampering is caught. It takes minutes: seven platforms, two
// images, SBOMs, signatures, provenance, the scan. Both vulnerability databases are fixtures
// holding one HIGH advisory against vexModule, present but never called: the gate passes only
// because the release's VEX document says so.
func TestLocalRelease(t *testing.T) {
	ctx := context.Background()
	clone := freshClone(t)
	env := offlineReleaseEnv(t, clone)
	crane := toolstest.Path(t, "crane")
	env = append(env,
		quality.VulnDBEnv+"="+vulndbtest.Write(t, vulndbtest.Advisory{ID: "GO-2099-9002", Module: vexModule,
			Package: vexModule, Symbols: []string{"QualifiersFromMap"}, Aliases: []string{vexAdvisory}}),
		scan.DBEnv+"="+trivyDB(t, crane, envValue(env, "SLIPWAY_REGISTRY_ADDR")+"/aquasecurity/trivy-db:2", vexModule, vexAdvisory))

	start := time.Now()
	out := mage(t, clone, env, "release")
	t.Logf("full local release took %s", time.Since(start).Round(time.Second))
	if i, j := strings.Index(out, "\nStages\n"), strings.Index(out, "\nVerify it yourself"); i >= 0 && j > i {
		t.Log(out[i:j]) // stage times, artifacts with sizes and digests, images
	}
	for _, want := range []string{"LOCAL release", "Verify it yourself", "linux/amd64", "linux/arm64", "scan"} {
		if !strings.Contains(out, want) {
			t.Fatalf("release output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SKIPPED") {
		t.Fatalf("a release without SKIP skipped a stage:\n%s", out)
	}
	dist := filepath.Join(clone, "dist")

	// The signed list of contents: one index of both platforms under the version's tag, an
	// SBOM attestation per platform, provenance and VEX on the index and each platform, and
	// images not skipped.
	contents, err := artifact.ReadContents(dist)
	if err != nil {
		t.Fatal(err)
	}
	if contents.ArchivesOnly || len(contents.Images) != 1 || len(contents.Attestations) != 8 || contents.NoVEX != "" {
		t.Fatalf("release.json: archives_only %v, %d images, %d attestations, no_vex %q; want one image, 2 SBOM, 3 provenance and 3 VEX attestations",
			contents.ArchivesOnly, len(contents.Images), len(contents.Attestations), contents.NoVEX)
	}
	// The fixture advisory: found by Trivy in go.mod, not a failure because the VEX document
	// (govulncheck: imported, never called) says not_affected.
	vexDoc := filepath.Join(dist, artifact.VEXName("slipway", contents.Version))
	if doc := string(read(t, vexDoc)); !strings.Contains(doc, `"not_affected"`) || !strings.Contains(doc, vexAdvisory) || !strings.Contains(doc, "vulnerable_code_not_in_execute_path") {
		t.Fatalf("the VEX document does not clear %s:\n%s", vexAdvisory, doc)
	}
	if !strings.Contains(out, "ignored vuln "+vexAdvisory+" go.mod: not_affected per dist/"+filepath.Base(vexDoc)) {
		t.Fatalf("the gate did not read the VEX document for %s:\n%s", vexAdvisory, out)
	}
	img := contents.Images[0]
	var platforms []string
	for _, p := range img.Platforms {
		platforms = append(platforms, p.String())
	}
	if strings.Join(platforms, ",") != "linux/amd64,linux/arm64" || len(img.Tags) == 0 {
		t.Fatalf("release.json lists %s with platforms %v and tags %v, want linux/amd64 and linux/arm64 and a tag", img.Ref(), platforms, img.Tags)
	}

	t.Run("verify passes", func(t *testing.T) {
		out := mage(t, clone, env, "verify")
		for _, want := range []string{"OK: release.json signature", "OK: image " + img.Ref() + " (linux/amd64, linux/arm64): in its registry, tags " + strings.Join(img.Tags, ", ")} {
			if !strings.Contains(out, want) {
				t.Errorf("verify output lacks %q:\n%s", want, out)
			}
		}
	})

	// Every tamper below goes through `mage verify` itself, which must fail naming it; each is
	// undone before the next. Files are re-signed with the release's own key where that makes
	// the check under test the only one that can catch it.
	cosign := toolstest.Path(t, "cosign")
	t.Setenv(sign.PasswordEnv, envValue(env, sign.PasswordEnv)) // opens both keys below
	ours := sign.KeyPair{Private: filepath.Join(clone, ".slipway", "cosign.key"), Public: filepath.Join(clone, ".slipway", "cosign.pub")}
	other := otherKey(t, cosign)
	signer := func(k sign.KeyPair) sign.Signer { return sign.Signer{Cosign: cosign, Key: k.Private} }
	tampered := func(t *testing.T, env []string, want ...string) {
		t.Helper()
		out := mageFails(t, clone, env, "verify")
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("verify did not say %q:\n%s", w, out)
			}
		}
	}
	keep := func(t *testing.T, names ...string) {
		t.Helper()
		saved := map[string][]byte{}
		for _, n := range names {
			data, err := os.ReadFile(filepath.Join(dist, n))
			if err != nil {
				t.Fatal(err)
			}
			saved[n] = data
		}
		t.Cleanup(func() {
			for n, data := range saved {
				if err := os.WriteFile(filepath.Join(dist, n), data, 0o644); err != nil {
					t.Error(err)
				}
			}
		})
	}
	craneRun := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := run.Output(ctx, crane, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// cosign keeps an artifact's signatures and attestations under the tag sha256-<hex>.
	deleteCosignTag := func(t *testing.T, digest string) {
		t.Helper()
		craneRun(t, "delete", img.Repo+":"+strings.Replace(digest, ":", "-", 1))
	}
	signIndex := func(t *testing.T, k sign.KeyPair) {
		t.Helper()
		if err := signer(k).SignImage(ctx, img.Ref()); err != nil {
			t.Fatal(err)
		}
	}
	arm64 := img.Platforms[1]
	var armSBOM string
	for _, a := range contents.Attestations {
		if a.Image == img.Repo+"@"+arm64.Digest && a.Type == artifact.SBOMType {
			armSBOM = filepath.Join(dist, a.File)
		}
	}
	attestArm64 := func(t *testing.T, k sign.KeyPair) {
		t.Helper()
		if err := signer(k).Attest(ctx, img.Repo+"@"+arm64.Digest, artifact.SBOMType, armSBOM); err != nil {
			t.Fatal(err)
		}
	}
	// The provenance predicate, as the release attests it on every image.
	statement := filepath.Join(dist, artifact.ProvenanceName("slipway", contents.Version))
	var st struct{ Predicate json.RawMessage }
	if err := json.Unmarshal(read(t, statement), &st); err != nil {
		t.Fatal(err)
	}
	predicate := filepath.Join(t.TempDir(), "predicate.json")
	write(t, predicate, string(st.Predicate))
	// reattest puts back, signed with our key, the provenance and VEX attestations that deleting
	// a digest's cosign tag took with it.
	reattest := func(t *testing.T, digest string) {
		t.Helper()
		for typ, doc := range map[string]string{artifact.ProvenanceType: predicate, artifact.VEXType: vexDoc} {
			if err := signer(ours).Attest(ctx, img.Repo+"@"+digest, typ, doc); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("verify fails with another key", func(t *testing.T) {
		tampered(t, append(env, "VERIFY_KEY="+other.Public), "release.json: signature does not verify (public key "+other.Public)
	})

	t.Run("verify fails on a one-byte change to an archive", func(t *testing.T) {
		archives, _ := filepath.Glob(filepath.Join(dist, "*_linux_amd64.tar.gz"))
		if len(archives) != 1 {
			t.Fatalf("want one linux/amd64 archive, found %v", archives)
		}
		name := filepath.Base(archives[0])
		keep(t, name)
		data, err := os.ReadFile(archives[0])
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x01
		if err := os.WriteFile(archives[0], data, 0o644); err != nil {
			t.Fatal(err)
		}
		tampered(t, env, name+": sha256", "does not match release.json")
	})

	t.Run("verify fails on an altered image SBOM", func(t *testing.T) {
		keep(t, filepath.Base(armSBOM))
		if err := os.WriteFile(armSBOM, []byte(`{"bomFormat":"CycloneDX","components":[]}`), 0o644); err != nil {
			t.Fatal(err)
		}
		tampered(t, env, filepath.Base(armSBOM)+": sha256", "does not match release.json")
	})

	t.Run("verify fails without release.json", func(t *testing.T) {
		keep(t, artifact.ContentsFile)
		if err := os.Remove(filepath.Join(dist, artifact.ContentsFile)); err != nil {
			t.Fatal(err)
		}
		tampered(t, env, "release.json is missing: it is the release's signed list of contents")
	})

	// checksums.txt changed and signed again with the release's key: only the signed contents
	// can tell it is not what the release listed.
	sums := filepath.Join(dist, artifact.ChecksumsFile)
	resignSums := func(t *testing.T, content string) {
		t.Helper()
		keep(t, artifact.ChecksumsFile, artifact.ChecksumsFile+artifact.BundleSuffix)
		if err := os.WriteFile(sums, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := signer(ours).SignBlob(ctx, sums, sums+artifact.BundleSuffix); err != nil {
			t.Fatal(err)
		}
	}
	orig, err := os.ReadFile(sums)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("verify fails when checksums.txt loses a line", func(t *testing.T) {
		first, rest, _ := strings.Cut(string(orig), "\n")
		_, name, _ := strings.Cut(first, "  ")
		resignSums(t, rest)
		out := mageFails(t, clone, env, "verify")
		if !strings.Contains(out, "checksums.txt lost a line: it does not list "+name) || strings.Contains(out, "signature does not verify") {
			t.Fatalf("verify did not name the lost line (alone):\n%s", out)
		}
	})
	t.Run("verify fails when checksums.txt gains a line", func(t *testing.T) {
		extra := filepath.Join(dist, "NOTES.txt")
		if err := os.WriteFile(extra, []byte("notes"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(extra) })
		resignSums(t, string(orig)+fmt.Sprintf("%x  NOTES.txt\n", sha256.Sum256([]byte("notes"))))
		out := mageFails(t, clone, env, "verify")
		if !strings.Contains(out, "checksums.txt gained a line: it lists NOTES.txt") || strings.Contains(out, "signature does not verify") {
			t.Fatalf("verify did not name the gained line (alone):\n%s", out)
		}
	})

	t.Run("verify fails when a tag moves", func(t *testing.T) {
		tag := img.Tags[0]
		craneRun(t, "tag", img.Repo+"@"+img.Platforms[0].Digest, tag)
		t.Cleanup(func() { craneRun(t, "tag", img.Ref(), tag) })
		tampered(t, env, "tag "+img.Repo+":"+tag+" points at "+img.Platforms[0].Digest+", not at the released index")
	})

	t.Run("verify fails when the image is unsigned", func(t *testing.T) {
		deleteCosignTag(t, img.Digest)
		t.Cleanup(func() { signIndex(t, ours); reattest(t, img.Digest) })
		tampered(t, env, "image "+img.Ref()+": signature does not verify", "no signatures found")
	})

	t.Run("verify fails when the image is signed by another key", func(t *testing.T) {
		deleteCosignTag(t, img.Digest)
		signIndex(t, other)
		t.Cleanup(func() { deleteCosignTag(t, img.Digest); signIndex(t, ours); reattest(t, img.Digest) })
		tampered(t, env, "image "+img.Ref()+": signature does not verify")
	})

	t.Run("verify fails when an SBOM attestation is missing", func(t *testing.T) {
		deleteCosignTag(t, arm64.Digest)
		t.Cleanup(func() { attestArm64(t, ours); reattest(t, arm64.Digest) })
		tampered(t, env, "image "+img.Ref()+" (linux/arm64): no valid SBOM attestation")
	})

	t.Run("verify fails when an SBOM attestation is by another key", func(t *testing.T) {
		deleteCosignTag(t, arm64.Digest)
		attestArm64(t, other)
		t.Cleanup(func() { deleteCosignTag(t, arm64.Digest); attestArm64(t, ours); reattest(t, arm64.Digest) })
		tampered(t, env, "image "+img.Ref()+" (linux/arm64): no valid SBOM attestation")
	})

	// Provenance: what verify expects (this clone's HEAD, the local builder) against what the
	// release's statements say, one way it must fail each; the statements and bundles untouched,
	// so nothing but the provenance check can catch these.
	archive := filepath.Base(contents.Files[slices.IndexFunc(contents.Files, func(f artifact.File) bool { return f.Kind == artifact.KindArchive })].Name)
	t.Run("verify fails when the provenance names another commit", func(t *testing.T) {
		other := strings.Repeat("f", 40)
		tampered(t, append(env, release.CommitEnv+"="+other), "provenance must say: source https://github.com/slipway-dev/slipway at "+other,
			archive+": provenance: another commit", "image "+img.Ref()+" (linux/arm64): provenance: another commit", "(to expect otherwise, set "+release.CommitEnv)
	})
	t.Run("verify fails when the provenance names another builder", func(t *testing.T) {
		workflow := "https://github.com/slipway-dev/slipway/.github/workflows/release.yml@refs/tags/v1.2.3"
		tampered(t, append(env, release.BuilderEnv+"="+workflow), archive+": provenance: another builder: built by \""+provenance.LocalBuilder+"\"",
			"image "+img.Ref()+" (index): provenance: another builder")
	})
	bundle := statement + artifact.BundleSuffix
	t.Run("verify fails when the archives' provenance is signed by another key", func(t *testing.T) {
		keep(t, filepath.Base(bundle))
		if err := signer(other).AttestBlob(ctx, statement, bundle); err != nil {
			t.Fatal(err)
		}
		tampered(t, env, archive+": slsaprovenance1 attestation", "not by the release's signer")
	})
	t.Run("verify fails when the archives' provenance is missing", func(t *testing.T) {
		keep(t, filepath.Base(bundle))
		if err := os.Remove(bundle); err != nil {
			t.Fatal(err)
		}
		tampered(t, env, filepath.Base(bundle)+": listed in release.json but it is missing", archive+" has no slsaprovenance1 attestation")
	})
	t.Run("verify fails when an image's provenance is by another key", func(t *testing.T) {
		deleteCosignTag(t, arm64.Digest)
		if err := signer(other).Attest(ctx, img.Repo+"@"+arm64.Digest, artifact.ProvenanceType, predicate); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteCosignTag(t, arm64.Digest); attestArm64(t, ours); reattest(t, arm64.Digest) })
		tampered(t, env, "image "+img.Ref()+" (linux/arm64): no valid slsaprovenance1 attestation")
	})

	// Dropping the images from a (validly signed) list passes only with archives_only set.
	t.Run("an archives-only release passes only when its signed contents say so", func(t *testing.T) {
		keep(t, artifact.ContentsFile, artifact.ContentsFile+artifact.BundleSuffix)
		path := filepath.Join(dist, artifact.ContentsFile)
		write := func(archivesOnly bool) {
			var c map[string]any
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatal(err)
			}
			c["images"], c["attestations"], c["archives_only"] = []any{}, []any{}, archivesOnly
			var files []any
			for _, f := range c["files"].([]any) {
				if f.(map[string]any)["kind"] != artifact.KindImageSBOM {
					files = append(files, f)
				}
			}
			c["files"] = files
			if data, err = json.Marshal(c); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := signer(ours).SignBlob(ctx, path, path+artifact.BundleSuffix); err != nil {
				t.Fatal(err)
			}
		}
		write(false)
		tampered(t, env, "it lists no image and does not say archives_only")
		write(true)
		if out := mage(t, clone, env, "verify"); !strings.Contains(out, "OK: no images, as the signed release.json says (archives_only)") {
			t.Fatalf("verify of a signed archives-only list:\n%s", out)
		}
	})

	t.Run("verify passes again once every tamper is undone", func(t *testing.T) {
		mage(t, clone, env, "verify")
	})

	// One definition of the image: what the release ships (ko) and what docker:build builds
	// (Dockerfile.distroless) have the same user, entrypoint, labels and exposed ports, and the
	// release archive's binary, byte for byte.
	t.Run("the release image and docker:build's are one definition", func(t *testing.T) {
		archived := sha256File(t, filepath.Join(dist, "slipway_linux_"+runtime.GOARCH+goreleaserSuffix(runtime.GOARCH), "slipway"))
		for _, p := range img.Platforms {
			ref := img.Repo + "@" + p.Digest
			bin := fileInRemoteImage(t, crane, ref, "ko-app/slipway")
			if want := sha256File(t, filepath.Join(dist, "slipway_"+p.OS+"_"+p.Arch+goreleaserSuffix(p.Arch), "slipway")); bin != want {
				t.Errorf("%s: the image's binary (sha256 %s) is not the archive's (%s)", p, bin, want)
			}
		}
		var native string
		for _, p := range img.Platforms {
			if p.Arch == runtime.GOARCH {
				native = img.Repo + "@" + p.Digest
			}
		}
		released := remoteConfig(t, crane, native)

		stamp, err := version.Describe(ctx, clone, "")
		if err != nil {
			t.Fatal(err)
		}
		repo := "slipway-e2e-" + randomHex(t)
		t.Cleanup(func() { removeImages(t, repo) })
		addr := envValue(env, "SLIPWAY_REGISTRY_ADDR")
		l := &image.Local{Repo: repo, Root: clone, Stamp: stamp, Out: testWriter{t},
			Source: image.Source{Mirror: addr + "/" + image.StandInPrefix, StandIns: true, Crane: crane}}
		info, err := l.Distroless(ctx, filepath.Join(dist, "slipway_linux_"+runtime.GOARCH+goreleaserSuffix(runtime.GOARCH), "slipway"), runtime.GOARCH)
		if err != nil {
			t.Fatal(err)
		}
		local := info.Config
		if released.User != local.User || strings.Join(released.Entrypoint, " ") != strings.Join(local.Entrypoint, " ") ||
			!maps.Equal(released.ExposedPorts, local.ExposedPorts) {
			t.Errorf("release image: user %q entrypoint %q ports %v; docker:build's: user %q entrypoint %q ports %v",
				released.User, released.Entrypoint, released.ExposedPorts, local.User, local.Entrypoint, local.ExposedPorts)
		}
		if !maps.Equal(released.Labels, local.Labels) {
			t.Errorf("labels differ:\nrelease      %v\ndocker:build %v", released.Labels, local.Labels)
		}
		if got := fileInImage(t, repo+":dev", "/ko-app/slipway"); got != archived {
			t.Errorf("docker:build's binary (sha256 %s) is not the archive's (%s)", got, archived)
		}
	})

	// One definition of the build: goreleaser's linux/amd64 binary is build:all's, byte for byte.
	t.Run("goreleaser and build:all build the same binary", func(t *testing.T) {
		rel, err := os.ReadFile(filepath.Join(dist, "slipway_linux_amd64_v1", "slipway"))
		if err != nil {
			t.Fatal(err)
		}
		mage(t, clone, env, "build:all")
		all, err := os.ReadFile(filepath.Join(dist, "slipway_linux_amd64", "slipway"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rel, all) {
			t.Fatalf("goreleaser's binary (%d bytes) differs from build:all's (%d bytes) for the same commit", len(rel), len(all))
		}
	})

	// Last: it cannot be undone.
	t.Run("verify fails when the image is missing from its registry", func(t *testing.T) {
		craneRun(t, "delete", img.Ref())
		tampered(t, env, "image "+img.Ref()+" is missing from its registry")
	})
}

// TestReleaseSkipIsReportedAndTyposFail: SKIP names stages in the output; a typo is an error
// before anything is built.
func TestReleaseSkipIsReportedAndTyposFail(t *testing.T) {
	clone := freshClone(t)
	env := offlineReleaseEnv(t, clone)
	out := mageFails(t, clone, append(env, "SKIP=scna"), "release")
	if !strings.Contains(out, `unknown stage "scna"`) {
		t.Fatalf("SKIP typo:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(clone, "dist")); err == nil {
		t.Fatal("a refused release left a dist/ behind")
	}
	out = mage(t, clone, append(env, "SKIP=images,scan"), "release")
	for _, want := range []string{"image registry and base: SKIPPED (SKIP=images)", "scan: SKIPPED (SKIP=scan)"} {
		if !strings.Contains(out, want) {
			t.Errorf("release with SKIP=images,scan lacks %q:\n%s", want, out)
		}
	}
	// Without images the signed contents say so, and that is what lets verify pass.
	c, err := artifact.ReadContents(filepath.Join(clone, "dist"))
	if err != nil || !c.ArchivesOnly || len(c.Images) != 0 {
		t.Fatalf("release.json of SKIP=images: %+v, %v; want archives_only and no image", c, err)
	}
	if out := mage(t, clone, env, "verify"); !strings.Contains(out, "OK: no images, as the signed release.json says (archives_only)") {
		t.Errorf("verify of an archives-only release:\n%s", out)
	}
}

// offlineReleaseEnv is the environment of an offline local release in clone, with an empty
// registry of the test's own (stopped at the end): the release builds the stand-in it needs on
// first use, as on a fresh machine. No publishing settings or SKIP come from the caller's
// environment.
func offlineReleaseEnv(t *testing.T, clone string) []string {
	t.Helper()
	return []string{
		"SLIPWAY_OFFLINE=1", "SLIPWAY_REGISTRY_ADDR=" + startRegistry(t), "COSIGN_PASSWORD=e2e", "SLIPWAY_IMAGE_MIRROR=",
		"SLIPWAY_REGISTRY=", "COSIGN_KEY=", "SKIP=", "VERIFY_KEY=", "SLIPWAY_DIST=",
	}
}

// goreleaserSuffix is goreleaser's build directory suffix for arch's default level.
func goreleaserSuffix(arch string) string {
	switch arch {
	case "amd64":
		return "_v1"
	case "arm64":
		return "_v8.0"
	}
	return ""
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// remoteConfig reads an image's config from its registry.
func remoteConfig(t *testing.T, crane, ref string) imageConfig {
	t.Helper()
	out, err := exec.Command(crane, "config", ref).Output()
	if err != nil {
		t.Fatalf("crane config %s: %v", ref, err)
	}
	var c struct{ Config imageConfig }
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	return c.Config
}

type imageConfig struct {
	User         string
	Entrypoint   []string
	Labels       map[string]string
	ExposedPorts map[string]struct{}
}

// fileInRemoteImage is the sha256 of one file of an image in a registry (crane export: the
// flattened file system as a tarball).
func fileInRemoteImage(t *testing.T, crane, ref, name string) string {
	t.Helper()
	cmd := exec.Command(crane, "export", ref, "-")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no %s in the image (%v)", ref, name, err)
		}
		if strings.TrimPrefix(h.Name, "/") == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, out)
			return fmt.Sprintf("%x", sha256.Sum256(data))
		}
	}
}

// otherKey is a key pair that has nothing to do with the release, opened with the current
// COSIGN_PASSWORD.
func otherKey(t *testing.T, cosign string) sign.KeyPair {
	t.Helper()
	dir := t.TempDir()
	k := sign.KeyPair{Private: filepath.Join(dir, "other.key"), Public: filepath.Join(dir, "other.pub")}
	if _, err := k.Ensure(context.Background(), cosign); err != nil {
		t.Fatal(err)
	}
	return k
}
