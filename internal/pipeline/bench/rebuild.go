package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
)

// editFile is the Go file the "one-line change" appends to, in the bench's copy of the tree.
const editFile = "internal/server/server.go"

// rebuildCase times a Docker rebuild after a one-line Go change, the Dockerfile with its cache
// mounts against the same file without them. Both build a copy of the tree in a scratch
// directory, never the working tree, and the change is made to the copy before every build.
func rebuildCase(ctx context.Context, b *bencher) ([]Result, error) {
	r := Result{Case: "rebuild", Title: "docker build of Dockerfile after a one-line change to " + editFile + ", warm BuildKit cache"}
	tree, err := b.rebuildTree(ctx)
	if err != nil {
		return []Result{r}, err
	}
	goFile := filepath.Join(tree.src, editFile)
	base, err := os.ReadFile(goFile)
	if err != nil {
		return []Result{r}, fmt.Errorf("the rebuild case edits %s: %w", editFile, err)
	}
	// A new line every build, so each build sees a change since its last. The run's start time
	// is part of it: BuildKit keeps its cache between bench runs, and an edit an earlier run
	// already made would be a cache hit, not a rebuild.
	run, edits := time.Now().UnixNano(), 0
	edit := func() error {
		edits++
		return os.WriteFile(goFile, fmt.Appendf(append([]byte{}, base...), "\nvar _ = \"bench edit %d-%d\"\n", run, edits), 0o644)
	}
	build := func(o image.BuildOptions) func(context.Context, int) (map[string]float64, error) {
		return func(ctx context.Context, _ int) (map[string]float64, error) {
			if err := edit(); err != nil {
				return nil, err
			}
			return timeIt(ctx, func(ctx context.Context) error {
				_, err := b.buildDockerfile(ctx, o)
				return err
			})
		}
	}
	cs := []contender{
		{name: "with cache mounts", role: "subject", run: build(tree.with)},
		{name: "without cache mounts", role: "baseline", run: build(tree.without)},
	}
	fmt.Fprintln(b.out, "  first build of each (not timed): fills the layer cache and the cache mounts")
	for _, c := range cs {
		if _, err := c.run(ctx, -1); err != nil {
			return []Result{r}, fmt.Errorf("%s (first build): %w", c.name, err)
		}
	}
	if r.Series, err = measure(ctx, b.out, b.o.Reps, cs, seconds); err != nil {
		return []Result{r}, err
	}
	r.ratioGoal("rebuild with cache mounts ≤ 0.3× without", "with cache mounts", "without cache mounts", "time", 0.3, true)
	return []Result{r}, nil
}

// rebuildTree is a copy of the checkout and docker:source's build of it
// (image.Local.SourceBuild), with the Dockerfile as it is and without its cache mounts.
type rebuildTree struct {
	src           string
	with, without image.BuildOptions
}

func (b *bencher) rebuildTree(ctx context.Context) (rebuildTree, error) {
	var t rebuildTree
	var err error
	if t.src, err = b.scratch("tree-"); err != nil {
		return t, err
	}
	if err := project.CopyCheckout(ctx, b.o.Root, t.src); err != nil {
		return t, err
	}
	orig, err := os.ReadFile(filepath.Join(t.src, "Dockerfile"))
	if err != nil {
		return t, err
	}
	stripped, err := image.WithoutCacheMounts(string(orig))
	if err != nil {
		return t, err
	}
	dir, err := b.scratch("dockerfiles-")
	if err != nil {
		return t, err
	}
	for _, v := range []struct {
		o               *image.BuildOptions
		dockerfile, tag string
	}{{&t.with, string(orig), "rebuild-cache-mounts"}, {&t.without, stripped, "rebuild-no-cache-mounts"}} {
		df, err := writeFile(dir, "Dockerfile."+v.tag, v.dockerfile)
		if err != nil {
			return t, err
		}
		if *v.o, err = b.sourceBuild(ctx, df, t.src, v.tag); err != nil {
			return t, err
		}
	}
	return t, nil
}
