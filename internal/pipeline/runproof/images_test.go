package runproof

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestImagesNotRunWithoutDocker(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	results, err := Checker{}.Images(context.Background(), []string{"slipway:dev"}, stamp.Version)
	if err != nil || len(results) != 1 || !strings.Contains(results[0].NotRun, "Docker is not available") || !AnyNotRun(results) {
		t.Errorf("results %+v, error %v", results, err)
	}
}

func TestImagesStopWhenInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if results, err := (Checker{}).Images(ctx, []string{"slipway:dev"}, stamp.Version); !errors.Is(err, context.Canceled) || AnyNotRun(results) {
		t.Errorf("interrupted: %+v, %v", results, err)
	}
}

func TestOCIPlatform(t *testing.T) {
	for in, want := range map[string]string{"linux/arm64/v8": "linux/arm64", "linux/arm64": "linux/arm64", "linux/arm/v7": "linux/arm/v7", "linux/amd64": "linux/amd64"} {
		if p, err := ociPlatform("r", in); err != nil || p.String() != want {
			t.Errorf("%s: %v %v, want %s", in, p, err, want)
		}
	}
	if _, err := ociPlatform("r@sha256:1", "linux/arm"); err == nil || !strings.Contains(err.Error(), "image r@sha256:1") {
		t.Errorf("arm without a variant: %v", err)
	}
}

func TestImagesNeedAVersionAndAnImage(t *testing.T) {
	if _, err := (Checker{}).Images(context.Background(), []string{"slipway:dev"}, ""); err == nil {
		t.Error("no version to expect, and no error")
	}
	if _, err := (Checker{}).Images(context.Background(), nil, stamp.Version); err == nil {
		t.Error("no image, and no error")
	}
}
