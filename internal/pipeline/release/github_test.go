package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub is GitHub's releases API as far as a release uses it: it records every call and
// keeps the release's state (draft or public, its assets), and can be told to fail an upload.
type fakeGitHub struct {
	t          *testing.T
	mu         sync.Mutex
	calls      []string // "METHOD path[?name=...]"
	draft      bool
	released   bool // a release exists for the tag already (public)
	assets     map[string]string
	failUpload string            // this asset's upload answers 500
	onCall     func(call string) // sees each call before it is answered
	srv        *httptest.Server
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{t: t, assets: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	if n := r.URL.Query().Get("name"); n != "" {
		call += "?name=" + n
	}
	f.calls = append(f.calls, call)
	if f.onCall != nil {
		f.onCall(call)
	}
	if r.Header.Get("Authorization") != "Bearer secret-token" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/repos/acme/svc/releases/tags/v1.2.3":
		if !f.released {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{"id":1,"html_url":"https://github.example/acme/svc/releases/v1.2.3"}`)
	case r.Method == http.MethodPost && r.URL.Path == "/repos/acme/svc/releases":
		var req struct {
			Draft bool   `json:"draft"`
			Tag   string `json:"tag_name"`
		}
		if err := json.Unmarshal(body, &req); err != nil || !req.Draft || req.Tag != "v1.2.3" {
			http.Error(w, `{"message":"want a draft of v1.2.3"}`, http.StatusUnprocessableEntity)
			return
		}
		f.draft = true
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":7,"html_url":"https://github.example/acme/svc/releases/tag/untagged-7","upload_url":"%s/uploads/7/assets{?name,label}"}`, f.srv.URL)
	case r.Method == http.MethodPost && r.URL.Path == "/uploads/7/assets":
		name := r.URL.Query().Get("name")
		if name == f.failUpload {
			http.Error(w, `{"message":"Server Error"}`, http.StatusInternalServerError)
			return
		}
		sum := sha256.Sum256(body)
		f.assets[name] = string(body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"name":%q,"size":%d,"state":"uploaded","digest":"sha256:%s"}`, name, len(body), hex.EncodeToString(sum[:]))
	case r.Method == http.MethodPatch && r.URL.Path == "/repos/acme/svc/releases/7":
		f.draft = false
		fmt.Fprint(w, `{"id":7,"draft":false}`)
	default:
		http.Error(w, `{"message":"unexpected call"}`, http.StatusNotFound)
	}
}

func (f *fakeGitHub) client() GitHub {
	return GitHub{API: f.srv.URL, Token: "secret-token", Owner: "acme", Repo: "svc", HTTP: f.srv.Client()}
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
	g := f.client()
	files := assetFiles(t, "slipway_1.2.3_linux_amd64.tar.gz", ChecksumsFile)
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
	if !f.draft {
		t.Fatal("the release is public before MakePublic")
	}
	if err := g.MakePublic(ctx, d); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /repos/acme/svc/releases/tags/v1.2.3",
		"POST /repos/acme/svc/releases",
		"POST /uploads/7/assets?name=slipway_1.2.3_linux_amd64.tar.gz",
		"POST /uploads/7/assets?name=" + ChecksumsFile,
		"PATCH /repos/acme/svc/releases/7",
	}
	if got := strings.Join(f.calls, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if f.draft || f.assets[ChecksumsFile] != "bytes of "+ChecksumsFile {
		t.Fatalf("after publishing: draft=%v assets=%v", f.draft, f.assets)
	}
}

// A failed upload stops the release with the draft still a draft: publish is never called.
func TestGitHubUploadFailureLeavesOnlyADraft(t *testing.T) {
	ctx := context.Background()
	f := newFakeGitHub(t)
	f.failUpload = ChecksumsFile
	g := f.client()
	pub := publishing{github: &g, tag: "v1.2.3"}
	_, err := pub.draft(ctx, t.TempDir(), assetFiles(t, "a.tar.gz", ChecksumsFile, "z.zip"))
	if err == nil || !strings.Contains(err.Error(), "uploading "+ChecksumsFile) || !strings.Contains(err.Error(), "nothing is public") {
		t.Fatalf("err = %v, want the failed upload named and the draft left", err)
	}
	if !f.draft {
		t.Fatal("the release is not a draft after a failed upload")
	}
	for _, c := range f.calls {
		if strings.HasPrefix(c, "PATCH") || strings.HasSuffix(c, "z.zip") {
			t.Fatalf("after a failed upload the release went on: %v", f.calls)
		}
	}
}

// A file that changed after it verified is not uploaded; a tag already released is refused
// before anything is created; bad credentials are an error naming GitHub's answer.
func TestGitHubRefusesChangedFilesReleasedTagsAndBadTokens(t *testing.T) {
	ctx := context.Background()
	f := newFakeGitHub(t)
	g := f.client()
	a := assetFiles(t, "a.tar.gz")[0]
	if err := os.WriteFile(a.Path, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := g.Upload(ctx, Draft{ID: 7, UploadURL: f.srv.URL + "/uploads/7/assets{?name,label}"}, a)
	if err == nil || !strings.Contains(err.Error(), "changed after it was verified") {
		t.Fatalf("tampered upload: %v", err)
	}
	f.released = true
	if err := g.CheckUnpublished(ctx, "v1.2.3"); err == nil || !strings.Contains(err.Error(), "already released") {
		t.Fatalf("released tag: %v", err)
	}
	g.Token = "wrong"
	err = g.CheckUnpublished(ctx, "v1.2.3")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad credentials") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad token: %v (want GitHub's answer, never the token)", err)
	}
	for _, c := range f.calls {
		if strings.HasPrefix(c, "POST") {
			t.Fatalf("something was created: %v", f.calls)
		}
	}
}

// In CI the token is there: a tag build without it fails; elsewhere the step is NOT RUN.
func TestGitHubFromEnv(t *testing.T) {
	t.Setenv(TokenEnv, "")
	t.Setenv(apiURLEnv, "")
	if _, _, err := GitHubFromEnv("acme", "svc", true); err == nil || !strings.Contains(err.Error(), TokenEnv) {
		t.Errorf("tag build without a token: %v", err)
	}
	g, why, err := GitHubFromEnv("acme", "svc", false)
	if g != nil || why != "no "+TokenEnv || err != nil {
		t.Errorf("no token: %v, %q, %v; want NOT RUN", g, why, err)
	}
	t.Setenv(TokenEnv, "t")
	if g, _, err := GitHubFromEnv("acme", "svc", true); err != nil || g.API != defaultAPI || g.Owner != "acme" {
		t.Errorf("token: %+v, %v", g, err)
	}
	t.Setenv(apiURLEnv, "https://ghe.example/api/v3/")
	if g, _, err := GitHubFromEnv("acme", "svc", true); err != nil || g.API != "https://ghe.example/api/v3" {
		t.Errorf("GITHUB_API_URL: %+v, %v", g, err)
	}
	if _, _, err := GitHubFromEnv("", "svc", false); err == nil {
		t.Error("no owner accepted")
	}
}
