package setup

import (
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
)

// setup is the tools, then the buildx plugin, then (offline only) the stand-ins, which need both.
func TestStages(t *testing.T) {
	ss := Stages()
	want := []string{stage.Tools, Buildx, StandIns}
	if len(ss) != len(want) {
		t.Fatalf("%d stages, want %q", len(ss), want)
	}
	for i, s := range ss {
		if s.Name != want[i] {
			t.Fatalf("stage %d is %q, want %q", i, s.Name, want[i])
		}
	}
	for _, offline := range []bool{false, true} {
		why, skip := ss[2].Skip(stage.New(t.TempDir(), nil, settings.Settings{Offline: offline}))
		if skip == offline || (skip && why == "") {
			t.Errorf("offline=%v: stand-ins skipped=%v (%q)", offline, skip, why)
		}
	}
}
