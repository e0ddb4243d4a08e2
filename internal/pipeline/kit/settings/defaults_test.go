package settings_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/bench"
	"github.com/slipway-dev/slipway/internal/pipeline/deploy"
	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/scan"
)

// The packages name their defaults for messages and docs; Settings' default tags must say the
// same, or a setting left unset would mean one thing here and another there.
func TestDefaultsAreThePackages(t *testing.T) {
	s, err := settings.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := platform.ParseList(s.Platforms)
	if err != nil || !slices.Equal(ps, platform.Default) {
		t.Errorf("PLATFORMS default %s, platform.Default %v (%v)", s.Platforms, platform.Default, err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"SLIPWAY_REGISTRY_ADDR", s.RegistryAddr, registry.DefaultAddr},
		{"PORT", strconv.Itoa(s.Port), strconv.Itoa(image.DefaultDevPort)},
		{"BENCH_REPS", s.BenchReps, strconv.Itoa(bench.DefaultReps)},
		{"DEPLOY_OVERLAY", s.DeployOverlay, deploy.DefaultOverlay},
		{"SCAN_SEVERITY", s.ScanSeverity, scan.DefaultSeverity},
	} {
		if c.got != c.want {
			t.Errorf("%s default %q, its package's %q", c.name, c.got, c.want)
		}
	}
}
