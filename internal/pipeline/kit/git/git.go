// Package git is the pipeline's client of git: the few questions the stages ask a checkout, each
// one method, so that the flags (which tags count as versions, which files belong to the
// checkout) are written once.
package git

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// Repo is the checkout at Dir.
type Repo struct{ Dir string }

func (r Repo) output(ctx context.Context, args ...string) (string, error) {
	return run.Cmd{Dir: r.Dir}.Output(ctx, "git", args...)
}

// Installed reports whether git is on PATH: without it there is no checkout to ask.
func Installed() bool {
	_, err := exec.LookPath("git")
	return err == nil
}

// versionTags are the tags that are versions: v<digit>..., so that other tags ("deployed")
// never leak into a version.
const versionTags = "v[0-9]*"

// Head is HEAD's full commit hash; ok is false when Dir is no repository or one without commits.
func (r Repo) Head(ctx context.Context) (sha string, ok bool) {
	sha, err := r.output(ctx, "rev-parse", "--verify", "--quiet", "HEAD")
	return sha, err == nil && sha != ""
}

// Describe is `git describe` of the working tree against the version tags: v1.2.3,
// v1.2.3-4-gabc1234, or the abbreviated hash when no version tag is reachable; -dirty when the
// tree has changes.
func (r Repo) Describe(ctx context.Context) (string, error) {
	return r.output(ctx, "describe", "--tags", "--always", "--dirty", "--abbrev=7", "--match", versionTags)
}

// ExactTag is the version tag at HEAD, "" when HEAD has none.
func (r Repo) ExactTag(ctx context.Context) string {
	// No error handling: --exact-match fails exactly when HEAD has no such tag.
	tag, _ := r.output(ctx, "describe", "--tags", "--exact-match", "--match", versionTags, "HEAD")
	return strings.TrimSpace(tag)
}

// HeadCommit is HEAD's hash and its commit time in Unix seconds (%ct, not %cI: seconds convert
// to UTC without depending on the committer's zone).
func (r Repo) HeadCommit(ctx context.Context) (sha, unixSeconds string, err error) {
	out, err := r.output(ctx, "log", "-1", "--format=%H %ct", "HEAD")
	if err != nil {
		return "", "", err
	}
	sha, unixSeconds, _ = strings.Cut(out, " ")
	return sha, unixSeconds, nil
}

// Changes are the working tree's uncommitted and untracked changes, a line each as
// `git status --porcelain` prints them; none for a clean tree.
func (r Repo) Changes(ctx context.Context) ([]string, error) {
	out, err := r.output(ctx, "status", "--porcelain")
	if err != nil || out == "" {
		return nil, err
	}
	return strings.Split(out, "\n"), nil
}

// Files are the checkout's files as git sees them: tracked ones and untracked ones git does
// not ignore (so no dist/, .slipway/ or other ignored state), relative to Dir.
func (r Repo) Files(ctx context.Context) ([]string, error) {
	// Not r.output: it trims, and a name may begin or end with a space.
	var b strings.Builder
	if err := (run.Cmd{Dir: r.Dir, Stdout: &b}).Run(ctx, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"); err != nil {
		return nil, fmt.Errorf("listing the files of %s (a git checkout is needed): %w", r.Dir, err)
	}
	var files []string
	for f := range strings.SplitSeq(b.String(), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// RemoteURL is the URL of the named remote; ok is false when there is no such remote.
func (r Repo) RemoteURL(ctx context.Context, name string) (url string, ok bool) {
	url, err := r.output(ctx, "remote", "get-url", name)
	return url, err == nil
}
