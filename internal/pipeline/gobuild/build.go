package gobuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

// Options says what to build.
type Options struct {
	Root      string // module root: the directory holding go.mod
	Dist      string // output directory; each platform gets Dist/<DirName>/
	Main      string // main package, relative to Root; DefaultMain when empty
	Platforms []platform.Platform
	Stamp     version.Stamp
	Env       []string  // extra toolchain environment, e.g. GOCACHE=... (part of the inputs unless a fetchKeys one)
	Jobs      int       // parallel builds; runtime.NumCPU() when 0
	Out       io.Writer // progress and summary; nothing printed when nil
}

// For fills Options for the run c: its root and dist, the service's main, its version stamp,
// its output. Nil ps means the matrix of $PLATFORMS.
func For(ctx context.Context, c *stage.Context, ps []platform.Platform) (Options, error) {
	if ps == nil {
		var err error
		if ps, err = platform.From(c.Settings); err != nil {
			return Options{}, err
		}
	}
	stamp, err := c.Stamp(ctx)
	if err != nil {
		return Options{}, err
	}
	return Options{Root: c.Root, Dist: c.Dist, Main: DefaultMain, Platforms: ps, Stamp: stamp, Out: c.Out}, nil
}

// Result is the outcome for one platform.
type Result struct {
	Platform platform.Platform
	Path     string // the binary
	Size     int64
	Duration time.Duration
	UpToDate bool // inputs unchanged: nothing was compiled or linked
	Err      error
}

// Build builds every platform, in parallel, into Dist/<DirName>/, skipping platforms whose
// InputsFile says their inputs are unchanged. The error names every platform that failed.
//
// dist/ never looks more complete than it is: all out-of-date platform directories are removed
// before the first compile, and each binary is linked in a temporary directory inside Dist and
// renamed into place together with its InputsFile. So after a failed or interrupted run every
// platform directory present holds a finished binary of the current inputs.
func Build(ctx context.Context, o Options) ([]Result, error) {
	if o.Main == "" {
		o.Main = DefaultMain
	}
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if len(o.Platforms) == 0 {
		return nil, errors.New("no platforms to build")
	}
	ld, err := LDFlags(o.Stamp)
	if err != nil {
		return nil, err
	}
	// The toolchain the builds use: the go env file's GOTOOLCHAIN does not count (Toolchain).
	goVersion, err := run.Cmd{Dir: o.Root, Env: append(Toolchain(), o.Env...)}.Output(ctx, "go", "version")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dist, 0o755); err != nil {
		return nil, err
	}
	// Leftovers of an interrupted run. (Two concurrent builds into one dist/ are not supported.)
	stale, _ := filepath.Glob(filepath.Join(o.Dist, ".*.tmp-*"))
	for _, s := range stale {
		os.RemoveAll(s)
	}

	start := time.Now()
	jobs := make([]job, len(o.Platforms))
	results := make([]Result, len(o.Platforms))
	var mu sync.Mutex // serializes progress lines
	report := func(i int, t0 time.Time) {
		results[i].Duration = time.Since(t0)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(out, progressLine(results[i]))
	}

	// 1: decide, for every platform, before anything is removed or compiled.
	parallel(o.Jobs, len(jobs), func(i int) {
		t0 := time.Now()
		p := o.Platforms[i]
		jobs[i] = newJob(o, p, ld, goVersion)
		results[i] = Result{Platform: p, Path: filepath.Join(jobs[i].final, p.BinaryName())}
		results[i].UpToDate, results[i].Size, results[i].Err = jobs[i].check(ctx, p)
		if results[i].UpToDate || results[i].Err != nil {
			report(i, t0)
		}
	})
	var todo []int
	for i := range jobs {
		if results[i].UpToDate {
			continue
		}
		// The old binary does not match (or cannot be shown to match) the sources: nothing
		// downstream (archives, images) may package it, even if this run is interrupted.
		if err := os.RemoveAll(jobs[i].final); err != nil && results[i].Err == nil {
			results[i].Err = err
		}
		if results[i].Err == nil {
			todo = append(todo, i)
		}
	}

	// 2: build what is out of date.
	parallel(o.Jobs, len(todo), func(k int) {
		i := todo[k]
		t0 := time.Now()
		results[i].Size, results[i].Err = jobs[i].buildOne(ctx, o, o.Platforms[i])
		report(i, t0)
	})
	summary(out, results, time.Since(start))

	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("build %s failed: %w", r.Platform, r.Err))
		}
	}
	return results, errors.Join(errs...)
}

