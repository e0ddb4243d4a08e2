//go:build mage

// Slipway's build-to-deploy pipeline. This file is the menu: each target is a doc comment
// (what `mage -l` prints) and a few lines that call a tested package under internal/pipeline.
// Run targets with `go run mage.go <target>`, `go tool mage <target>` or an installed `mage`.
package main

import (
	"context"
	"fmt"

	"github.com/magefile/mage/mg"

	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/tools"
)

// `mage build`, `mage verify` and `mage release` name namespaces as well as single targets;
// Go cannot have a func and a type of one name, so those three are aliases.
var Aliases = map[string]any{}

// ---- build (internal/pipeline/{platform,version,gobuild,inspect}) ----

// ---- quality: test, lint, vuln (internal/pipeline/quality) ----

// ---- tools ----

// Setup installs every pinned tool (tools/<name>/go.mod) into .slipway/tools and reports each one.
func Setup(ctx context.Context) error {
	root, err := project.Root()
	if err != nil {
		return err
	}
	for _, t := range tools.All {
		v, err := t.Version(root)
		if err != nil {
			return err
		}
		_, had, err := t.Installed(root)
		if err != nil {
			return err
		}
		p, err := t.Path(ctx, root)
		if err != nil {
			return err
		}
		state := "installed"
		if had {
			state = "found"
		}
		fmt.Printf("%-14s %-10s %-9s %s\n", t.Name, v, state, p)
	}
	return nil
}

// ---- docker (internal/pipeline/{registry,standin,image}) ----

// ---- release and verify (internal/pipeline/{sign,release}) ----

// ---- scan (internal/pipeline/scan) ----

// ---- starter: init, deploy (internal/pipeline/{initproject,deploy}) ----

// ---- bench (internal/pipeline/bench) ----

var _ = mg.Namespace("") // mg is used by the namespaces added above
