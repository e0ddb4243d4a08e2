package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/release/githubtest"
)

func newFakeGitHub(t *testing.T) *githubtest.Server {
	return githubtest.New(t, "acme", "svc", "v1.2.3")
}

func client(f *githubtest.Server) GitHub {
	return GitHub{API: f.URL, Token: githubtest.Token, Owner: "acme", Repo: "svc", HTTP: f.Client()}
}

func assetFiles(t *testing.T, names ...string) []Asset {
	dir := t.TempDir()
	var as []Asset
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte("bytes of "+n), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("bytes of " + n))
		as = append(as, Asset{Name: n, Path: p, SHA256: hex.EncodeToString(sum[:])})
	}
	return as
}

// A release goes up as a draft, then every file, then the draft is made public: the order in
// which a failure leaves nothing public.
func TestGitHubReleaseIsADraftUntilEveryFileIsUp(t *testing.T) {
	ctx := context.Background()
	f := newFakeGitHub(t)
	g := client(f)
	files := assetFiles(t, "slipway_1.2.3_linux_amd64.tar.gz", artifact.ChecksumsFile)
	if err := g.CheckUnpublished(ctx, "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	d, err := g.CreateDraft(ctx, "v1.2.3", "notes", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range files {
		if err := g.Upload(ctx, d, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, draft := f.State(); !draft {
		t.Fatal("the release is public before MakePublic")
	}
	if err := g.MakePublic(ctx, d); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /repos/acme/svc/releases/tags/v1.2.3",
		"POST /repos/acme/svc/releases",
		"POST /uploads/7/assets?name=slipway_1.2.3_linux_amd64.tar.gz",
		"POST /uploads/7/assets?name=" + artifact.ChecksumsFile,
		"PATCH /repos/acme/svc/releases/7",
	}
	if got := strings.Join(f.Calls(), "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	assets, _ := f.Assets()
	if _, draft := f.State(); draft || string(assets[artifact.ChecksumsFile]) != "bytes of "+artifact.ChecksumsFile {
		t.Fatalf("after publishing: draft=%v assets=%v", draft, assets)
	}
}

// A failed upload stops the release with the draft still a draft: publish is never called.
func TestGitHubUploadFailureLeavesOnlyADraft(t *testing.T) {
	ctx := context.Background()
	f := newFakeGitHub(t)
	f.FailUpload = artifact.ChecksumsFile
	g := client(f)
	pub := publishing{github: &g, tag: "v1.2.3"}
	_, err := pub.createDraft(ctx, t.TempDir(), assetFiles(t, "a.tar.gz", artifact.ChecksumsFile, "z.zip"))
	if err == nil || !strings.Contains(err.Error(), "uploading "+artifact.ChecksumsFile) || !strings.Contains(err.Error(), "nothing is public") {
		t.Fatalf("err = %v, want the failed upload named and the draft left", err)
	}
	if _, draft := f.State(); !draft {
		t.Fatal("the release is not a draft after a failed upload")
	}
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, "PATCH") || strings.HasSuffix(c, "z.zip") {
			t.Fatalf("after a failed upload the release went on: %v", f.Calls())
		}
	}
}

// A file that changed after it verified is not uploaded; a tag already released is refused
// before anything is created; bad credentials are an error naming GitHub's answer.
func TestGitHubRefusesChangedFilesReleasedTagsAndBadTokens(t *testing.T) {
	ctx := context.Background()
	f := newFakeGitHub(t)
	g := client(f)
	a := assetFiles(t, "a.tar.gz")[0]
	if err := os.WriteFile(a.Path, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := g.Upload(ctx, Draft{ID: 7, UploadURL: f.URL + "/uploads/7/assets{?name,label}"}, a)
	if err == nil || !strings.Contains(err.Error(), "changed after it was verified") {
		t.Fatalf("tampered upload: %v", err)
	}
	f.Released = true
	if err := g.CheckUnpublished(ctx, "v1.2.3"); err == nil || !strings.Contains(err.Error(), "already released") {
		t.Fatalf("released tag: %v", err)
	}
	g.Token = "wrong"
	err = g.CheckUnpublished(ctx, "v1.2.3")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad credentials") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad token: %v (want GitHub's answer, never the token)", err)
	}
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, "POST") {
			t.Fatalf("something was created: %v", f.Calls())
		}
	}
}

// In CI the token is there: a tag build without it fails; elsewhere the step is NOT RUN.
func TestGitHubFrom(t *testing.T) {
	t.Setenv(TokenEnv, "")
	t.Setenv(apiURLEnv, "")
	if _, _, err := GitHubFrom(settings.Current(), "acme", "svc", true); err == nil || !strings.Contains(err.Error(), TokenEnv) {
		t.Errorf("tag build without a token: %v", err)
	}
	g, why, err := GitHubFrom(settings.Current(), "acme", "svc", false)
	if g != nil || why != "no "+TokenEnv || err != nil {
		t.Errorf("no token: %v, %q, %v; want NOT RUN", g, why, err)
	}
	t.Setenv(TokenEnv, "t")
	if g, _, err := GitHubFrom(settings.Current(), "acme", "svc", true); err != nil || g.API != defaultAPI || g.Owner != "acme" {
		t.Errorf("token: %+v, %v", g, err)
	}
	t.Setenv(apiURLEnv, "https://ghe.example/api/v3/")
	if g, _, err := GitHubFrom(settings.Current(), "acme", "svc", true); err != nil || g.API != "https://ghe.example/api/v3" {
		t.Errorf("GITHUB_API_URL: %+v, %v", g, err)
	}
	if _, _, err := GitHubFrom(settings.Current(), "", "svc", false); err == nil {
		t.Error("no owner accepted")
	}
}
