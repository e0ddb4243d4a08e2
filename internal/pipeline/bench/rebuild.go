package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/project"
)

// editFile is the Go file the "one-line change" appends to, in the bench's copy of the tree.
const editFile = "internal/server/server.go"

// cacheMount matches one `--mount=type=cache,...` of a RUN instruction, with the line
// continuation that follows it, so the RUN still reads as one command without it.
var cacheMount = regexp.MustCompile(`--mount=type=cache,\S*\s*(\\\n\s*)?`)

// withoutCacheMounts is the Dockerfile with its BuildKit cache mounts removed: the same build
// in which every RUN starts from what the image layers hold.
func withoutCacheMounts(dockerfile string) (string, error) {
	if !cacheMount.MatchString(dockerfile) {
		return "", errors.New("the Dockerfile has no RUN --mount=type=cache: nothing to compare; update the bench's rebuild case")
	}
	return cacheMount.ReplaceAllString(dockerfile, ""), nil
}

// rebuildCase times a Docker rebuild after a one-line Go change, the Dockerfile with its cache
// mounts against the same file without them. Both build a copy of the tree in a scratch
// directory, never the working tree, and the change is made to the copy before every build.
func rebuildCase(ctx context.Context, b *bencher) ([]Result, error) {
	r := Result{Case: "rebuild", Title: "docker build of Dockerfile after a one-line change to " + editFile + ", warm BuildKit cache"}
	src, err := b.scratch("tree-")
	if err != nil {
		return []Result{r}, err
	}
	if err := project.CopyCheckout(ctx, b.o.Root, src); err != nil {
		return []Result{r}, err
	}
	orig, err := os.ReadFile(filepath.Join(src, "Dockerfile"))
	if err != nil {
		return []Result{r}, err
	}
	stripped, err := withoutCacheMounts(string(orig))
	if err != nil {
		return []Result{r}, err
	}
	dir, err := b.scratch("dockerfiles-")
	if err != nil {
		return []Result{r}, err
	}
	withDF, err := writeFile(dir, "Dockerfile.cache-mounts", string(orig))
	if err != nil {
		return []Result{r}, err
	}
	withoutDF, err := writeFile(dir, "Dockerfile.no-cache-mounts", stripped)
	if err != nil {
		return []Result{r}, err
	}
	args, err := b.sourceArgs(ctx)
	if err != nil {
		return []Result{r}, err
	}
	delete(args, "LDFLAGS") // the Dockerfile stamps the version itself
	goFile := filepath.Join(src, editFile)
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
	build := func(df, tag string) func(context.Context, int) (map[string]float64, error) {
		return func(ctx context.Context, _ int) (map[string]float64, error) {
			if err := edit(); err != nil {
				return nil, err
			}
			return timeIt(ctx, func(ctx context.Context) error {
				_, err := b.buildDockerfile(ctx, df, src, tag, args)
				return err
			})
		}
	}
	cs := []contender{
		{name: "with cache mounts", role: "subject", run: build(withDF, "rebuild-cache-mounts")},
		{name: "without cache mounts", role: "baseline", run: build(withoutDF, "rebuild-no-cache-mounts")},
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
