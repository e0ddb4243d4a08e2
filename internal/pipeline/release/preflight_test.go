package release

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// Forgetting COSIGN_PASSWORD, or a mirror that does not answer, fails the preflight at once,
// naming the fix, before any tool is built.
func TestPreflightNamesTheFixBeforeBuilding(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	t.Setenv("COSIGN_PASSWORD", "") // restored at the end; unset for the test
	os.Unsetenv("COSIGN_PASSWORD")
	t.Setenv("COSIGN_KEY", "")
	t.Setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "")
	t.Setenv("SIGSTORE_ID_TOKEN", "")
	t.Setenv(image.OfflineEnv, "")
	t.Setenv(image.MirrorEnv, closed+"/upstream")
	t.Setenv("SLIPWAY_REGISTRY_ADDR", closed)
	root := t.TempDir()
	var out bytes.Buffer
	err = Preflight(context.Background(), Options{Root: root, Out: &out, Settings: settings.Current()})
	if err == nil {
		t.Fatalf("preflight passed:\n%s", out.String())
	}
	for _, want := range []string{"COSIGN_PASSWORD is not set", "export COSIGN_PASSWORD=", "the mirror SLIPWAY_IMAGE_MIRROR=" + closed + "/upstream does not answer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("preflight error lacks %q:\n%v", want, err)
		}
	}
	// SKIP=sign,images leaves nothing to check but the disk.
	out.Reset()
	if err := Preflight(context.Background(), Options{Root: root, Out: &out, Settings: settings.Current(), Skip: Skips{"sign", "images"}}); err != nil {
		t.Errorf("with SKIP=sign,images: %v\n%s", err, out.String())
	}
}

// Without a mirror or offline mode, the base image's own registry is checked, and its failure
// names both ways out.
func TestUpstreamRegistryCheckNamesOfflineAndMirror(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no network needed to see the message
	err := image.Source{}.RegistryCheck(image.Distroless).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "https://gcr.io/v2/") || !strings.Contains(err.Error(), image.OfflineEnv+"=1") ||
		!strings.Contains(err.Error(), image.MirrorEnv+"=host/prefix") {
		t.Fatalf("upstream check: %v", err)
	}
}
