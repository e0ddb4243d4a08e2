//go:build ignore

// Zero-install entry point: `go run mage.go <target>` works with nothing but Go.
// An installed `mage` binary, or `go tool mage`, runs the same magefile.go.
package main

import (
	"os"

	"github.com/magefile/mage/mage"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

func main() {
	// `go run` dies on SIGTERM without passing it on; this runner then gets a SIGTERM of its
	// own, dies too, and the compiled magefile (which asks for the same) stops its targets.
	run.DieWithParent()
	os.Exit(mage.Main())
}
