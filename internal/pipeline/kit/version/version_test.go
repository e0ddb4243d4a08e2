package version

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

func TestShape(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "v1.2.3", want: "v1.2.3"},
		{in: "v1.2.3\n", want: "v1.2.3"},
		{in: "v1.2.3-dirty", want: "v1.2.3-dirty"},
		{in: "v1.2.3-4-gabc1234", want: "v1.2.3-4-gabc1234"},
		{in: "v1.2.3-4-gabc1234-dirty", want: "v1.2.3-4-gabc1234-dirty"},
		{in: "v1.2", want: "v1.2.0"},
		{in: "v1.2-4-gabc1234", want: "v1.2.0-4-gabc1234"},
		{in: "v2.0.0-rc.1", want: "v2.0.0-rc.1"},
		{in: "v2.0.0-rc.1-4-gabc1234", want: "v2.0.0-rc.1.4-gabc1234"},
		{in: "abc1234", want: "v0.0.0-gabc1234"},
		{in: "abc1234-dirty", want: "v0.0.0-gabc1234-dirty"},
		{in: "v1.x", wantErr: `git tag "v1.x" is not a semver version`},
		{in: "v1.2.3+meta", wantErr: "is not a semver version"},
		{in: "v1.2.3.4-2-gabc1234", wantErr: `"v1.2.3.4"`},
		{in: "", wantErr: "is not a semver version"},
	}
	for _, tt := range tests {
		got, err := Shape(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Shape(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Shape(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestDescribeRealRepo walks one repository through the states a release goes through.
func TestDescribeRealRepo(t *testing.T) {
	ctx := context.Background()
	t.Setenv("SOURCE_DATE_EPOCH", "")
	dir := t.TempDir()
	git := run.Cmd{Dir: dir, Env: []string{
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		// +0200 on purpose: the stamp must come out in UTC.
		"GIT_AUTHOR_DATE=2026-01-02T03:04:05+02:00", "GIT_COMMITTER_DATE=2026-01-02T03:04:05+02:00",
	}}
	gitRun := func(args ...string) string {
		t.Helper()
		out, err := git.Output(ctx, "git", args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	describe := func() Stamp {
		t.Helper()
		s, err := Describe(ctx, dir, "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	if s := describe(); s != Dev {
		t.Errorf("outside git: Describe = %+v, want %+v", s, Dev)
	}

	gitRun("init", "-q", "-b", "main")
	write(t, filepath.Join(dir, "a.txt"), "one")
	gitRun("add", ".")
	gitRun("commit", "-q", "-m", "one")
	sha := gitRun("rev-parse", "HEAD")
	short := sha[:7]

	s := describe()
	want := Stamp{Version: "v0.0.0-g" + short, Commit: sha, Date: "2026-01-02T01:04:05Z"}
	if s != want {
		t.Errorf("untagged: Describe = %+v, want %+v", s, want)
	}

	gitRun("tag", "deployed") // not a version tag: ignored
	gitRun("tag", "v1.2.3")
	if got := describe().Version; got != "v1.2.3" {
		t.Errorf("tagged: Version = %q, want v1.2.3", got)
	}

	write(t, filepath.Join(dir, "a.txt"), "two")
	if got := describe().Version; got != "v1.2.3-dirty" {
		t.Errorf("dirty: Version = %q, want v1.2.3-dirty", got)
	}

	gitRun("commit", "-q", "-am", "two")
	if got := describe().Version; !regexp.MustCompile(`^v1\.2\.3-1-g[0-9a-f]{7}$`).MatchString(got) {
		t.Errorf("one commit after the tag: Version = %q, want v1.2.3-1-g<hash>", got)
	}

	if s, err := Describe(ctx, dir, "1700000000"); err != nil || s.Date != "2023-11-14T22:13:20Z" {
		t.Errorf("SOURCE_DATE_EPOCH: Date = %q, %v; want 2023-11-14T22:13:20Z", s.Date, err)
	}
	if _, err := Describe(ctx, dir, "yesterday"); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: error = %v, want one naming SOURCE_DATE_EPOCH", err)
	}
	gitRun("tag", "v1.x")
	if _, err := Describe(ctx, dir, ""); err == nil || !strings.Contains(err.Error(), `"v1.x"`) {
		t.Errorf("bad tag on HEAD: error = %v, want one naming v1.x", err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
