// Package projecttest is the project package's helper for tests: the checkout they run in.
package projecttest

import (
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
)

// Root is the checkout's root (project.Root), or the test stops.
func Root(t testing.TB) string {
	t.Helper()
	root, err := project.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
