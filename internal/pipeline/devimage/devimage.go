// Package devimage builds the images of `mage docker:build` and `mage docker:source` on this
// machine, each as a list of stages: the offline stand-in bases when offline (first use only),
// then the binary and the image. It sits above gobuild, image and offline/standin, which
// cannot import one another: standin builds its images with image.
package devimage

import (
	"context"
	"path/filepath"
	"runtime"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/standin"
)

// Stage names of the two builds.
const (
	Binary     = "binary"
	Distroless = "image " + image.DevTag
	FromSource = "image " + image.SourceTag + " (from source)"
)

// Build is docker:build: the mage-built binary for this machine's Linux architecture, in
// Dockerfile.distroless, tagged slipway:dev and slipway:<version>.
func Build(ctx context.Context, c *stage.Context) ([]stage.Result, error) {
	return stage.Run(ctx, c, BuildStages())
}

// BuildStages are Build's stages, in order.
func BuildStages() []stage.Stage {
	var bin string
	arch := runtime.GOARCH
	return []stage.Stage{
		standin.Stage(image.Distroless),
		{Name: Binary, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			p, err := platform.Parse("linux/" + arch)
			if err != nil {
				return "", err
			}
			o, err := gobuild.For(ctx, c, []platform.Platform{p})
			if err != nil {
				return "", err
			}
			res, err := gobuild.Build(ctx, o)
			if err != nil {
				return "", err
			}
			bin = res[0].Path
			if r, err := filepath.Rel(c.Root, bin); err == nil {
				return r, nil
			}
			return bin, nil
		}},
		{Name: Distroless, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			l, err := image.NewLocal(ctx, c)
			if err != nil {
				return "", err
			}
			info, err := l.Distroless(ctx, bin, arch)
			return image.MiB(info.Size), err
		}},
	}
}

// Source is docker:source: the multi-stage Dockerfile (Go builder, Alpine runtime), built from
// source for this machine's Linux architecture, tagged slipway:dev-alpine.
func Source(ctx context.Context, c *stage.Context) ([]stage.Result, error) {
	return stage.Run(ctx, c, []stage.Stage{
		standin.Stage(image.Go, image.Alpine),
		{Name: FromSource, Run: func(ctx context.Context, c *stage.Context) (string, error) {
			l, err := image.NewLocal(ctx, c)
			if err != nil {
				return "", err
			}
			info, err := l.FromSource(ctx, runtime.GOARCH)
			return image.MiB(info.Size), err
		}},
	})
}