// parallel runs fn(0..n-1) with at most limit running at once.
func parallel(limit, n int, fn func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// job is one platform's build.
type job struct {
	final   string // dist/<DirName>
	target  target // the inputs, as recorded in InputsFile
	ldflags string
	want    []byte // the full manifest, once computed
}

func newJob(o Options, p platform.Platform, ld, goVersion string) job {
	return job{
		final: filepath.Join(o.Dist, p.DirName()),
		// The manifest names the final path, not the temporary one, so it is the same every run.
		target: target{root: o.Root, goVersion: goVersion, env: append(Env(p), o.Env...),
			args: Args(ld, filepath.Join(p.DirName(), p.BinaryName()), o.Main)},
		ldflags: ld,
	}
}

// check reports whether final holds a binary built from the current inputs. The fast path
// replays the recorded manifest (no `go list`); only when that differs is the full manifest
// computed. If only watch lines differ (say a test file changed), the binary is still current:
// the record is refreshed so the next check takes the fast path again.
func (j *job) check(ctx context.Context, p platform.Platform) (upToDate bool, size int64, err error) {
	recorded, _ := os.ReadFile(filepath.Join(j.final, InputsFile))
	st, statErr := os.Stat(filepath.Join(j.final, p.BinaryName()))
	if recorded == nil || statErr != nil {
		return false, 0, nil // nothing to compare with: buildOne computes the manifest
	}
	if bytes.Equal(replay(recorded, j.target), recorded) {
		return true, st.Size(), nil
	}
	if j.want, err = manifest(ctx, j.target); err != nil {
		return false, 0, err
	}
	if !bytes.Equal(decisive(recorded), decisive(j.want)) {
		return false, 0, nil
	}
	return true, st.Size(), writeAtomic(filepath.Join(j.final, InputsFile), j.want)
}

// buildOne links the binary in a temporary directory and renames it into place with the manifest.
func (j *job) buildOne(ctx context.Context, o Options, p platform.Platform) (int64, error) {
	tmp, err := os.MkdirTemp(o.Dist, "."+p.DirName()+".tmp-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	bin := filepath.Join(tmp, p.BinaryName())
	// A platform with no binary yet has no manifest yet either. It is taken here, in this
	// platform's job, so other platforms compile meanwhile; and before the compiler runs, so a
	// file edited during the build makes the record older than the binary (the next build
	// redoes it), never newer (a stale binary that looks current).
	if j.want == nil {
		if j.want, err = manifest(ctx, j.target); err != nil {
			return 0, err
		}
	}
	if err := (run.Cmd{Dir: o.Root, Env: j.target.env}).Run(ctx, "go", Args(j.ldflags, bin, o.Main)...); err != nil {
		return 0, err
	}
	st, err := os.Stat(bin)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(tmp, InputsFile), j.want, 0o644); err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp's 0700 would hide the binary from other users
		return 0, err
	}
	return st.Size(), os.Rename(tmp, j.final)
}

// writeAtomic replaces path with data so that a reader sees the old or the new content.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func status(r Result) string {
	switch {
	case r.Err != nil:
		return "FAILED"
	case r.UpToDate:
		return "up to date"
	}
	return "built"
}

func progressLine(r Result) string {
	return fmt.Sprintf("%-14s %-10s %9s %6.1fs", r.Platform, status(r), size(r), r.Duration.Seconds())
}

func summary(w io.Writer, results []Result, total time.Duration) {
	var built, fresh, failed int
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPLATFORM\tSTATUS\tSIZE\tTIME\tBINARY")
	for _, r := range results {
		switch status(r) {
		case "built":
			built++
		case "up to date":
			fresh++
		default:
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\t%s\n", r.Platform, status(r), size(r), r.Duration.Seconds(), r.Path)
	}
	tw.Flush()
	if fresh == len(results) {
		fmt.Fprintf(w, "all %d platforms up to date: nothing compiled or linked (%.2fs)\n", fresh, total.Seconds())
		return
	}
	fmt.Fprintf(w, "%d platforms: %d built, %d up to date, %d failed in %.1fs\n",
		len(results), built, fresh, failed, total.Seconds())
}

func size(r Result) string {
	if r.Size == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(r.Size)/(1<<20))
}
