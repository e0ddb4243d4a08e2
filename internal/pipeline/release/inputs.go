package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/git"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/standin"
)

// inputs is everything prepare gathers before the first stage runs.
type inputs struct {
	root      string
	state     State
	version   string // semver without the "v": goreleaser's .Version, in archive names
	tag       string // GORELEASER_CURRENT_TAG: the stamp's version
	commit    string // the full commit hash built
	date      time.Time
	build     []string
	platforms []string // what goreleaser builds: build:all's default matrix
	gitEnv    []string
	epoch     string            // SOURCE_DATE_EPOCH: the commit time
	cfg       settings.Settings // the run's settings

	goreleaser, cosign, trivy, crane, govulncheck string
}

// prepare reads the version and build settings, the git state and the tools, and checks
// .goreleaser.yaml against build:all, all before anything is built.
func prepare(ctx context.Context, c *stage.Context) (inputs, error) {
	if filepath.Clean(c.Dist) != filepath.Join(c.Root, "dist") {
		return inputs{}, fmt.Errorf("SLIPWAY_DIST=%s: goreleaser always writes to dist/ (.goreleaser.yaml cannot template it); unset SLIPWAY_DIST to release", c.Dist)
	}
	stamp, err := c.Stamp(ctx)
	if err != nil {
		return inputs{}, err
	}
	in, bs, err := buildInputs(ctx, c.Root, stamp)
	if err != nil {
		return in, err
	}
	if err := CheckConfig(c.Root, bs.platforms); err != nil {
		return in, err
	}
	in.cfg = c.Settings
	in.state = ReadState(c.Settings)
	in.state.Tag, in.state.Dirty = bs.exactTag, bs.dirty

	for name, dst := range map[string]*string{"goreleaser": &in.goreleaser, "cosign": &in.cosign, "trivy": &in.trivy, "crane": &in.crane, "govulncheck": &in.govulncheck} {
		if *dst, err = c.Tool(ctx, name); err != nil {
			return in, err
		}
	}
	return in, nil
}

// buildInputs are the inputs of a goreleaser build of the checkout at root stamped stamp: the
// build settings and the git remote.
func buildInputs(ctx context.Context, root string, stamp version.Stamp) (inputs, buildConfig, error) {
	bs, err := readBuildConfig(ctx, root, stamp)
	if err != nil {
		return inputs{}, bs, err
	}
	in := inputs{root: root, version: strings.TrimPrefix(bs.version, "v"), build: bs.env, epoch: bs.epoch, platforms: bs.platforms,
		commit: bs.commit, date: bs.date}
	in.tag = "v" + in.version
	in.gitEnv, err = GitRemoteEnv(ctx, root)
	return in, bs, err
}

// GitRemoteEnv names the module's home as the git remote "origin" when the checkout at root
// has none, as git configuration in environment variables (the repository itself is not
// touched): goreleaser reads the project's URL from the remote and stops without one, and a
// fresh local repository has none. It is nil when there is a remote.
func GitRemoteEnv(ctx context.Context, root string) ([]string, error) {
	if _, ok := (git.Repo{Dir: root}).RemoteURL(ctx, "origin"); ok {
		return nil, nil
	}
	url, err := moduleURL(root)
	if err != nil {
		return nil, err
	}
	return []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=remote.origin.url", "GIT_CONFIG_VALUE_0=" + url}, nil
}

// GoreleaserBuildEnv is the environment the release runs goreleaser in, as `goreleaser build`
// of the run c needs it: goreleaserEnv without the tools on PATH, which only its
// sboms and signs use. The bench's goreleaser contender builds with it.
func GoreleaserBuildEnv(ctx context.Context, c *stage.Context) ([]string, error) {
	stamp, err := c.Stamp(ctx)
	if err != nil {
		return nil, err
	}
	in, _, err := buildInputs(ctx, c.Root, stamp)
	if err != nil {
		return nil, err
	}
	return in.buildEnv(false), nil
}

