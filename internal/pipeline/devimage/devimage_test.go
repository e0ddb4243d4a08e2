package devimage

import (
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
)

// docker:build is the stand-ins (offline only), the binary, then the image: the image stage
// reads the binary the stage before it built.
func TestBuildStages(t *testing.T) {
	ss := BuildStages()
	var names []string
	for _, s := range ss {
		names = append(names, s.Name)
	}
	want := []string{stage.StandInBase, Binary, Distroless}
	if len(names) != len(want) {
		t.Fatalf("stages %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("stages %q, want %q", names, want)
		}
	}
	if !ss[0].OneOff {
		t.Error("the stand-ins are first-use setup, not the build's own time")
	}
	for _, offline := range []bool{false, true} {
		why, skip := ss[0].Skip(stage.New(t.TempDir(), nil, settings.Settings{Offline: offline}))
		if skip == offline || (skip && why == "") {
			t.Errorf("offline=%v: stand-ins skipped=%v (%q)", offline, skip, why)
		}
	}
}
