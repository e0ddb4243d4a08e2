package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// Cases are the comparisons, in the order they run and are reported.
var Cases = []string{"build", "noop", "size", "rebuild", "start", "serve", "release"}

// DefaultReps is the number of repetitions of each contender: the issue asks for a median of at
// least 5.
const DefaultReps = 5

// Settings names, for messages and the docs.
const (
	CasesEnv         = "BENCH"
	RepsEnv          = "BENCH_REPS"
	ColdPlatformsEnv = "BENCH_COLD_PLATFORMS"
	WriteEnv         = "BENCH_WRITE"
)

// Options are the settings of one bench run.
type Options struct {
	Root  string
	Cases []string // a subset of Cases, in Cases order
	Reps  int
	// ColdPlatforms is the matrix of the cold-cache build: a cold 7-platform matrix takes
	// about 7 minutes a run on 2 cores, so the default is linux/amd64 alone.
	ColdPlatforms []platform.Platform
	// Write: rewrite the results section of BENCHMARKS.md. Nil means: only for a complete run
	// (every case, at least DefaultReps reps), so a quick check never replaces real figures.
	Write    *bool
	Settings settings.Settings // the run's, read once by the caller
}

// OptionsFrom takes BENCH, BENCH_REPS, BENCH_COLD_PLATFORMS and BENCH_WRITE from s.
func OptionsFrom(root string, s settings.Settings) (Options, error) {
	o := Options{Root: root, Settings: s, Write: s.BenchWrite}
	var err error
	if o.Cases, err = ParseCases(s.Bench); err != nil {
		return o, err
	}
	if o.Reps, err = ParseReps(s.BenchReps); err != nil {
		return o, err
	}
	if o.ColdPlatforms, err = platform.ParseList(s.BenchColdPlatforms); err != nil {
		return o, fmt.Errorf("%s: %w", ColdPlatformsEnv, err)
	}
	return o, nil
}

// ParseCases reads BENCH: a comma-separated subset of Cases; empty or "all" means every case.
func ParseCases(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return slices.Clone(Cases), nil
	}
	want := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !slices.Contains(Cases, f) {
			return nil, fmt.Errorf("%s=%q: unknown case %q; choose from %s (or leave %s unset for all)",
				CasesEnv, s, f, strings.Join(Cases, ","), CasesEnv)
		}
		want[f] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("%s=%q names no case; choose from %s", CasesEnv, s, strings.Join(Cases, ","))
	}
	var out []string
	for _, c := range Cases { // the fixed order: cases that share state (build, noop) run in sequence
		if want[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// ParseReps reads BENCH_REPS: a positive whole number, DefaultReps when empty.
func ParseReps(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultReps, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a whole number of repetitions, at least 1 (the default, %d, is what BENCHMARKS.md reports)",
			RepsEnv, s, DefaultReps)
	}
	return n, nil
}

// complete says whether the run may stand for the whole benchmark.
func (o Options) complete() bool {
	return len(o.Cases) == len(Cases) && o.Reps >= DefaultReps
}

// ShouldWrite says whether the run rewrites BENCHMARKS.md.
func (o Options) ShouldWrite() bool {
	if o.Write != nil {
		return *o.Write
	}
	return o.complete()
}

func (o Options) has(c string) bool { return slices.Contains(o.Cases, c) }
