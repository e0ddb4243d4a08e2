package runproof

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
)

// verify:run runs the run's binaries, stamped as the checkout is, and says the images were NOT
// RUN when nothing names one; a binary that does not run fails it.
func TestVerify(t *testing.T) {
	linuxOnly(t)
	ctx := context.Background()
	host := platform.Host()
	s, err := settings.Load([]string{"PLATFORMS=" + host.String()})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c := stage.New(projecttest.Root(t), &out, s)
	c.Dist = t.TempDir()
	o, err := gobuild.For(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Out = nil
	if _, err := gobuild.Build(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, c); err != nil {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "images NOT RUN") {
		t.Errorf("no word that the images did not run:\n%s", out.String())
	}

	if err := os.WriteFile(filepath.Join(c.Dist, host.DirName(), host.BinaryName()), []byte("not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Verify(ctx, c); err == nil {
		t.Fatalf("a binary that does not run passed:\n%s", out.String())
	}
}
