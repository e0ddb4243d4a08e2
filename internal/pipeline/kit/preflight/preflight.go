// Package preflight runs the checks that take seconds before a target's first long step (tool
// builds, goreleaser), so a missing password or an unreachable registry fails at once, naming
// the fix, instead of ten minutes in and from inside another tool.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/docker"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// Check is one preflight check: a name for the report and a function that says what is wrong
// and how to fix it.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// NotRun marks a check that cannot run here: it is reported, loudly, and does not fail.
type NotRun struct{ Why string }

func (n NotRun) Error() string { return "NOT RUN: " + n.Why }

// Run runs every check, prints one line per check and fails with all the problems at once.
func Run(ctx context.Context, out io.Writer, checks ...Check) error {
	var problems []error
	for _, c := range checks {
		err := c.Run(ctx)
		var nr NotRun
		if errors.As(err, &nr) {
			fmt.Fprintf(out, "  preflight %-22s %v\n", c.Name, nr)
			continue
		}
		if err != nil {
			fmt.Fprintf(out, "  preflight %-22s FAILED\n", c.Name)
			problems = append(problems, fmt.Errorf("%s: %w", c.Name, err))
			continue
		}
		fmt.Fprintf(out, "  preflight %-22s ok\n", c.Name)
	}
	if len(problems) > 0 {
		return fmt.Errorf("preflight failed, nothing was built:\n  %w", joinLines(problems))
	}
	return nil
}

func joinLines(errs []error) error {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return errors.New(strings.Join(s, "\n  "))
}

// FreeDisk fails when the file system of any of dirs has less than want bytes free.
func FreeDisk(want uint64, dirs ...string) Check {
	return Check{Name: "free disk", Run: func(context.Context) error {
		for _, d := range dirs {
			free, err := freeBytes(existingParent(d))
			if err != nil {
				return err
			}
			if free < want {
				return fmt.Errorf("%s has %s free, want at least %s: free some space (`go clean -cache` frees Go's build cache)",
					d, gib(free), gib(want))
			}
		}
		return nil
	}}
}

func existingParent(d string) string {
	for {
		if _, err := os.Stat(d); err == nil || d == "/" || d == "." {
			return d
		}
		d = filepath.Dir(d)
	}
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// PortFree fails when nothing can listen on addr: another program holds it, or it is not an
// address of this machine.
func PortFree(name, addr, fix string) Check {
	return Check{Name: name, Run: func(context.Context) error {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln.Close()
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: %w; %s", addr, err, fix)
		}
		return fmt.Errorf("%s is taken by another program; %s", addr, fix)
	}}
}

// Reachable fails when nothing answers HTTP at url within a few seconds (any status counts:
// a registry answers /v2/ with 401 to anonymous clients).
func Reachable(name, url, fix string) Check {
	return Check{Name: name, Run: func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s does not answer (%v): %s", url, shortErr(err), fix)
		}
		resp.Body.Close()
		return nil
	}}
}

// shortErr drops Go's "Get \"url\": " prefix, which the message names already.
func shortErr(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap().Error()
	}
	return err.Error()
}

// Env fails when the variable name is not set at all (set, from the settings: empty counts as
// set), with why and fix.
func Env(name string, set bool, why string) Check {
	return Check{Name: name, Run: func(context.Context) error {
		if !set {
			return fmt.Errorf("%s is not set: %s; export %s=<value>", name, why, name)
		}
		return nil
	}}
}

// Docker fails when the Docker engine does not answer, naming the usual causes.
func Docker() Check {
	return Check{Name: "docker engine", Run: func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := (docker.CLI{}).ServerVersion(ctx); err != nil {
			return fmt.Errorf("the Docker engine does not answer (%s): start it (Docker Desktop, or `systemctl start docker`), "+
				"or, if it runs, join the docker group (`sudo usermod -aG docker $USER`, then log in again)", run.Brief(err))
		}
		return nil
	}}
}
