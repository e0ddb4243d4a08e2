package gobuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
)

// Repro checks that the sources build byte-identical binaries anywhere: it copies the checkout
// (the files git tracks plus the untracked files it does not ignore, as they are now, which is
// what the version stamp describes) into two directories, builds o.Platforms in each, the first
// with the usual GOCACHE and the second with an empty one, and compares the SHA-256 of every
// binary. o.Root must be a git checkout; o.Dist is not touched. The second build compiles
// everything from scratch: expect minutes.
func Repro(ctx context.Context, o Options) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	work, err := os.MkdirTemp("", "slipway-repro-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	trees := []struct{ dir, gocache string }{
		{filepath.Join(work, "one", "src"), ""},
		{filepath.Join(work, "second-tree", "source"), filepath.Join(work, "gocache")},
	}
	var dists []string
	for i, tree := range trees {
		if err := project.CopyCheckout(ctx, o.Root, tree.dir); err != nil {
			return fmt.Errorf("verify:repro: %w", err)
		}
		to := o
		to.Root, to.Dist = tree.dir, filepath.Join(tree.dir, "dist")
		cache := "the usual GOCACHE"
		if tree.gocache != "" {
			to.Env = append(slices.Clone(o.Env), "GOCACHE="+tree.gocache)
			cache = "an empty GOCACHE"
		}
		fmt.Fprintf(out, "build %d of 2 in %s with %s\n", i+1, tree.dir, cache)
		if _, err := Build(ctx, to); err != nil {
			return err
		}
		dists = append(dists, to.Dist)
	}
	return compare(out, dists[0], dists[1], o)
}

// compare reports the SHA-256 of each binary in both dist directories and fails naming every
// binary that differs.
func compare(out io.Writer, a, b string, o Options) error {
	var differ []string
	for _, p := range o.Platforms {
		rel := filepath.Join(p.DirName(), p.BinaryName())
		ha, err := fileSHA256(filepath.Join(a, rel))
		if err != nil {
			return err
		}
		hb, err := fileSHA256(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if ha == hb {
			fmt.Fprintf(out, "identical  %s  %s\n", ha, rel)
			continue
		}
		fmt.Fprintf(out, "DIFFERENT  %s  %s\n           %s  (second build)\n", ha, rel, hb)
		differ = append(differ, rel)
	}
	if len(differ) > 0 {
		return fmt.Errorf("not reproducible: %s differ between two builds of HEAD; compare them with `go tool buildid` and `diff <(go version -m a) <(go version -m b)`",
			strings.Join(differ, ", "))
	}
	fmt.Fprintf(out, "reproducible: %d binaries identical\n", len(o.Platforms))
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