// goreleaserEnv is what .goreleaser.yaml reads (see its header), less the signing identity and
// the image settings, which depend on the phase.
func (in inputs) goreleaserEnv(publish bool) []string {
	// goreleaser's sboms and signs find trivy and cosign on PATH.
	return append(in.buildEnv(publish),
		"PATH="+filepath.Dir(in.trivy)+string(os.PathListSeparator)+filepath.Dir(in.cosign)+string(os.PathListSeparator)+in.cfg.Path)
}

// buildEnv is the part of goreleaserEnv its builds read.
func (in inputs) buildEnv(publish bool) []string {
	env := append([]string{
		"GORELEASER_CURRENT_TAG=" + in.tag,
		fmt.Sprintf("SLIPWAY_PUBLISH=%t", publish),
		"SOURCE_DATE_EPOCH=" + in.epoch,
	}, in.build...)
	return append(env, in.gitEnv...)
}

// imageInfra is the registry and the base image of one release's images.
type imageInfra struct {
	env      []string           // SLIPWAY_IMAGE, SLIPWAY_BASE_IMAGE
	registry *registry.Registry // the loopback registry
}

// imageInfra readies what the images need: the project's loopback registry (left running for
// `mage verify` and deploys, like every other use of it) and the base image (upstream, a mirror,
// or offline a stand-in, which only offline mode may ship). ko, inside goreleaser, builds and
// pushes the images itself: no Docker daemon, builder or root is involved. A publishing
// release's images go to its staging repository.
func (f *flow) imageInfra() []stage.Stage {
	var list []stage.Stage
	if f.o.Settings.Offline {
		s := standin.Stage(image.Distroless)
		s.Skip = f.skippedBy("images")
		list = append(list, s)
	}
	return append(list, stage.Stage{Name: stage.ImageInfra, Skip: f.skippedBy("images"), Run: f.startImageInfra})
}

func (f *flow) startImageInfra(ctx context.Context, c *stage.Context) (string, error) {
	reg, err := registry.Project(ctx, c.Root)
	if err != nil {
		return "", err
	}
	f.infra.registry = reg
	src, err := image.SourceFrom(c.Settings, reg.Addr, f.in.crane)
	if err != nil {
		return "", err
	}
	base, err := src.Resolve(ctx, image.Distroless)
	if err != nil {
		return "", err
	}
	if base.StandIn && !c.Settings.Offline && !image.ShipStandIns(c.Settings) {
		return "", fmt.Errorf("the base image %s is an offline stand-in for %s: a release ships real base images; "+
			"use the upstream image or a mirror (%s), or set %s=1 for a local release on purpose", base.Ref, image.Distroless, image.MirrorEnv, image.OfflineEnv)
	}
	repo := reg.Addr + "/" + project.Name
	if f.pub != nil {
		f.pub.staging = reg.Addr + "/" + f.stagingRepo
		repo = f.pub.staging
	}
	f.infra.env = []string{"SLIPWAY_IMAGE=" + repo, "SLIPWAY_BASE_IMAGE=" + base.Ref}
	note := "registry " + reg.Addr + "; base " + base.Ref
	switch {
	case base.StandIn && image.ShipStandIns(c.Settings):
		note += " (STAND-IN, shipped anyway: " + image.ShipStandInsEnv + "=1, TEST ONLY)"
	case base.StandIn:
		note += " (offline STAND-IN)"
	}
	return note, nil
}

// moduleURL is https://<module path> for a module hosted where its path says.
func moduleURL(root string) (string, error) {
	m, err := modulePath(root)
	if err != nil {
		return "", err
	}
	return "https://" + m, nil
}

// modulePath is the main module's path, from go.mod.
func modulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	if m := modfile.ModulePath(data); m != "" {
		return m, nil
	}
	return "", errors.New("go.mod has no module line")
}
