package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/inspect"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

// buildAll is the body of `mage build:all` (gobuild.For, gobuild.Build, verify:static)
// into dist instead of dist/: what the target costs, less mage's own start-up.
func buildAll(ctx context.Context, c *stage.Context, ps []platform.Platform, dist string, env []string) error {
	o, err := gobuild.For(ctx, c, ps)
	if err != nil {
		return err
	}
	o.Dist, o.Env, o.Out = dist, env, nil
	if _, err := gobuild.Build(ctx, o); err != nil {
		return err
	}
	return inspect.Dist(dist, ps, o.Stamp)
}

// bareLoop is the limit: `go build` with build:all's flags and environment, one process per
// platform, as many at once as there are CPUs, and nothing else (no inputs hash, no checks).
func bareLoop(ctx context.Context, root string, stamp version.Stamp, ps []platform.Platform, dist string, env []string) error {
	ld, err := gobuild.LDFlags(stamp)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, runtime.NumCPU())
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out := filepath.Join(dist, p.DirName(), p.BinaryName())
			errs[i] = run.Cmd{Dir: root, Env: append(gobuild.Env(p), env...)}.Run(ctx, "go", gobuild.Args(ld, out, gobuild.DefaultMain)...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// buildCase compares the cross-build matrix with a warm Go cache (PLATFORMS, default all seven)
// and with a cold one (BENCH_COLD_PLATFORMS, default linux/amd64).
func buildCase(ctx context.Context, b *bencher) ([]Result, error) {
	warmPs, err := platform.From(b.o.Settings)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, cold := range []bool{false, true} {
		ps := warmPs
		if cold {
			ps = b.o.ColdPlatforms
		}
		r, err := buildMatrix(ctx, b, ps, cold)
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func buildMatrix(ctx context.Context, b *bencher, ps []platform.Platform, cold bool) (Result, error) {
	name, cache := "build-warm", "warm Go cache"
	if cold {
		name, cache = "build-cold", "cold Go cache (a fresh GOCACHE per run; module cache kept)"
	}
	r := Result{Case: name, Title: fmt.Sprintf("cross-build of %s (%s), %s", platforms(len(ps)), platformList(ps), cache)}
	stamp, err := b.c.Stamp(ctx)
	if err != nil {
		return r, err
	}
	gr, err := newPeer(ctx, b, ps)
	if err != nil {
		return r, err
	}
	// Each run gets an empty output directory (and, cold, an empty GOCACHE): otherwise build:all
	// would find its binaries current and do nothing, which is the noop case.
	fresh := func(body func(ctx context.Context, dist string, env []string) error) func(context.Context, int) (map[string]float64, error) {
		return func(ctx context.Context, _ int) (map[string]float64, error) {
			dist, err := b.scratch("dist-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(dist)
			var env []string
			if cold {
				cache, err := b.scratch("gocache-")
				if err != nil {
					return nil, err
				}
				defer os.RemoveAll(cache)
				env = []string{"GOCACHE=" + cache}
			}
			return timeIt(ctx, func(ctx context.Context) error { return body(ctx, dist, env) })
		}
	}
	cs := []contender{
		{name: "build:all", role: "subject", run: fresh(func(ctx context.Context, dist string, env []string) error {
			return buildAll(ctx, b.c, ps, dist, env)
		})},
		{name: "bare parallel go build", role: "limit", run: fresh(func(ctx context.Context, dist string, env []string) error {
			return bareLoop(ctx, b.o.Root, stamp, ps, dist, env)
		})},
		{name: "goreleaser build --snapshot", role: "peer", run: fresh(func(ctx context.Context, _ string, env []string) error {
			return gr.build(ctx, env...)
		})},
	}
	if !cold {
		// One untimed round fills the Go cache, so every timed run finds it equally warm.
		fmt.Fprintln(b.out, "  warm-up round (not timed)")
		for _, c := range cs {
			if _, err := c.run(ctx, -1); err != nil {
				return r, fmt.Errorf("%s (warm-up): %w", c.name, err)
			}
		}
	}
	r.Series, err = measure(ctx, b.out, b.o.Reps, cs, seconds)
	if err != nil {
		return r, err
	}
	if !cold {
		r.ratioGoal("warm build:all ≤ 1.10× the bare loop", "build:all", "bare parallel go build", "time", 1.10, true)
		r.ratioGoal("warm build:all ≤ 0.7× goreleaser", "build:all", "goreleaser build --snapshot", "time", 0.7, true)
	}
	return r, nil
}

// noopCase times build:all when nothing changed against goreleaser's rebuild of the same
// matrix (goreleaser has no up-to-date check: --clean, then every platform is linked again).
func noopCase(ctx context.Context, b *bencher) ([]Result, error) {
	ps, err := platform.From(b.o.Settings)
	if err != nil {
		return nil, err
	}
	r := Result{Case: "noop", Title: fmt.Sprintf("rebuild with nothing changed, %s (%s), warm Go cache", platforms(len(ps)), platformList(ps))}
	gr, err := newPeer(ctx, b, ps)
	if err != nil {
		return []Result{r}, err
	}
	dist, err := b.scratch("dist-noop-")
	if err != nil {
		return []Result{r}, err
	}
	fmt.Fprintln(b.out, "  first build of each (not timed)")
	if err := buildAll(ctx, b.c, ps, dist, nil); err != nil {
		return []Result{r}, err
	}
	if err := gr.build(ctx); err != nil {
		return []Result{r}, err
	}
	cs := []contender{
		{name: "build:all (no-op)", role: "subject", run: func(ctx context.Context, _ int) (map[string]float64, error) {
			return timeIt(ctx, func(ctx context.Context) error { return buildAll(ctx, b.c, ps, dist, nil) })
		}},
		{name: "goreleaser build (rebuild)", role: "peer", run: func(ctx context.Context, _ int) (map[string]float64, error) {
			return timeIt(ctx, func(ctx context.Context) error { return gr.build(ctx) })
		}},
	}
	r.Series, err = measure(ctx, b.out, b.o.Reps, cs, seconds)
	if err != nil {
		return []Result{r}, err
	}
	r.valueGoal("no-op build:all ≤ 0.5 s", "build:all (no-op)", "time", 0.5, true)
	r.ratioGoal("no-op build:all ≤ 0.1× goreleaser's rebuild (≥ 10× faster)", "build:all (no-op)", "goreleaser build (rebuild)", "time", 0.1, true)
	return []Result{r}, nil
}

func platforms(n int) string {
	if n == 1 {
		return "1 platform"
	}
	return fmt.Sprintf("%d platforms", n)
}
