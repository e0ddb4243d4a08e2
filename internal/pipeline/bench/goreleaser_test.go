package bench

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
)

func TestGoreleaserConfigPointsDistAndTargetsElsewhere(t *testing.T) {
	root := projecttest.Root(t)
	src, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := platform.ParseList("linux/amd64,linux/arm/v7,darwin/arm64")
	if err != nil {
		t.Fatal(err)
	}
	out, err := goreleaserConfig(src, "/tmp/x/dist", ps)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Dist   string `yaml:"dist"`
		Builds []struct {
			Ldflags []string `yaml:"ldflags"`
			Targets []string `yaml:"targets"`
		} `yaml:"builds"`
		ProjectName string `yaml:"project_name"`
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Dist != "/tmp/x/dist" || cfg.ProjectName != project.Name {
		t.Errorf("dist %q, project %q", cfg.Dist, cfg.ProjectName)
	}
	if want := []string{"linux_amd64_v1", "linux_arm_7", "darwin_arm64_v8.0"}; !reflect.DeepEqual(cfg.Builds[0].Targets, want) {
		t.Errorf("targets %v, want %v", cfg.Builds[0].Targets, want)
	}
	if len(cfg.Builds[0].Ldflags) != 1 || cfg.Builds[0].Ldflags[0] != "{{ .Env.SLIPWAY_LDFLAGS }}" {
		t.Errorf("the flags changed: %v", cfg.Builds[0].Ldflags)
	}
}

func TestGoreleaserConfigRejectsSeveralBuilds(t *testing.T) {
	if _, err := goreleaserConfig([]byte("builds:\n  - id: a\n  - id: b\n"), "/d", platform.Default); err == nil {
		t.Error("two builds accepted")
	}
}
