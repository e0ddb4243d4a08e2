// Package toolstest gives tests the project's pinned tools.
package toolstest

import (
	"context"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
)

// Path returns the pinned tool, building it on first use as the pipeline does.
func Path(t testing.TB, name string) string {
	t.Helper()
	root, err := project.Root()
	if err != nil {
		t.Fatal(err)
	}
	p, err := tools.Path(context.Background(), root, name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Installed returns the pinned tool if it is installed and skips the test if not: for tools
// that take minutes to build, so that a plain `go test ./...` before `mage setup` stays quick.
// CI runs setup first, so there the test runs.
func Installed(t testing.TB, name string) string {
	t.Helper()
	root, err := project.Root()
	if err != nil {
		t.Fatal(err)
	}
	tool, err := tools.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	p, ok, err := tool.Installed(root)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skipf("%s is not installed: run `go run mage.go setup` (CI does, before the tests)", name)
	}
	return p
}
