// Package stage is the shared kit of the pipeline's multi-step targets: a Context made once per
// run, a Stage (a name, a skip decision, a step), and Run, which runs a list of stages in order,
// times them, prints their progress and stops at the first failure.
package stage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

// Context is what every stage of one run shares. Make it once per run (New): the version stamp
// and the tool paths are then looked up once however many stages ask.
type Context struct {
	Root      string            // the checkout
	Dist      string            // where the run writes what it makes: project.DistDir
	Settings  settings.Settings // read once by the caller (the magefile: settings.Init)
	Out       io.Writer         // progress, and whatever the stages print
	Artifacts Artifacts         // what the stages made so far, in order: later stages read it

	stamp    *version.Stamp
	toolPath map[string]string
}

// Artifact is one thing a stage made.
type Artifact struct {
	Name string // file name, or image reference
	Path string // the file; "" for an image
	Kind string // what it is: an artifact.Kind* of release.json
}

// Artifacts are what the stages of a run made.
type Artifacts []Artifact

// Of is the artifacts of kind, in the order they were made.
func (as Artifacts) Of(kind string) []Artifact {
	var out []Artifact
	for _, a := range as {
		if a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

// Name is the name of the one artifact of kind, "" when none was made.
func (as Artifacts) Name(kind string) string {
	if of := as.Of(kind); len(of) > 0 {
		return of[0].Name
	}
	return ""
}

// New makes the context of one run of the checkout at root with settings s.
func New(root string, out io.Writer, s settings.Settings) *Context {
	return &Context{Root: root, Dist: project.DistDir(root, s), Settings: s, Out: out}
}

// Stamp is the checkout's version stamp, from `git describe` on first use only: every stage of
// a run stamps the same version.
func (c *Context) Stamp(ctx context.Context) (version.Stamp, error) {
	if c.stamp == nil {
		s, err := version.Describe(ctx, c.Root, c.Settings.SourceDateEpoch)
		if err != nil {
			return s, err
		}
		c.stamp = &s
	}
	return *c.stamp, nil
}

// Tool is the path of a pinned tool, built on first use (tools.Path), looked up once a run.
func (c *Context) Tool(ctx context.Context, name string) (string, error) {
	if p, ok := c.toolPath[name]; ok {
		return p, nil
	}
	p, err := tools.Path(ctx, c.Root, name)
	if err != nil {
		return "", err
	}
	if c.toolPath == nil {
		c.toolPath = map[string]string{}
	}
	c.toolPath[name] = p
	return p, nil
}

// Add records artifacts a stage made.
func (c *Context) Add(a ...Artifact) { c.Artifacts = append(c.Artifacts, a...) }

// Stage is one step of a run.
type Stage struct {
	Name string
	// Skip says whether the stage stays out of this run, and why (the summary shows it); nil
	// runs it. It is asked when the stage's turn comes, so it may read what earlier stages did.
	Skip func(*Context) (reason string, skip bool)
	// Run does the work and returns a note for the summary ("" for none). CannotRun(why) as its
	// error records the stage as NOT RUN and goes on.
	Run func(context.Context, *Context) (note string, err error)
	// OneOff marks first-use setup (tools, stand-ins): the summary counts it apart.
	OneOff bool
}

// Skipping is a stage that never runs, for the summary: a part of another stage's work that was
// left out, and why.
func Skipping(name, why string) Stage {
	return Stage{Name: name, Skip: func(*Context) (string, bool) { return why, true }}
}

// Status is how a stage ended.
type Status string

// The outcomes of a stage.
const (
	OK      Status = "ok"
	Skipped Status = "SKIPPED"
	NotRun  Status = "NOT RUN"
	Failed  Status = "FAILED"
)

// Result is how one stage went.
type Result struct {
	Name     string
	Status   Status
	Note     string // passed: what it did; skipped or not run: why
	Duration time.Duration
	OneOff   bool  // first-use setup, not the run's own time
	Err      error // the failure
}

// String is the result as the summary shows it: "ok", "ok, <note>", "SKIPPED (<why>)",
// "NOT RUN (<why>)" or "FAILED".
func (r Result) String() string {
	switch {
	case r.Status == OK && r.Note != "":
		return "ok, " + r.Note
	case r.Status == Skipped || r.Status == NotRun:
		return string(r.Status) + " (" + r.Note + ")"
	}
	return string(r.Status)
}

// notRunError is CannotRun's error.
type notRunError struct{ why string }

func (e notRunError) Error() string { return "NOT RUN: " + e.why }

// CannotRun is the error of a stage that could not run for a reason that is not a failure (no
// database offline, no token): it is recorded as NOT RUN, loudly, and the run goes on.
func CannotRun(why string) error { return notRunError{why} }

// Run runs stages in order, each unless its Skip says otherwise, and stops at the first failure
// or when ctx is done. It prints a line as each stage starts and ends, and returns the results
// of the stages that came to their turn.
func Run(ctx context.Context, c *Context, stages []Stage) ([]Result, error) {
	start := time.Now()
	var results []Result
	for i, s := range stages {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		// "==> name" first: what a reader (and the end-to-end tests) look for.
		n := fmt.Sprintf("[%d/%d]", i+1, len(stages))
		if s.Skip != nil {
			if why, skip := s.Skip(c); skip {
				fmt.Fprintf(c.Out, "==> %s: SKIPPED (%s) %s\n", s.Name, why, n)
				results = append(results, Result{Name: s.Name, Status: Skipped, Note: why, OneOff: s.OneOff})
				continue
			}
		}
		fmt.Fprintf(c.Out, "==> %s %s\n", s.Name, n)
		t0 := time.Now()
		note, err := s.Run(ctx, c)
		r := Result{Name: s.Name, Status: OK, Note: note, Duration: time.Since(t0), OneOff: s.OneOff}
		var nr notRunError
		switch {
		case errors.As(err, &nr):
			r.Status, r.Note, r.Duration = NotRun, nr.why, 0
		case err != nil:
			r.Status, r.Note, r.Err = Failed, "", err
		}
		results = append(results, r)
		fmt.Fprintf(c.Out, "    %s: %s (%s; %s elapsed)\n", s.Name, r, round(r.Duration), round(time.Since(start)))
		if r.Status == Failed {
			return results, err
		}
	}
	return results, nil
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
