package release

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/provenance"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
	"github.com/slipway-dev/slipway/internal/pipeline/vex"
)

// The verify tests check real signatures in a real registry, with the pinned cosign, crane and
// registry (a test skips when one is not installed). Two key pairs and one registry serve every
// test; each test has its own repository and dist/, so the slow ones (a signature is a fraction
// of a second of scrypt) run their cases in parallel.

var shared struct {
	once         sync.Once
	dir          string
	ours, theirs sign.KeyPair
	regOnce      sync.Once
	reg          *registry.Registry
	regDir       string
	err          error
}

func TestMain(m *testing.M) {
	// The keys' password, set once: a parallel test cannot set the environment itself.
	os.Setenv(sign.PasswordEnv, "test")
	code := m.Run()
	if shared.reg != nil {
		_ = shared.reg.Stop()
	}
	for _, d := range []string{shared.dir, shared.regDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// keys are "ours", the release's, and "theirs", which has nothing to do with it.
func keys(t *testing.T, cosign string) (ours, theirs sign.KeyPair) {
	t.Helper()
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "release-test-"); shared.err != nil {
			return
		}
		for _, k := range []*sign.KeyPair{&shared.ours, &shared.theirs} {
			dir, err := os.MkdirTemp(shared.dir, "key-")
			if err != nil {
				shared.err = err
				return
			}
			*k = sign.KeyPair{Private: filepath.Join(dir, "cosign.key"), Public: filepath.Join(dir, "cosign.pub")}
			if _, shared.err = k.Ensure(context.Background(), cosign); shared.err != nil {
				return
			}
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.ours, shared.theirs
}

// testRegistry is the registry the image tests share (started on first use, stopped by TestMain).
func testRegistry(t *testing.T) string {
	t.Helper()
	bin := toolstest.Installed(t, "registry")
	shared.regOnce.Do(func() {
		var err error
		if shared.regDir, err = os.MkdirTemp("", "release-test-registry-"); err == nil {
			shared.reg, err = registry.Start(context.Background(), bin, shared.regDir, "127.0.0.1:0")
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	if shared.reg == nil {
		t.Fatal("the shared test registry did not start (see the first test that used it)")
	}
	return shared.reg.Addr
}

// fixture is a finished release in dist/, as `mage release` leaves it.
type fixture struct {
	t             *testing.T
	dist          string
	cosign, crane string
	ours, theirs  sign.KeyPair
	image         artifact.Image  // the release's image index, when it has one
	sboms         []artifact.File // its image SBOMs
}

const fixtureVersion = "1.0.0"

var fixtureFiles = map[string]string{
	"slipway_1.0.0_linux_amd64.tar.gz":                       "archive bytes",
	"slipway_1.0.0_linux_amd64.tar.gz" + artifact.SBOMSuffix: `{"bomFormat":"CycloneDX"}`,
	"slipway_1.0.0_windows_amd64.zip":                        "zip bytes",
	"slipway_1.0.0_windows_amd64.zip" + artifact.SBOMSuffix:  `{"bomFormat":"CycloneDX"}`,
}

// newFixture writes a signed release the way the release lays it out: archives, their SBOMs and
// checksums.txt, signed as goreleaser signs it; withImages, an index of two platforms pushed to
// the test registry under two tags and signed, a signed SBOM attestation on each platform and
// the SBOMs in dist/; then release.json, listed and signed by the release's own code.
func newFixture(t *testing.T, withImages bool) *fixture {
	t.Helper()
	f := &fixture{t: t, cosign: toolstest.Installed(t, "cosign"), crane: toolstest.Installed(t, "crane")}
	f.ours, f.theirs = keys(t, f.cosign)
	root := writeConfig(t, "builds: [{id: slipway}]\nkos:\n  - build: slipway\n    platforms: [linux/amd64, linux/arm64]\n")
	f.dist = filepath.Join(root, "dist")
	if err := os.Mkdir(f.dist, 0o755); err != nil {
		t.Fatal(err)
	}
	var sums strings.Builder
	for _, name := range slices.Sorted(maps.Keys(fixtureFiles)) {
		f.write(name, fixtureFiles[name])
		fmt.Fprintf(&sums, "%s  %s\n", sha(fixtureFiles[name]), name)
	}
	f.write(artifact.ChecksumsFile, sums.String())
	f.signBlob(artifact.ChecksumsFile, f.ours)

	f.write(artifactsJSON, "[]")
	if withImages {
		f.image = f.pushIndex(testRegistry(t))
		f.signImage(f.ours)
		for _, p := range f.image.Platforms {
			name := artifact.ImageSBOMName("slipway", fixtureVersion, p)
			doc := fmt.Sprintf(`{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"component":{"name":%q}}}`, p)
			f.write(name, doc)
			f.attest(p, f.ours)
			f.sboms = append(f.sboms, artifact.File{Name: name, Size: int64(len(doc)), SHA256: sha(doc)})
		}
		f.write(artifactsJSON, fmt.Sprintf(`[{"name":%q,"type":"Docker Manifest","extra":{"Digest":%q}}]`, f.image.Ref(), f.image.Digest))
	}
	f.writeProvenance(f.provenanceInputs(), f.ours)
	f.writeVEX(f.ours)
	f.relist()
	return f
}

// The fixture's provenance says what verify is told to expect.
const fixtureCommit = "0123456789abcdef0123456789abcdef01234567"

var fixtureExpectation = Expectation{Repository: "https://github.com/slipway-dev/slipway", Commit: fixtureCommit, BuilderID: provenance.LocalBuilder}

// provenanceInputs describe the fixture's archives as a local build of fixtureCommit, with this
// checkout's go.sum.
func (f *fixture) provenanceInputs() provenance.Inputs {
	f.t.Helper()
	root := projecttest.Root(f.t)
	goSum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		f.t.Fatal(err)
	}
	in := provenance.Inputs{
		Repository: fixtureExpectation.Repository, Commit: fixtureCommit, Version: "v" + fixtureVersion,
		Platforms: []string{"linux/amd64", "linux/arm64", "windows/amd64"}, BuildFlags: map[string]string{"GOFLAGS": "-trimpath"},
		GoSum: goSum, GoVersion: "go1.26.0",
		Run:     provenance.Run{BuilderID: provenance.LocalBuilder, InvocationID: "urn:uuid:00000000-0000-4000-8000-000000000000", Host: "fixture"},
		Started: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 11, 2, 10, 3, 0, 0, time.UTC),
	}
	for _, name := range slices.Sorted(maps.Keys(fixtureFiles)) {
		if isArchive(name) {
			in.Subjects = append(in.Subjects, provenance.Subject{Name: name, SHA256: sha(fixtureFiles[name])})
		}
	}
	return in
}

// writeProvenance writes in's statement as the release's and signs it with k as the release
// does: the archives' bundle, and an attestation on the index and every platform image.
func (f *fixture) writeProvenance(in provenance.Inputs, k sign.KeyPair) {
	f.t.Helper()
	data, err := provenance.Statement(in)
	if err != nil {
		f.t.Fatal(err)
	}
	f.write(artifact.ProvenanceName("slipway", fixtureVersion), string(data))
	if _, err := attestProvenance(context.Background(), f.dist, fixtureVersion, f.crane, f.signer(k)); err != nil {
		f.t.Fatal(err)
	}
}

// writeVEX writes the release's VEX document (govulncheck found one advisory, not called) and
// attests it with k on the index and every platform image.
func (f *fixture) writeVEX(k sign.KeyPair) {
	f.t.Helper()
	in := vex.Inputs{
		Module: "github.com/slipway-dev/slipway", Author: fixtureExpectation.Repository, Timestamp: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC),
		Govulncheck: quality.VulnResult{Ran: true, Imported: []quality.Finding{{ID: "GO-2099-0001", Module: "golang.org/x/mod", Version: "v0.30.0", Package: "golang.org/x/mod/semver"}}},
	}
	if f.image.Digest != "" {
		in.Images = []vex.Image{{Repository: f.image.Repo, Digests: append([]string{f.image.Digest}, digestsOf(f.image.Platforms)...)}}
	}
	data, err := vex.Document(in)
	if err != nil {
		f.t.Fatal(err)
	}
	f.write(artifact.VEXName("slipway", fixtureVersion), string(data))
	if _, err := attestVEX(context.Background(), f.dist, fixtureVersion, f.crane, f.signer(k)); err != nil {
		f.t.Fatal(err)
	}
}

// relist lists dist/ again as the release does (contentsOf) and signs the list with our key: the
// release's own word for whatever dist/ now holds.
func (f *fixture) relist() {
	f.t.Helper()
	s := f.signer(f.ours)
	made := stage.Artifacts{
		{Name: artifact.ProvenanceName("slipway", fixtureVersion), Kind: artifact.KindProvenance},
		{Name: artifact.VEXName("slipway", fixtureVersion), Kind: artifact.KindVEX},
	}
	for _, sb := range f.sboms {
		made = append(made, stage.Artifact{Name: sb.Name, Path: f.path(sb.Name), Kind: artifact.KindImageSBOM})
	}
	c, err := contentsOf(context.Background(), f.dist, fixtureVersion, f.crane, f.image.Digest == "", built{signer: &s}, made)
	if err != nil {
		f.t.Fatal(err)
	}
	f.writeContents(c, f.ours)
}

// pushIndex pushes an index of two one-layer platform images, tagged 1.0.0 and latest, to a
// repository of the test's own (beside scratch tags that point elsewhere, as in a real one).
func (f *fixture) pushIndex(reg string) artifact.Image {
	f.t.Helper()
	layer := filepath.Join(f.t.TempDir(), "layer.tar")
	out, err := os.Create(layer)
	if err != nil {
		f.t.Fatal(err)
	}
	tw := tar.NewWriter(out)
	nonce := rand.Text() // every test its own digests
	if err := tw.WriteHeader(&tar.Header{Name: "nonce", Mode: 0o644, Size: int64(len(nonce))}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := tw.Write([]byte(nonce)); err != nil {
		f.t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		f.t.Fatal(err)
	}
	out.Close()
	repo := reg + "/" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(f.t.Name()))
	f.craneOut("append", "-f", layer, "-t", repo+":base")
	f.craneOut("mutate", "--set-platform", "linux/amd64", "-t", repo+":amd64", repo+":base")
	f.craneOut("mutate", "--set-platform", "linux/arm64", "-t", repo+":arm64", repo+":base")
	f.craneOut("index", "append", "-t", repo+":"+fixtureVersion, "-m", repo+":amd64", "-m", repo+":arm64")
	f.craneOut("tag", repo+":"+fixtureVersion, "latest")
	img := artifact.Image{Repo: repo, Digest: f.craneOut("digest", repo+":"+fixtureVersion)}
	ps, err := IndexPlatforms(context.Background(), f.crane, img.Ref())
	if err != nil {
		f.t.Fatal(err)
	}
	img.Platforms = ps
	return img
}

func (f *fixture) craneOut(args ...string) string {
	f.t.Helper()
	out, err := run.Output(context.Background(), f.crane, args...)
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) path(name string) string { return filepath.Join(f.dist, name) }

func (f *fixture) write(name, content string) {
	f.t.Helper()
	if err := os.WriteFile(f.path(name), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) read(name string) string {
	f.t.Helper()
	data, err := os.ReadFile(f.path(name))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(data)
}

func (f *fixture) signer(k sign.KeyPair) sign.Signer {
	return sign.Signer{Cosign: f.cosign, Key: k.Private}
}

// verifier trusts our key, as `mage verify` does for a local release.
func (f *fixture) verifier() sign.Verifier {
	return sign.Verifier{Cosign: f.cosign, Key: f.ours.Public}
}

func (f *fixture) signBlob(name string, k sign.KeyPair) {
	f.t.Helper()
	if err := f.signer(k).SignBlob(context.Background(), f.path(name), f.path(name)+artifact.BundleSuffix); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) signImage(k sign.KeyPair) {
	f.t.Helper()
	if err := f.signer(k).SignImage(context.Background(), f.image.Ref()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) attest(p artifact.Platform, k sign.KeyPair) {
	f.t.Helper()
	sbom := f.path(artifact.ImageSBOMName("slipway", fixtureVersion, p))
	if err := f.signer(k).Attest(context.Background(), f.image.Repo+"@"+p.Digest, artifact.SBOMType, sbom); err != nil {
		f.t.Fatal(err)
	}
}

// deleteCosignTag removes what cosign stores for a digest (signatures on the index, the SBOM
// attestation on a platform manifest): the tag sha256-<hex>.
func (f *fixture) deleteCosignTag(digest string) {
	f.t.Helper()
	f.craneOut("delete", f.image.Repo+":"+strings.Replace(digest, ":", "-", 1))
}

// editManifest pushes ref's manifest as edit changes it (under ref's tag, or by digest) and
// returns the new digest.
func (f *fixture) editManifest(ref string, edit func(map[string]any)) string {
	f.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(f.craneOut("manifest", ref)), &m); err != nil {
		f.t.Fatal(err)
	}
	edit(m)
	data, err := json.Marshal(m)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := (run.Cmd{Stdin: bytes.NewReader(data)}).Output(context.Background(), f.crane, "edit", "manifest", ref); err != nil {
		f.t.Fatal(err)
	}
	return fmt.Sprintf("sha256:%x", sha256.Sum256(data))
}

// writeContents writes c as release.json signed with k, as the release does.
func (f *fixture) writeContents(c artifact.Contents, k sign.KeyPair) {
	f.t.Helper()
	s := f.signer(k)
	if err := writeContents(context.Background(), f.dist, c, &s); err != nil {
		f.t.Fatal(err)
	}
}

// contents reads release.json back, to change it and sign it again (with the release's key: a
// list signed by the release that says something else).
func (f *fixture) contents() artifact.Contents {
	f.t.Helper()
	c, err := artifact.ReadContents(f.dist)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// verify is `mage verify`'s check with our key, expecting the fixture's provenance.
func (f *fixture) verify() (Checked, error) {
	return verifyAgainst(context.Background(), f.dist, f.verifier(), fixtureExpectation, f.crane, true)
}

// fails verifies and wants a failure naming every one of want, and none of unwanted.
func (f *fixture) fails(want []string, unwanted ...string) {
	f.t.Helper()
	_, err := f.verify()
	if err == nil {
		f.t.Fatalf("verify passed, want a failure naming %q", want)
	}
	f.t.Logf("verify: %v", err) // what a user sees
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			f.t.Errorf("verify error lacks %q:\n%v", w, err)
		}
	}
	for _, u := range unwanted {
		if strings.Contains(err.Error(), u) {
			f.t.Errorf("verify error has %q, which this change must not cause:\n%v", u, err)
		}
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
