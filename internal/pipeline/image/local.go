package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/preflight"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
)

// The local images and container of the docker:* targets.
const (
	DevTag       = project.Name + ":dev"        // docker:build (distroless, the mage-built binary)
	SourceTag    = project.Name + ":dev-alpine" // docker:source (Dockerfile, built from source)
	DevContainer = project.Name + "-dev"        // docker:run
)

// Local builds the service's images on this machine.
type Local struct {
	Repo   string // image name: project.Name (tests use their own)
	Root   string
	Stamp  version.Stamp
	Source Source
	Out    io.Writer
}

// NewLocal is the image builder of the run c: its version stamp, and where base images come
// from. Offline, it starts the project's registry (or finds it running), where the stand-ins are.
func NewLocal(ctx context.Context, c *stage.Context) (*Local, error) {
	if err := preflight.Docker().Run(ctx); err != nil {
		return nil, err
	}
	stamp, err := c.Stamp(ctx)
	if err != nil {
		return nil, err
	}
	crane, err := c.Tool(ctx, "crane")
	if err != nil {
		return nil, err
	}
	addr := ""
	if c.Settings.Offline {
		reg, err := registry.Project(ctx, c.Root)
		if err != nil {
			return nil, err
		}
		addr = reg.Addr
	}
	src, err := SourceFrom(c.Settings, addr, crane)
	if err != nil {
		return nil, err
	}
	return &Local{Repo: project.Name, Root: c.Root, Stamp: stamp, Source: src, Out: c.Out}, nil
}

// VersionTag is the image tag of a version: semver's "+build" is not allowed in tags.
func VersionTag(v string) string {
	return strings.ReplaceAll(v, "+", "-")
}

// Distroless builds Dockerfile.distroless for linux/arch from binary (a static linux/arch
// build), tagged <repo>:dev (DevTag) and <repo>:<version>, and reports its size and layers.
func (l *Local) Distroless(ctx context.Context, binary, arch string) (Info, error) {
	base, err := l.resolve(ctx, Distroless)
	if err != nil {
		return Info{}, err
	}
	// The context is the binary alone, at the path Dockerfile.distroless copies from.
	dir, err := os.MkdirTemp("", "slipway-image-")
	if err != nil {
		return Info{}, err
	}
	defer os.RemoveAll(dir)
	staged := filepath.Join(dir, "linux", arch, project.Name)
	if err := os.MkdirAll(filepath.Dir(staged), 0o755); err != nil {
		return Info{}, err
	}
	if err := os.Link(binary, staged); err != nil { // a copy only across file systems
		if err := copyFile(binary, staged); err != nil {
			return Info{}, fmt.Errorf("staging %s: %w", binary, err)
		}
	}
	dev, versioned := l.Repo+":dev", l.Repo+":"+VersionTag(l.Stamp.Version)
	return l.build(ctx, BuildOptions{
		Dockerfile: filepath.Join(l.Root, "Dockerfile.distroless"),
		Context:    dir,
		Platform:   "linux/" + arch,
		Tags:       []string{dev, versioned},
		Args:       l.stampArgs(map[string]string{"BASE_IMAGE": base}),
	}, dev+" ("+versioned+")")
}

// FromSource builds the multi-stage Dockerfile for linux/arch, tagged <repo>:dev-alpine (SourceTag).
func (l *Local) FromSource(ctx context.Context, arch string) (Info, error) {
	o, err := l.SourceBuild(ctx, arch)
	if err != nil {
		return Info{}, err
	}
	return l.build(ctx, o, o.Tags[0])
}

// SourceBuild is FromSource's build: the base images resolved, the version stamped, the module
// proxy as a secret. The bench builds its variants of the Dockerfile with it.
func (l *Local) SourceBuild(ctx context.Context, arch string) (BuildOptions, error) {
	builder, err := l.resolve(ctx, Go)
	if err != nil {
		return BuildOptions{}, err
	}
	runtime, err := l.resolve(ctx, Alpine)
	if err != nil {
		return BuildOptions{}, err
	}
	// The build machine's module proxy setting, for machines that must use an internal one.
	goproxy, err := run.Output(ctx, "go", "env", "GOPROXY")
	if err != nil {
		return BuildOptions{}, err
	}
	return BuildOptions{
		Dockerfile: filepath.Join(l.Root, "Dockerfile"),
		Context:    l.Root,
		Platform:   "linux/" + arch,
		Tags:       []string{l.Repo + ":dev-alpine"},
		Args:       l.stampArgs(map[string]string{"GO_IMAGE": builder, "RUNTIME_IMAGE": runtime}),
		Secrets:    map[string]string{"goproxy": goproxy},
	}, nil
}

func (l *Local) build(ctx context.Context, o BuildOptions, name string) (Info, error) {
	if err := EnsureBuildx(ctx, l.Root, l.Out); err != nil {
		return Info{}, err
	}
	o.Progress = l.Out
	if _, err := Build(ctx, o); err != nil {
		if strings.Contains(err.Error(), "load metadata for") && !l.Source.StandIns {
			return Info{}, fmt.Errorf("a base image could not be fetched (see above). Without access to its registry, "+
				"build with %s=1 (local stand-ins, built on first use), or set %s=host/prefix to a mirror: %w",
				OfflineEnv, MirrorEnv, err)
		}
		return Info{}, err
	}
	info, err := Inspect(ctx, o.Tags[0])
	if err != nil {
		return info, err
	}
	fmt.Fprintln(l.Out)
	info.Report(l.Out, name)
	if IsStandIn(info.Config.Labels) {
		fmt.Fprintf(l.Out, "!! %s is built on offline stand-in base images: fine to try things, not to ship.\n", name)
	}
	return info, nil
}

func (l *Local) stampArgs(args map[string]string) map[string]string {
	args["VERSION"], args["COMMIT"], args["DATE"] = l.Stamp.Version, l.Stamp.Commit, l.Stamp.Date
	return args
}

// resolve finds the image to build FROM and says loudly when it is a stand-in.
func (l *Local) resolve(ctx context.Context, r Ref) (string, error) {
	res, err := l.Source.Resolve(ctx, r)
	if err != nil {
		return "", err
	}
	if res.StandIn {
		fmt.Fprintf(l.Out, "!! OFFLINE STAND-IN in use: %s\n!!   instead of %s\n!!   (built on first use with %s=1; a release refuses images built on it unless %s=1)\n",
			res.Ref, r, OfflineEnv, OfflineEnv)
	} else if l.Source.Mirror != "" {
		fmt.Fprintf(l.Out, "base image from the mirror: %s\n", res.Ref)
	}
	return res.Ref, nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}
