package git

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func must(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Each question against a real repository, before and after its first commit and tags.
func TestRepoAnswersAboutACheckout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r := Repo{Dir: dir}
	if _, ok := r.Head(ctx); ok {
		t.Fatal("Head of a directory that is no repository: want ok false")
	}
	must(t, dir, "init", "-q", "-b", "main")
	if _, ok := r.Head(ctx); ok {
		t.Fatal("Head of a repository without commits: want ok false")
	}
	write(t, filepath.Join(dir, ".gitignore"), "ignored/\n")
	write(t, filepath.Join(dir, "a.go"), "package a\n")
	must(t, dir, "add", "-A")
	must(t, dir, "commit", "-q", "-m", "one")
	sha, ok := r.Head(ctx)
	if !ok || len(sha) != 40 {
		t.Fatalf("Head = %q, %v; want a full hash", sha, ok)
	}
	if got, secs, err := r.HeadCommit(ctx); err != nil || got != sha || secs != "1767323045" {
		t.Fatalf("HeadCommit = %q %q %v; want %s 1767323045", got, secs, err, sha)
	}
	if d, err := r.Describe(ctx); err != nil || d != sha[:7] {
		t.Fatalf("Describe without a version tag = %q, %v; want %s", d, err, sha[:7])
	}
	must(t, dir, "tag", "deployed")
	must(t, dir, "tag", "v1.2.3")
	if d, err := r.Describe(ctx); err != nil || d != "v1.2.3" {
		t.Fatalf("Describe = %q, %v; want v1.2.3 (not the tag deployed)", d, err)
	}
	if tag := r.ExactTag(ctx); tag != "v1.2.3" {
		t.Fatalf("ExactTag = %q, want v1.2.3", tag)
	}
	if c, err := r.Changes(ctx); err != nil || len(c) != 0 {
		t.Fatalf("Changes of a clean tree = %q, %v", c, err)
	}

	write(t, filepath.Join(dir, "a.go"), "package a // changed\n")
	write(t, filepath.Join(dir, " new file.txt"), "x")
	if err := os.MkdirAll(filepath.Join(dir, "ignored"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "ignored", "state"), "x")
	if d, _ := r.Describe(ctx); d != "v1.2.3-dirty" {
		t.Fatalf("Describe of a changed tree = %q, want v1.2.3-dirty", d)
	}
	if c, err := r.Changes(ctx); err != nil || len(c) != 2 {
		t.Fatalf("Changes = %q, %v; want the changed file and the untracked one", c, err)
	}
	files, err := r.Files(ctx)
	if err != nil || !slices.Equal(files, []string{" new file.txt", ".gitignore", "a.go"}) {
		t.Fatalf("Files = %q, %v; want tracked and untracked files, not ignored ones, names whole", files, err)
	}
	if _, ok := r.RemoteURL(ctx, "origin"); ok {
		t.Fatal("RemoteURL of a repository without remotes: want ok false")
	}
	must(t, dir, "remote", "add", "origin", "https://example.com/acme/widget.git")
	if u, ok := r.RemoteURL(ctx, "origin"); !ok || u != "https://example.com/acme/widget.git" {
		t.Fatalf("RemoteURL = %q, %v", u, ok)
	}
}
