package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
)

// images is the project's image builder, writing slipway-bench:* instead of slipway:*.
func (b *bencher) images(ctx context.Context) (*image.Local, error) {
	if b.local != nil {
		return b.local, nil
	}
	l, err := image.NewLocal(ctx, b.c)
	if err != nil {
		return nil, err
	}
	l.Repo = imageRepo
	b.local = l
	return l, nil
}

// hostLinux is the Linux platform of this machine's architecture: what its Docker engine runs.
func hostLinux() platform.Platform {
	p := platform.Host()
	p.OS = "linux"
	return p
}

// binary builds main (the service's when empty) for p as build:all would, into a scratch
// directory.
func (b *bencher) binary(ctx context.Context, p platform.Platform, main string) (gobuild.Result, error) {
	dist, err := b.scratch("bin-")
	if err != nil {
		return gobuild.Result{}, err
	}
	o, err := gobuild.For(ctx, b.c, []platform.Platform{p})
	if err != nil {
		return gobuild.Result{}, err
	}
	o.Dist, o.Out = dist, nil
	if main != "" {
		o.Main = main
	}
	res, err := gobuild.Build(ctx, o)
	if err != nil {
		return gobuild.Result{}, err
	}
	return res[0], nil
}

// distroless builds the image releases ship (Dockerfile.distroless), as slipway-bench:dev.
func (b *bencher) distroless(ctx context.Context) (gobuild.Result, image.Info, error) {
	bin, err := b.binary(ctx, hostLinux(), "")
	if err != nil {
		return bin, image.Info{}, err
	}
	l, err := b.images(ctx)
	if err != nil {
		return bin, image.Info{}, err
	}
	info, err := l.Distroless(ctx, bin.Path, runtime.GOARCH)
	return bin, info, err
}

// sourceBuild is docker:source's build (image.Local.SourceBuild: the same base images, version
// stamp and module proxy, passed as a secret) of another Dockerfile, tagged slipway-bench:<tag>.
func (b *bencher) sourceBuild(ctx context.Context, dockerfile, contextDir, tag string) (image.BuildOptions, error) {
	l, err := b.images(ctx)
	if err != nil {
		return image.BuildOptions{}, err
	}
	o, err := l.SourceBuild(ctx, runtime.GOARCH)
	if err != nil {
		return image.BuildOptions{}, err
	}
	o.Dockerfile, o.Context, o.Tags = dockerfile, contextDir, []string{imageRepo + ":" + tag}
	return o, nil
}

// buildDockerfile builds o, its output going to the bench's log, and inspects the image.
func (b *bencher) buildDockerfile(ctx context.Context, o image.BuildOptions) (image.Info, error) {
	o.Progress = b.log
	if _, err := image.Build(ctx, o); err != nil {
		return image.Info{}, err
	}
	return image.Inspect(ctx, o.Tags[0])
}

// writeFile writes a file the bench generates (a Dockerfile, a Go file) into dir.
func writeFile(dir, name, content string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}
