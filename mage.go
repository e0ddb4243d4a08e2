//go:build ignore

// Zero-install entry point: `go run mage.go <target>` works with nothing but Go.
// An installed `mage` binary, or `go tool mage`, runs the same magefile.go.
package main

import (
	"os"

	"github.com/magefile/mage/mage"
)

func main() { os.Exit(mage.Main()) }
