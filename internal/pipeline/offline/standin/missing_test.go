package standin

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
)

// Missing names every stand-in the registry lacks, and stops naming one once it is pushed: what
// decides whether `mage release` on a fresh clone builds the stand-ins first.
func TestMissingFollowsTheRegistry(t *testing.T) {
	ctx := context.Background()
	crane := toolstest.Path(t, "crane")
	reg, err := registry.Start(ctx, toolstest.Path(t, "registry"), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Stop() })

	if got := Missing(ctx, crane, reg.Addr, image.Upstream); len(got) != len(image.Upstream) {
		t.Fatalf("empty registry: missing %v, want all %d stand-ins", got, len(image.Upstream))
	}
	// Any image under the distroless stand-in's tag counts as present.
	layer := filepath.Join(t.TempDir(), "layer.tar")
	f, err := os.Create(layer)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "marker", Mode: 0o644, Size: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	present := image.Distroless.In(reg.Addr + "/" + image.StandInPrefix)
	if err := run.Run(ctx, crane, "append", "--new_layer", layer, "--new_tag", present); err != nil {
		t.Fatal(err)
	}
	got := Missing(ctx, crane, reg.Addr, image.Upstream)
	if len(got) != len(image.Upstream)-1 || slices.Contains(got, image.Distroless) {
		t.Fatalf("after pushing %s: missing %v", present, got)
	}
	// Only what is asked about counts: a release asks for the distroless base alone.
	if got := Missing(ctx, crane, reg.Addr, []image.Ref{image.Distroless}); len(got) != 0 {
		t.Fatalf("asked for the distroless stand-in only: missing %v", got)
	}
}
