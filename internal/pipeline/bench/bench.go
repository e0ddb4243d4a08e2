// Package bench measures the pipeline and the service against their limits and peers: the
// `mage bench` target and the results table of BENCHMARKS.md.
//
// Every figure is a ratio measured side by side in one run on one machine: the contenders of a
// case run interleaved (A B C A B C ...), each repetition is kept, and the report shows the
// median with min–max and the subject's median over each other contender's. Nothing here
// asserts a speed; the tests cover the arithmetic and the report only.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// imageRepo names every image and container the bench makes, so it never replaces the
// developer's slipway:dev and is easy to clean up: `docker image ls slipway-bench`.
const imageRepo = project.Name + "-bench"

// bencher is the state of one run shared by the cases.
type bencher struct {
	o    Options
	out  io.Writer // progress
	log  io.Writer // image build output: .slipway/logs/bench.log
	work string    // scratch space, removed at the end

	local *image.Local   // made on first use: it starts the loopback registry offline
	c     *stage.Context // the run of the builds it measures, whose output goes to log
}

// caseFunc measures one case; build reports two results (warm and cold).
type caseFunc func(ctx context.Context, b *bencher) ([]Result, error)

var caseFuncs = map[string]caseFunc{
	"build":   buildCase,
	"noop":    noopCase,
	"size":    sizeCase,
	"rebuild": rebuildCase,
	"start":   startCase,
	"serve":   serveCase,
	"release": releaseCase,
}

// Run measures the cases of o, prints the table and, for a complete run (or BENCH_WRITE=1),
// rewrites the results section of BENCHMARKS.md. A failing case is reported and the others
// still run; the file is then left alone.
func Run(ctx context.Context, o Options, out io.Writer) error {
	// The release case signs with the project key; say so now, not after the other cases.
	if !o.Settings.CosignPassword && slices.Contains(o.Cases, "release") {
		return fmt.Errorf("the release case signs with .slipway/cosign.key: export %s=<its password> (or leave the case out: %s=%s)",
			sign.PasswordEnv, CasesEnv, strings.Join(slices.DeleteFunc(slices.Clone(o.Cases), func(c string) bool { return c == "release" }), ","))
	}
	rep := Report{Machine: DescribeMachine(ctx, o.Settings.Offline), Command: o.Command()}
	fmt.Fprintf(out, "bench: %s\n%s\n", strings.Join(o.Cases, ", "), rep.Machine.Line())
	logf, err := project.LogFile(o.Root, "bench")
	if err != nil {
		return err
	}
	defer logf.Close()
	logPath := logf.Name()
	work, err := os.MkdirTemp("", "slipway-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &bencher{o: o, out: out, log: logf, work: work, c: stage.New(o.Root, logf, o.Settings)}

	var errs []error
	for _, c := range o.Cases {
		fmt.Fprintf(out, "\n== %s (%d repetitions; image build output: %s)\n", c, o.Reps, logPath)
		res, err := caseFuncs[c](ctx, b)
		rep.Results = append(rep.Results, res...)
		if err != nil {
			errs = append(errs, fmt.Errorf("bench case %s: %w", c, err))
			fmt.Fprintf(out, "FAILED: %v\n", err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	rep.WriteText(out)
	err = errors.Join(errs...)
	switch {
	case err != nil:
		fmt.Fprintf(out, "\n%s not updated: a case failed\n", DocFile)
	case o.ShouldWrite():
		if err := WriteDoc(filepath.Join(o.Root, DocFile), rep.Markdown()); err != nil {
			return err
		}
		fmt.Fprintf(out, "\nresults written to %s\n", DocFile)
	default:
		fmt.Fprintf(out, "\n%s not updated: only a run of every case with %s>=%d replaces its figures (%s=1 forces it)\n",
			DocFile, RepsEnv, DefaultReps, WriteEnv)
	}
	return err
}

// Command is the command line that repeats this run, settings that differ from the defaults
// first.
func (o Options) Command() string {
	var env []string
	if len(o.Cases) != len(Cases) {
		env = append(env, CasesEnv+"="+strings.Join(o.Cases, ","))
	}
	if o.Reps != DefaultReps {
		env = append(env, fmt.Sprintf("%s=%d", RepsEnv, o.Reps))
	}
	if cold := platformList(o.ColdPlatforms); cold != "linux/amd64" && o.has("build") {
		env = append(env, ColdPlatformsEnv+"="+cold)
	}
	if v := o.Settings.Platforms; v != platformList(platform.Default) && (o.has("build") || o.has("noop")) {
		env = append(env, platform.EnvVar+"="+v)
	}
	if o.Settings.Offline {
		env = append(env, project.EnvPrefix+"OFFLINE=1")
	}
	return strings.TrimSpace(strings.Join(env, " ") + " go run mage.go bench")
}

func platformList(ps []platform.Platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// scratch makes a fresh directory under the run's work directory.
func (b *bencher) scratch(pattern string) (string, error) {
	return os.MkdirTemp(b.work, pattern)
}
