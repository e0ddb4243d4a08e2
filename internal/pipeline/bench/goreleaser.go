package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
	"github.com/slipway-dev/slipway/internal/pipeline/release"
)

// peer runs `goreleaser build --snapshot --clean` the way the release runs goreleaser: in the
// release's environment (release.GoreleaserBuildEnv), from the checkout itself (it reads git),
// but with a copy of .goreleaser.yaml whose dist: is a scratch directory, so the user's dist/ is
// not touched, and whose targets are the matrix being compared (goreleaser cannot read PLATFORMS).
type peer struct {
	bin, root, config string
	env               []string
}

func newPeer(ctx context.Context, b *bencher, ps []platform.Platform) (peer, error) {
	bin, err := tools.Path(ctx, b.o.Root, "goreleaser")
	if err != nil {
		return peer{}, err
	}
	src, err := os.ReadFile(filepath.Join(b.o.Root, ".goreleaser.yaml"))
	if err != nil {
		return peer{}, err
	}
	dir, err := b.scratch("goreleaser-")
	if err != nil {
		return peer{}, err
	}
	cfg, err := goreleaserConfig(src, filepath.Join(dir, "dist"), ps)
	if err != nil {
		return peer{}, err
	}
	p := peer{bin: bin, root: b.o.Root, config: filepath.Join(dir, "goreleaser.yaml")}
	if err := os.WriteFile(p.config, cfg, 0o644); err != nil {
		return peer{}, err
	}
	p.env, err = release.GoreleaserBuildEnv(ctx, b.c)
	return p, err
}

// build runs goreleaser; extra is added to its environment (a cold GOCACHE).
func (p peer) build(ctx context.Context, extra ...string) error {
	env := append(append([]string{}, p.env...), extra...)
	return run.Cmd{Dir: p.root, Env: env}.Run(ctx, p.bin, "build", "--snapshot", "--clean", "--config", p.config)
}

// goreleaserConfig is .goreleaser.yaml with dist: set and the (single) build's targets replaced.
func goreleaserConfig(src []byte, dist string, ps []platform.Platform) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf(".goreleaser.yaml: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf(".goreleaser.yaml is not a mapping: the bench cannot point its dist: elsewhere")
	}
	top := doc.Content[0]
	setKey(top, "dist", &yaml.Node{Kind: yaml.ScalarNode, Value: dist})
	builds := getKey(top, "builds")
	if builds == nil || builds.Kind != yaml.SequenceNode || len(builds.Content) != 1 {
		return nil, fmt.Errorf(".goreleaser.yaml: want exactly one entry under builds: (the service) to compare with build:all")
	}
	targets := &yaml.Node{Kind: yaml.SequenceNode}
	for _, p := range ps {
		targets.Content = append(targets.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: goreleaserTarget(p)})
	}
	setKey(builds.Content[0], "targets", targets)
	return yaml.Marshal(&doc)
}

// goreleaserTarget is goreleaser's name of p with Go's default level, which build:all uses:
// linux/amd64 -> linux_amd64_v1, linux/arm64 -> linux_arm64_v8.0, linux/arm/v7 -> linux_arm_7.
func goreleaserTarget(p platform.Platform) string {
	base := p.OS + "_" + p.Arch
	switch p.Arch {
	case "amd64":
		return base + "_v1"
	case "arm64":
		return base + "_v8.0"
	case "arm":
		return base + "_" + strings.TrimPrefix(p.Variant, "v")
	case "386":
		return base + "_sse2"
	}
	return base
}

func getKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setKey(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}
