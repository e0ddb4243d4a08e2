package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/run"
)

// images is the project's image builder, writing slipway-bench:* instead of slipway:*.
func (b *bencher) images(ctx context.Context) (*image.Local, error) {
	if b.local != nil {
		return b.local, nil
	}
	l, err := image.NewLocal(ctx, b.o.Root, b.log)
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

// linuxBinary builds the service for hostLinux, as build:all would, into a scratch directory.
func (b *bencher) linuxBinary(ctx context.Context) (gobuild.Result, error) {
	dist, err := b.scratch("dist-image-")
	if err != nil {
		return gobuild.Result{}, err
	}
	o, err := gobuild.Project(ctx, []platform.Platform{hostLinux()})
	if err != nil {
		return gobuild.Result{}, err
	}
	o.Dist, o.Out = dist, nil
	res, err := gobuild.Build(ctx, o)
	if err != nil {
		return gobuild.Result{}, err
	}
	return res[0], nil
}

// distroless builds the image releases ship (Dockerfile.distroless), as slipway-bench:dev.
func (b *bencher) distroless(ctx context.Context) (gobuild.Result, image.Info, error) {
	bin, err := b.linuxBinary(ctx)
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

// buildDockerfile builds a Dockerfile the bench wrote itself, tagged slipway-bench:<tag>.
func (b *bencher) buildDockerfile(ctx context.Context, dockerfile, contextDir, tag string, args map[string]string) (image.Info, error) {
	ref := imageRepo + ":" + tag
	if _, err := image.Build(ctx, image.BuildOptions{
		Dockerfile: dockerfile, Context: contextDir, Platform: hostLinux().String(),
		Tags: []string{ref}, Args: args, Progress: b.log,
	}); err != nil {
		return image.Info{}, err
	}
	return image.Inspect(ctx, ref)
}

// sourceArgs are the build arguments of the multi-stage Dockerfile as docker:source passes
// them: the builder and runtime images this machine resolves (offline: the stand-ins), the
// module proxy, the version stamp.
func (b *bencher) sourceArgs(ctx context.Context) (map[string]string, error) {
	l, err := b.images(ctx)
	if err != nil {
		return nil, err
	}
	goImg, err := l.Source.Resolve(ctx, image.Go)
	if err != nil {
		return nil, err
	}
	rt, err := l.Source.Resolve(ctx, image.Alpine)
	if err != nil {
		return nil, err
	}
	goproxy, err := run.Output(ctx, "go", "env", "GOPROXY")
	if err != nil {
		return nil, err
	}
	ld, err := gobuild.LDFlags(l.Stamp)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"GO_IMAGE": goImg.Ref, "RUNTIME_IMAGE": rt.Ref, "GOPROXY": goproxy, "LDFLAGS": ld,
		"VERSION": l.Stamp.Version, "COMMIT": l.Stamp.Commit, "DATE": l.Stamp.Date,
	}, nil
}

// writeFile writes a file the bench generates (a Dockerfile, a Go file) into dir.
func writeFile(dir, name, content string) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}
