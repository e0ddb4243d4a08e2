package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/slipway-dev/slipway/internal/pipeline/buildkit"
	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/run"
	"github.com/slipway-dev/slipway/internal/pipeline/tools"
)

// inputs is everything prepare gathers before the first stage runs.
type inputs struct {
	root    string
	state   State
	version string // semver without the "v": goreleaser's .Version, in archive names
	tag     string // GORELEASER_CURRENT_TAG: the stamp's version
	build   []string
	gitEnv  []string
	epoch   string // SOURCE_DATE_EPOCH: the commit time

	goreleaser, cosign, trivy, crane string
}

// prepare reads the version and build settings, the git state and the tools, and checks
// .goreleaser.yaml against build:all, all before anything is built.
func prepare(ctx context.Context, o Options) (inputs, error) {
	in := inputs{root: o.Root, state: ReadState(o.Offline)}
	if d := project.DistDir(o.Root); filepath.Clean(d) != filepath.Join(o.Root, "dist") {
		return in, fmt.Errorf("SLIPWAY_DIST=%s: goreleaser always writes to dist/ (.goreleaser.yaml cannot template it); unset SLIPWAY_DIST to release", d)
	}
	bs, err := buildSettings(ctx, o.Root)
	if err != nil {
		return in, err
	}
	if err := CheckConfig(o.Root, bs.platforms); err != nil {
		return in, err
	}
	in.version, in.build, in.epoch = strings.TrimPrefix(bs.version, "v"), bs.env, bs.epoch
	in.tag = "v" + in.version
	in.state.Tag, in.state.Dirty = bs.exactTag, bs.dirty

	// goreleaser reads the project's URL from the git remote and stops without one; a fresh
	// local repository has none, so name the module's home instead (git config from the
	// environment: the repository itself is not touched).
	if _, err := (run.Cmd{Dir: o.Root}).Output(ctx, "git", "remote", "get-url", "origin"); err != nil {
		url, err := moduleURL(o.Root)
		if err != nil {
			return in, err
		}
		in.gitEnv = []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=remote.origin.url", "GIT_CONFIG_VALUE_0=" + url}
	}

	for name, dst := range map[string]*string{"goreleaser": &in.goreleaser, "cosign": &in.cosign, "trivy": &in.trivy, "crane": &in.crane} {
		if *dst, err = tools.Path(ctx, o.Root, name); err != nil {
			return in, err
		}
	}
	return in, nil
}

// goreleaserEnv is what .goreleaser.yaml reads (see its header), less the signing identity and
// the image settings, which depend on the phase.
func (in inputs) goreleaserEnv(publish bool) []string {
	env := append([]string{
		"GORELEASER_CURRENT_TAG=" + in.tag,
		fmt.Sprintf("SLIPWAY_PUBLISH=%t", publish),
		// BuildKit stamps image configs with it, so the images are reproducible too.
		"SOURCE_DATE_EPOCH=" + in.epoch,
		// goreleaser's sboms and signs find trivy and cosign on PATH.
		"PATH=" + filepath.Dir(in.trivy) + string(os.PathListSeparator) + filepath.Dir(in.cosign) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}, in.build...)
	return append(env, in.gitEnv...)
}

// imageInfra is the loopback registry and the multi-platform builder of one release.
type imageInfra struct {
	env      []string // SLIPWAY_IMAGE, SLIPWAY_BASE_IMAGE, BUILDX_BUILDER
	registry string   // the loopback registry, host:port
	stop     func()
}

// startImageInfra readies what the images need: the project's loopback registry (left running
// for `mage verify` and deploys, like every other use of it), the base image (upstream, a
// mirror, or offline a stand-in, which only offline mode may ship) and a multi-platform builder.
func startImageInfra(ctx context.Context, o Options, st *stages, in inputs) (imageInfra, error) {
	infra := imageInfra{stop: func() {}}
	if o.Skip.Has("images") {
		st.skipped("images", o.Skip.String())
		return infra, nil
	}
	err := st.run("image infrastructure", func() (string, error) {
		if err := image.CheckBuildx(ctx); err != nil {
			return "", err
		}
		reg, err := registry.Project(ctx, o.Root)
		if err != nil {
			return "", err
		}
		infra.registry = reg.Addr
		src, err := image.SourceFromEnv(reg.Addr, in.crane)
		if err != nil {
			return "", err
		}
		base, err := src.Resolve(ctx, image.Distroless)
		if err != nil {
			return "", err
		}
		if base.StandIn && !o.Offline {
			return "", fmt.Errorf("the base image %s is an offline stand-in for %s: a release ships real base images; "+
				"use the upstream image or a mirror (%s), or set %s=1 for a local release on purpose", base.Ref, image.Distroless, image.MirrorEnv, image.OfflineEnv)
		}
		env, stop, note, err := startBuilder(ctx, o, reg.Addr)
		if err != nil {
			return "", err
		}
		infra.stop = stop
		infra.env = append(env, "SLIPWAY_IMAGE="+reg.Addr+"/"+project.Name, "SLIPWAY_BASE_IMAGE="+base.Ref)
		if base.StandIn {
			note += "; base image is an offline STAND-IN: " + base.Ref
		}
		return fmt.Sprintf("registry %s; %s", reg.Addr, note), nil
	})
	return infra, err
}

// startBuilder picks the buildx builder: BUILDX_BUILDER when the user names one (it must push
// multi-platform images and reach the loopback registry, i.e. run on the host network), else a
// buildkitd of our own.
func startBuilder(ctx context.Context, o Options, registryHost string) (env []string, stop func(), note string, err error) {
	if b := os.Getenv("BUILDX_BUILDER"); b != "" {
		return []string{"BUILDX_BUILDER=" + b}, func() {}, "builder " + b + " (BUILDX_BUILDER)", nil
	}
	bin, err := tools.Path(ctx, o.Root, "buildkitd")
	if err != nil {
		return nil, nil, "", err
	}
	if err := buildkit.EnsureRunc(ctx, o.Out); err != nil {
		return nil, nil, "", err
	}
	d, err := buildkit.Start(ctx, buildkit.Config{
		Binary:   bin,
		StateDir: filepath.Join(project.StateDir(o.Root), "buildkit"),
		HTTP:     []string{registryHost},
	})
	if err != nil {
		return nil, nil, "", err
	}
	stop = func() {
		if err := d.Stop(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(o.Out, "warning: stopping buildkitd: %v\n", err)
		}
	}
	return []string{"BUILDX_BUILDER=" + d.Builder}, stop, "buildkitd " + d.Socket, nil
}

// moduleURL is https://<module path> for a module hosted where its path says.
func moduleURL(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	if m := modfile.ModulePath(data); m != "" {
		return "https://" + m, nil
	}
	return "", errors.New("go.mod has no module line")
}
