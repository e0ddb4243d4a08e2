package bench

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

// The bench's own docker builds (the naive image, the rebuild pair) take the module proxy as
// docker:source does, as a BuildKit secret: a GOPROXY with credentials in a --build-arg would
// be on the command line, where `ps` shows it to every user, and in the image's history.
func TestDockerBuildsKeepGOPROXYOffTheCommandLine(t *testing.T) {
	const proxy = "https://bench-user:s3cret-token@proxy.example.com/go"
	t.Setenv("GOPROXY", proxy) // what `go env GOPROXY` reports
	root := projecttest.Root(t)
	ctx := context.Background()
	// Upstream base images: resolving them needs no registry.
	b := testBencher(t)
	b.local = &image.Local{Repo: imageRepo, Root: root, Stamp: version.Dev, Out: io.Discard}
	naive, err := b.naiveBuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := b.rebuildTree(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]image.BuildOptions{"naive": naive, "rebuild with cache mounts": tree.with, "rebuild without": tree.without} {
		args, env := o.Command("/tmp/iid")
		for _, a := range args {
			if strings.Contains(a, "GOPROXY=") || strings.Contains(a, "s3cret") || strings.Contains(a, "proxy.example.com") {
				t.Errorf("%s: the module proxy is on docker's command line: %q", name, a)
			}
		}
		// Not merely dropped: the build must still reach the proxy.
		if !slices.Contains(env, "BUILD_SECRET_GOPROXY="+proxy) {
			t.Errorf("%s: GOPROXY is not passed as the goproxy secret; env %q", name, env)
		}
	}
}
