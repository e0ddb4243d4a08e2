package release

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/artifact"
)

func TestAFailedReleaseNeverLeavesACompleteLookingDist(t *testing.T) {
	t.Setenv("SLIPWAY_DIST", "")
	root := t.TempDir()
	dist := filepath.Join(root, "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dist, artifact.ChecksumsFile), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	failure := errors.New("scan gate failed")

	// Failing before goreleaser touched dist/: the previous release stays where it is.
	err := failure
	(&stages{}).setAsideOnFailure(root, &err)
	if _, statErr := os.Stat(filepath.Join(dist, artifact.ChecksumsFile)); statErr != nil || err.Error() != failure.Error() {
		t.Fatalf("an early failure moved dist/ (err %v)", err)
	}

	// Succeeding: dist/ stays.
	var ok error
	(&stages{distTouched: true}).setAsideOnFailure(root, &ok)
	if _, statErr := os.Stat(dist); statErr != nil || ok != nil {
		t.Fatalf("a successful release moved dist/ (err %v)", ok)
	}

	// Failing after goreleaser wrote to it: dist/ moves aside and the error says where.
	err = failure
	(&stages{distTouched: true}).setAsideOnFailure(root, &err)
	if _, statErr := os.Stat(dist); !os.IsNotExist(statErr) {
		t.Fatal("a failed release left dist/ in place")
	}
	moved := filepath.Join(root, ".slipway", "failed-release")
	if _, statErr := os.Stat(filepath.Join(moved, artifact.ChecksumsFile)); statErr != nil {
		t.Fatal(statErr)
	}
	if !errors.Is(err, failure) || !strings.Contains(err.Error(), moved) {
		t.Fatalf("error %q does not keep the cause and name %s", err, moved)
	}
}
