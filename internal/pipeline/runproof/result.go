// Package runproof proves that the release's Linux artifacts start where they are deployed, by
// running them: a binary that inspects fine may still fail with `exec format error`, or with
// `no such file or directory` from a loader its target does not have.
//
// Binaries runs `<binary> version` for every Linux platform in dist/, each with nothing but its
// own directory as its root (like a FROM scratch image: no loader, no libc), natively or, for
// another architecture, through the kernel's binfmt_misc and QEMU user emulation. Images runs every
// platform image of an image index the way docker:run does (read-only, no capabilities,
// non-root, loopback port), waits for /readyz, runs `healthcheck` inside it and stops it with
// SIGTERM, expecting exit code 0.
//
// Where this machine cannot run a platform (no emulator), the artifact is NOT RUN, with the
// fix; nothing installs an emulator here, since that changes the host. A publishing release
// refuses to publish with any artifact NOT RUN (AnyNotRun).
package runproof

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
)

// Result is what one artifact did.
type Result struct {
	Kind     string // "binary" or "image"
	Artifact string // the binary's path, or the platform image's reference
	Platform platform.Platform
	Handler  string        // the binfmt_misc handler that emulated it (e.g. qemu-aarch64); empty: native
	NotRun   string        // why it did not run, with the fix; empty when it ran
	Err      error         // why it failed; nil when it ran and passed, or did not run
	Output   string        // what `version` printed
	Time     time.Duration // binary: start to exit of `version`; image: `docker run` to ready
	Stop     time.Duration // image: SIGTERM to exit
}

// How is "native", "emulated (<handler>)" or "NOT RUN".
func (r Result) How() string {
	switch {
	case r.NotRun != "":
		return "NOT RUN"
	case r.Handler != "":
		return "emulated (" + r.Handler + ")"
	}
	return "native"
}

// platform is the platform for people; "-" when not known (an image Docker could not read).
func (r Result) platform() string {
	if r.Platform.OS == "" {
		return "-"
	}
	return r.Platform.String()
}

// AnyNotRun reports whether some artifact did not run: a publishing release refuses then.
func AnyNotRun(results []Result) bool {
	for _, r := range results {
		if r.NotRun != "" {
			return true
		}
	}
	return false
}

// Report prints one line per artifact, then every NOT RUN with its reason and fix. Failures
// are marked FAILED; their reasons are in the error Binaries and Images return.
func Report(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range results {
		verdict, timing := "ok", ""
		switch {
		case r.NotRun != "":
			verdict = "NOT RUN"
		case r.Err != nil:
			verdict = "FAILED"
		}
		switch {
		case r.NotRun != "" || (r.Err != nil && r.Time == 0):
		case r.Kind == "image":
			timing = "ready in " + round(r.Time)
			if r.Stop > 0 {
				timing += ", stopped in " + round(r.Stop)
			}
		default:
			timing = "ran in " + round(r.Time)
		}
		how := r.How()
		if r.NotRun != "" {
			how = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", r.Kind, r.platform(), how, verdict, timing, r.Artifact)
	}
	_ = tw.Flush()
	notRun := 0
	for _, r := range results {
		if r.NotRun != "" {
			notRun++
			fmt.Fprintf(w, "NOT RUN: %s %s %s: %s\n", r.Kind, r.platform(), r.Artifact, r.NotRun)
		}
	}
	if notRun > 0 {
		fmt.Fprintf(w, "NOT RUN: %d of %d artifacts did not run on this machine, so nothing proves they start; "+
			"a publishing release refuses to publish them\n", notRun, len(results))
	}
}

func round(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
