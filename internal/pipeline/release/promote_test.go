package release

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/oci"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// promoteFixture is a publishing release at the point where dist/ and the staged images have
// verified: a staging registry holding a two-platform index (signed and attested, or not), a
// dist/ describing it, and an empty target registry.
type promoteFixture struct {
	crane, cosign string
	root, dist    string
	staged        artifact.Image
	target        string
	verifier      sign.Verifier
	files         []artifact.File
}

func newPromoteFixture(t *testing.T, signed bool) *promoteFixture {
	t.Helper()
	ctx := context.Background()
	f := &promoteFixture{crane: toolstest.Path(t, "crane"), cosign: toolstest.Installed(t, "cosign"), root: t.TempDir()}
	f.dist = filepath.Join(f.root, "dist")
	staging, target := startTestRegistry(t), startTestRegistry(t)
	f.target = target + "/acme/slipway"
	repo := staging + "/staging/1/slipway"

	var platforms []string
	for _, arch := range []string{"amd64", "arm64"} {
		layer := filepath.Join(f.root, arch+".tar")
		writeTar(t, layer, "app", "binary for "+arch)
		ref := repo + ":" + arch
		if err := run.Run(ctx, f.crane, "append", "-f", layer, "-t", ref); err != nil {
			t.Fatal(err)
		}
		if err := run.Run(ctx, f.crane, "mutate", "--set-platform", "linux/"+arch, ref); err != nil {
			t.Fatal(err)
		}
		platforms = append(platforms, "-m", ref)
	}
	out, err := run.Output(ctx, f.crane, append(append([]string{"index", "append"}, platforms...), "-t", repo+":1.2.3")...)
	if err != nil {
		t.Fatal(err)
	}
	_, digest, _ := strings.Cut(out, "@")
	f.staged = artifact.Image{Repo: repo, Digest: digest, Tags: []string{"1.2.3"}}

	t.Setenv(sign.PasswordEnv, "test")
	key := sign.KeyPair{Private: filepath.Join(f.root, "cosign.key"), Public: filepath.Join(f.root, "cosign.pub")}
	if _, err := key.Ensure(ctx, f.cosign); err != nil {
		t.Fatal(err)
	}
	f.verifier = sign.Verifier{Cosign: f.cosign, Key: key.Public}
	if err := os.MkdirAll(f.dist, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(f.root, ConfigFile), "builds:\n  - id: slipway\nkos:\n  - build: slipway\n    platforms: [linux/amd64, linux/arm64]\n")
	writeFile(t, filepath.Join(f.dist, artifactsJSON), fmt.Sprintf(`[{"name":%q,"path":%q,"type":%q,"extra":{"Digest":%q}}]`,
		repo+":1.2.3@"+digest, repo+":1.2.3@"+digest, imageType, digest))
	archive := "slipway_1.2.3_linux_amd64.tar.gz"
	writeFile(t, filepath.Join(f.dist, archive), "archive bytes")
	sum := sha256.Sum256([]byte("archive bytes"))
	writeFile(t, filepath.Join(f.dist, artifact.ChecksumsFile), hex.EncodeToString(sum[:])+"  "+archive+"\n")
	writeFile(t, filepath.Join(f.dist, artifact.ChecksumsFile+artifact.BundleSuffix), "{}")
	f.files = []artifact.File{{Name: archive, Kind: artifact.KindArchive, Size: 13, SHA256: hex.EncodeToString(sum[:])}}
	for name, kind := range map[string]string{artifact.ChecksumsFile: artifact.KindChecksums, artifact.ChecksumsFile + artifact.BundleSuffix: artifact.KindSignature} {
		d, err := fileDigest(filepath.Join(f.dist, name))
		if err != nil {
			t.Fatal(err)
		}
		d.Name, d.Kind = name, kind
		f.files = append(f.files, d)
	}
	writeFile(t, filepath.Join(f.dist, artifact.ContentsFile), `{"schema":1}`)
	writeFile(t, filepath.Join(f.dist, artifact.ContentsFile+artifact.BundleSuffix), "{}")
	if !signed {
		return f
	}
	signer := sign.Signer{Cosign: f.cosign, Key: key.Private}
	if err := signer.SignImage(ctx, f.staged.Repo+"@"+digest); err != nil {
		t.Fatal(err)
	}
	ps, err := IndexPlatforms(ctx, f.crane, f.staged.Repo+"@"+digest)
	if err != nil {
		t.Fatal(err)
	}
	sbom := filepath.Join(f.root, "sbom.json")
	writeFile(t, sbom, `{"bomFormat":"CycloneDX","specVersion":"1.5"}`)
	for _, p := range ps {
		if err := signer.Attest(ctx, f.staged.Repo+"@"+p.Digest, artifact.SBOMType, sbom); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// promote runs the public steps of a publishing release, with gh as its GitHub (nil: NOT RUN):
// the promotion, then (as a publishing release does once the published contents verified) the
// announcement.
func (f *promoteFixture) promote(gh *GitHub) (*Checked, []stage.Result, error) {
	pub := &publishing{verifier: f.verifier, target: f.target, staging: f.staged.Repo, tags: imageTags("1.2.3"), tag: "v1.2.3", github: gh, noGitHub: "no " + TokenEnv}
	c := &Checked{Files: f.files}
	stages := append(pub.promoteStages(inputs{crane: f.crane}, f.dist, c), pub.announceStage(f.dist, c))
	rs, err := stage.Run(context.Background(), &stage.Context{Out: io.Discard}, stages)
	return c, rs, err
}

// tags lists the target repository's tags, one a line ("" when it has none, or no repository),
// less the referrers tags (sha256-<digest>) under which the registry keeps copied signatures.
func (f *promoteFixture) tags(t *testing.T) string {
	t.Helper()
	out, err := run.Output(context.Background(), f.crane, "ls", f.target)
	if oci.NotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, tag := range strings.Fields(out) {
		if !strings.HasPrefix(tag, "sha256-") {
			tags = append(tags, tag)
		}
	}
	return strings.Join(tags, "\n")
}

// The whole promotion, in order: copy by digest, verify in the target, a draft with every
// verified file, the tags, then release.json (which names the tagged images) and the public
// release. The fake GitHub looks at the target registry whenever it is called.
func TestPromoteCopiesVerifiesThenTagsAndPublishesLast(t *testing.T) {
	f := newPromoteFixture(t, true)
	gh := newFakeGitHub(t)
	gh.OnCall = func(call string) {
		tags := f.tags(t)
		switch {
		case strings.HasPrefix(call, "POST") && !strings.Contains(call, "name="+artifact.ContentsFile) && strings.Contains(tags, "1.2.3"):
			t.Errorf("%s: the target is already tagged (%q) before the draft holds the verified files", call, tags)
		case strings.Contains(call, "name="+artifact.ContentsFile) && !strings.Contains(tags, "latest"):
			t.Errorf("%s: %s goes up before it can name the published, tagged images (%q)", call, artifact.ContentsFile, tags)
		case strings.HasPrefix(call, "PATCH") && (!strings.Contains(tags, "1.2.3") || !strings.Contains(tags, "latest")):
			t.Errorf("%s: the release goes public before the tags are set (%q)", call, tags)
		}
	}
	g := client(gh)
	c, results, err := f.promote(&g)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range results {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ", "); got != "copy images, verify copied images, GitHub release: draft, image tags, GitHub release: public" {
		t.Fatalf("stages: %s", got)
	}
	// release.json and its bundle go up last, once they name the published images.
	assets, order := gh.Assets()
	if _, draft := gh.State(); draft || len(assets[artifact.ChecksumsFile]) == 0 || string(assets["slipway_1.2.3_linux_amd64.tar.gz"]) != "archive bytes" {
		t.Fatalf("GitHub: draft=%v assets=%v", draft, order)
	}
	for i, name := range []string{artifact.ContentsFile, artifact.ContentsFile + artifact.BundleSuffix} {
		want, err := os.ReadFile(filepath.Join(f.dist, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := order[len(order)-2+i]; got != name || !bytes.Equal(assets[name], want) {
			t.Errorf("upload %d from the end is %q (%d bytes); want %s, the bytes in dist/", 2-i, got, len(assets[name]), name)
		}
	}
	ctx := context.Background()
	for _, tag := range []string{"1.2.3", "latest"} {
		if d, found, err := (oci.Crane{Bin: f.crane}).Lookup(ctx, f.target+":"+tag); err != nil || !found || d != f.staged.Digest {
			t.Errorf("%s:%s = %q, %v, %v; want %s", f.target, tag, d, found, err, f.staged.Digest)
		}
	}
	// Checked independently of the promotion: the signature and attestations came along.
	ref := f.target + "@" + f.staged.Digest
	if err := f.verifier.VerifyImage(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if len(c.Images) != 1 || c.Images[0].Ref() != ref || len(c.Images[0].Platforms) != 2 {
		t.Fatalf("summary images: %+v", c.Images)
	}
	for _, p := range c.Images[0].Platforms {
		if err := f.verifier.VerifyAttestation(ctx, f.target+"@"+p.Digest, artifact.SBOMType); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := ReadImages(f.dist)
	if err != nil || len(recs) != 1 || recs[0].Repo != f.target {
		t.Fatalf("dist/ after promotion: %+v, %v", recs, err)
	}
}

// An image that does not verify in the target (here: never signed) is copied but never tagged,
// and GitHub is never called.
func TestPromoteNeverTagsAnImageThatDoesNotVerify(t *testing.T) {
	f := newPromoteFixture(t, false)
	gh := newFakeGitHub(t)
	g := client(gh)
	_, _, err := f.promote(&g)
	if err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("err = %v, want the copy's verification to fail", err)
	}
	if tags := f.tags(t); tags != "" {
		t.Fatalf("the target has tags %q after a failed verification", tags)
	}
	if calls := gh.Calls(); len(calls) > 0 {
		t.Fatalf("GitHub was called: %v", calls)
	}
}

// A failed upload leaves the release a draft and the target untagged.
func TestPromoteUploadFailureLeavesNoTagAndOnlyADraft(t *testing.T) {
	f := newPromoteFixture(t, true)
	gh := newFakeGitHub(t)
	gh.FailUpload = artifact.ChecksumsFile
	g := client(gh)
	_, _, err := f.promote(&g)
	if err == nil || !strings.Contains(err.Error(), "nothing is public") {
		t.Fatalf("err = %v", err)
	}
	if tags := f.tags(t); tags != "" {
		t.Fatalf("the target has tags %q after a failed upload", tags)
	}
	if _, draft := gh.State(); !draft || strings.Contains(strings.Join(gh.Calls(), " "), "PATCH") {
		t.Fatalf("the release went public: draft=%v calls=%v", draft, gh.Calls())
	}
}

// Without a token the images are published and the GitHub release is NOT RUN, in the stages and
// the notes.
func TestPromoteWithoutGitHubSaysNotRun(t *testing.T) {
	f := newPromoteFixture(t, true)
	c, results, err := f.promote(nil)
	if err != nil {
		t.Fatal(err)
	}
	last := results[len(results)-1]
	if last.Name != "GitHub release: public" || last.String() != "NOT RUN (no GITHUB_TOKEN)" || !strings.Contains(strings.Join(c.Notes, " "), "GitHub release NOT RUN") {
		t.Fatalf("last stage %+v, notes %v", last, c.Notes)
	}
	if !strings.Contains(f.tags(t), "1.2.3") {
		t.Fatal("the images were not tagged")
	}
}

// A published version never changes: a version tag naming another image is refused before
// anything is copied.
func TestPromoteRefusesToMoveAPublishedVersion(t *testing.T) {
	f := newPromoteFixture(t, true)
	ctx := context.Background()
	other := f.staged.Repo + "@" + f.staged.Digest
	ps, err := IndexPlatforms(ctx, f.crane, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Run(ctx, f.crane, "copy", f.staged.Repo+"@"+ps[0].Digest, f.target+":1.2.3"); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.promote(nil)
	if err == nil || !strings.Contains(err.Error(), "already published") {
		t.Fatalf("err = %v", err)
	}
	if _, found, err := (oci.Crane{Bin: f.crane}).Lookup(ctx, f.target+"@"+f.staged.Digest); found || err != nil {
		t.Fatalf("the index was copied anyway (found=%v, %v)", found, err)
	}
}

func startTestRegistry(t *testing.T) string {
	t.Helper()
	r, err := registry.Start(context.Background(), toolstest.Path(t, "registry"), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	return r.Addr
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTar writes a one-file layer.
func writeTar(t *testing.T, dst, name, content string) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// The target is checked with this machine's login before anything is built: a wrong password
// fails naming the fix, the right one passes on a repository that does not exist yet.
func TestCheckTargetNeedsALogin(t *testing.T) {
	ctx := context.Background()
	crane := toolstest.Path(t, "crane")
	addr := startLoginRegistry(t, "ci", "right")
	login := func(password string) {
		dc := t.TempDir()
		auth := base64.StdEncoding.EncodeToString([]byte("ci:" + password))
		writeFile(t, filepath.Join(dc, "config.json"), `{"auths":{"`+addr+`":{"auth":"`+auth+`"}}}`)
		t.Setenv("DOCKER_CONFIG", dc)
	}
	target := addr + "/acme/slipway"
	login("wrong")
	err := checkTarget(ctx, crane, target)
	if err == nil || !strings.Contains(err.Error(), "log in") || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("a wrong password: %v", err)
	}
	login("right")
	if err := checkTarget(ctx, crane, target); err != nil {
		t.Fatalf("the right password, no repository yet: %v", err)
	}
}

// startLoginRegistry runs the pinned registry with one htpasswd login and returns its address
// once it asks for it.
func startLoginRegistry(t *testing.T, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "htpasswd"), user+":"+string(hash)+"\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	writeFile(t, filepath.Join(dir, "config.yml"), fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n"+
		"http:\n  addr: %s\nauth:\n  htpasswd:\n    realm: test\n    path: %s/htpasswd\n", dir, addr, dir))
	cmd := exec.Command(toolstest.Path(t, "registry"), "serve", filepath.Join(dir, "config.yml"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
	}
	t.Fatalf("the registry on %s does not ask for a login", addr)
	return ""
}
