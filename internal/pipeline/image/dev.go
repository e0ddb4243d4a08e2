package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/docker"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
)

// DevOptions are docker:run's settings.
type DevOptions struct {
	Port   int  // on 127.0.0.1
	Detach bool // leave it running; docker:stop stops it
	Out    io.Writer
}

// DefaultDevPort is docker:run's host port unless PORT says otherwise.
const DefaultDevPort = 8080

// DevOptionsFrom takes PORT and DETACH from s.
func DevOptionsFrom(s settings.Settings, out io.Writer) DevOptions {
	return DevOptions{Port: s.Port, Detach: s.Detach, Out: out}
}

// Locally there is no load balancer to drain from, so the dev container skips the drain delay:
// Ctrl-C then stops it gracefully well within the few seconds mage allows for cleanup.
var devEnv = []string{project.EnvPrefix + "DRAIN_DELAY=0s"}

// devStopGrace bounds a foreground stop (mage gives targets 5 s after Ctrl-C); a detached
// container is stopped by docker:stop with StopGrace.
const devStopGrace = 4 * time.Second

// StopGrace covers the service's default drain delay and shutdown timeout (5 s + 10 s).
const StopGrace = 20 * time.Second

// RunDev runs DevTag hardened as DevContainer, waits until it is ready and prints its URL. In
// the foreground it streams the logs, readable, until ctx ends (Ctrl-C), then stops the
// container gracefully and removes it. A container that does not become ready is removed and
// its last log lines returned in the error.
func RunDev(ctx context.Context, o DevOptions) error {
	c, err := Start(ctx, RunOptions{Image: DevTag, Name: DevContainer, Port: o.Port, Env: devEnv})
	if err != nil {
		return err
	}
	cleanup := context.WithoutCancel(ctx)
	logCtx, stopLogs := context.WithCancel(ctx)
	defer stopLogs()
	logs := run.Group((docker.CLI{}).FollowLogs(logCtx, c.Name))
	logs.Stdout, logs.Stderr = NewLogWriter(o.Out), NewLogWriter(o.Out)
	if err := logs.Start(); err != nil {
		_ = (docker.CLI{}).Remove(cleanup, c.Name)
		return err
	}
	exited := make(chan struct{})
	go func() { _ = logs.Wait(); close(exited) }()

	if err := c.WaitReady(ctx, 30*time.Second); err != nil {
		_ = (docker.CLI{}).Remove(cleanup, c.Name)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	fmt.Fprintf(o.Out, "\n%s is ready: %s  (healthz: %s/healthz)\n", c.Name, c.URL, c.URL)
	if o.Detach {
		fmt.Fprintf(o.Out, "detached; logs: docker logs -f %s; stop it with `mage docker:stop`\n", c.Name)
		return nil
	}
	fmt.Fprintln(o.Out, "streaming its logs; Ctrl-C stops and removes it")
	select {
	case <-ctx.Done():
	case <-exited:
		// The log stream ends when the container does, or when a terminal's Ctrl-C reaches
		// `docker logs` a moment before mage cancels ctx.
		if running, state := c.running(cleanup); !running {
			tail := c.LogTail(cleanup, 20)
			_ = (docker.CLI{}).Remove(cleanup, c.Name)
			return fmt.Errorf("container %s exited on its own (%s); its last log lines:\n%s", c.Name, state, tail)
		}
		<-ctx.Done()
	}
	fmt.Fprintf(o.Out, "\nstopping %s ...\n", c.Name)
	code, err := Stop(cleanup, c.Name, devStopGrace)
	if rmErr := (docker.CLI{}).Remove(cleanup, c.Name); err == nil {
		err = rmErr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%s stopped (exit code %d) and removed\n", c.Name, code)
	return nil
}

// StopDev stops and removes a detached DevContainer, gracefully.
func StopDev(ctx context.Context, out io.Writer) error {
	if !(docker.CLI{}).Exists(ctx, DevContainer) {
		fmt.Fprintf(out, "no %s container: nothing to stop\n", DevContainer)
		return nil
	}
	code, err := Stop(ctx, DevContainer, StopGrace)
	if err != nil {
		return err
	}
	if err := (docker.CLI{}).Remove(ctx, DevContainer); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s stopped (exit code %d) and removed\n", DevContainer, code)
	return nil
}

// SetupBuildx installs the pinned buildx as the Docker CLI plugin (part of `mage setup`).
func SetupBuildx(ctx context.Context, root string, out io.Writer) error {
	t, err := tools.Lookup("buildx")
	if err != nil {
		return err
	}
	v, err := t.Version(root)
	if err != nil {
		return err
	}
	bin, err := t.Path(ctx, root)
	if err != nil {
		return err
	}
	path, changed, err := InstallBuildx(bin)
	if err != nil {
		return fmt.Errorf("installing the buildx plugin: %w", err)
	}
	state := "found"
	if changed {
		state = "installed"
	}
	fmt.Fprintf(out, "%-14s %-10s %-9s %s\n", "docker-buildx", v, state, path)
	return CheckBuildx(ctx)
}

// EnsureBuildx makes `docker buildx` work before a build: a Docker CLI without the buildx plugin
// (a fresh DOCKER_CONFIG, a distribution's docker package) gets the pinned one installed into
// $DOCKER_CONFIG/cli-plugins, the only place outside the checkout a target writes to.
func EnsureBuildx(ctx context.Context, root string, out io.Writer) error {
	if CheckBuildx(ctx) == nil {
		return nil
	}
	fmt.Fprintln(out, "docker buildx not found: installing the pinned buildx as a Docker CLI plugin (one-off)")
	return SetupBuildx(ctx, root, out)
}
