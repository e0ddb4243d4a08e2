package release

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
)

// goreleaser stops without a git remote: a checkout without one gets the module's home,
// through git's environment, and one with a remote keeps its own.
func TestGitRemoteEnv(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/team/svc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git := run.Cmd{Dir: dir}
	if err := git.Run(ctx, "git", "init", "-q"); err != nil {
		t.Fatal(err)
	}
	env, err := GitRemoteEnv(ctx, dir)
	if want := []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=remote.origin.url", "GIT_CONFIG_VALUE_0=https://example.com/team/svc"}; err != nil || !slices.Equal(env, want) {
		t.Errorf("no remote: got %q, %v; want %q", env, err, want)
	}
	if err := git.Run(ctx, "git", "remote", "add", "origin", "https://git.example.com/svc.git"); err != nil {
		t.Fatal(err)
	}
	if env, err := GitRemoteEnv(ctx, dir); err != nil || env != nil {
		t.Errorf("with a remote: got %q, %v; want nothing", env, err)
	}
}

// What the bench runs goreleaser with is what the release's goreleaser runs see, less PATH.
func TestGoreleaserBuildEnvIsTheReleasesEnv(t *testing.T) {
	root := projecttest.Root(t)
	ctx := context.Background()
	c := stage.New(root, io.Discard, settings.Settings{})
	env, err := GoreleaserBuildEnv(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	stamp, err := c.Stamp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in, _, err := buildInputs(ctx, root, stamp)
	if err != nil {
		t.Fatal(err)
	}
	full := in.goreleaserEnv(false)
	if got := slices.DeleteFunc(slices.Clone(full), func(e string) bool { return strings.HasPrefix(e, "PATH=") }); !slices.Equal(env, got) {
		t.Errorf("got %q\nwant the release's %q without PATH", env, full)
	}
	for _, prefix := range []string{"GORELEASER_CURRENT_TAG=v", "SLIPWAY_LDFLAGS=-s -w", "SLIPWAY_GOFLAGS=", "SOURCE_DATE_EPOCH=", "SLIPWAY_PUBLISH=false"} {
		if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, prefix) }) {
			t.Errorf("no %s... in %q", prefix, env)
		}
	}
}
