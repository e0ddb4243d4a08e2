//go:build mage

package main

import (
	"context"

	"github.com/magefile/mage/mg"
)

var Aliases = map[string]any{
	"build": Build.Host,
}

type Build mg.Namespace

// Host builds for this machine.
func (Build) Host(ctx context.Context) error { return nil }

// All builds every platform.
func (Build) All() {}

type helper struct{}

func (helper) Hidden() {}

// Init takes a module path and an optional name flag.
func Init(ctx context.Context, module string, name *string) error { return nil }

// Two takes two positional arguments.
func Two(a, b string) {}

func private() {}

// Lint and Test are what a release must wait for.
func Lint() {}

func Test(ctx context.Context) error { return nil }
