// Package docker is the pipeline's client of the Docker CLI: one method per question the stages
// ask the engine (its version, an image, a container), so that formats and flags are written
// once, and "not there" is told from "cannot ask" in one place.
package docker

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// CLI runs the docker on PATH: the engine's own CLI, with the user's config and plugins (buildx).
type CLI struct{}

// name is the command; failures name it, as run.Error does every command.
const name = "docker"

func (CLI) output(ctx context.Context, args ...string) (string, error) {
	return run.Output(ctx, name, args...)
}

// ServerVersion is the engine's version: it fails when the engine does not answer, which is
// what the client's own version (`docker --version`) cannot tell.
func (c CLI) ServerVersion(ctx context.Context) (string, error) {
	return c.output(ctx, "version", "--format", "{{.Server.Version}}")
}

// BuildxVersion is the buildx plugin's version; it fails when the plugin is missing.
func (c CLI) BuildxVersion(ctx context.Context) (string, error) {
	return c.output(ctx, "buildx", "version")
}

// Build runs a build: args is the command line after "docker" (image.BuildOptions.Command:
// buildx build ...), env what it adds to docker's environment (the secrets, never in args), and
// progress, when set, receives BuildKit's output as it comes.
func (CLI) Build(ctx context.Context, env []string, progress io.Writer, args []string) error {
	return run.Cmd{Env: env, Stdout: progress, Stderr: progress}.Run(ctx, name, args...)
}

// ImageInspect is the local image ref rendered with a Go template (format), e.g. "{{json .}}".
func (c CLI) ImageInspect(ctx context.Context, ref, format string) (string, error) {
	return c.output(ctx, "image", "inspect", "--format", format, ref)
}

// HasImage reports whether the engine holds ref locally.
func (c CLI) HasImage(ctx context.Context, ref string) bool {
	_, err := c.output(ctx, "image", "inspect", ref)
	return err == nil
}

// History is the local image ref's layers, top first, a line each rendered with format; sizes
// in bytes and commands whole (not truncated), so that they can be parsed.
func (c CLI) History(ctx context.Context, ref, format string) (string, error) {
	return c.output(ctx, "history", "--no-trunc", "--human=false", "--format", format, ref)
}

// Pull pulls ref for platform (os/arch[/variant]) quietly: an index's other platforms stay out.
func (c CLI) Pull(ctx context.Context, ref, platform string) error {
	_, err := c.output(ctx, "pull", "--quiet", "--platform", platform, ref)
	return err
}

// RemoveImage removes the local image ref.
func (c CLI) RemoveImage(ctx context.Context, ref string) error {
	_, err := c.output(ctx, "image", "rm", ref)
	return err
}

// Run starts a container: args is the command line after "docker" (image.RunOptions.Args:
// run --detach ...), kept whole because the bench times exactly that command.
func (c CLI) Run(ctx context.Context, args []string) error {
	_, err := c.output(ctx, args...)
	return err
}

// Port is the host address (127.0.0.1:49153) that container's port (8080/tcp) is published on,
// a line per binding; it fails once the container has exited.
func (c CLI) Port(ctx context.Context, container, port string) (string, error) {
	return c.output(ctx, "port", container, port)
}

// Inspect is the container rendered with a Go template (format), e.g. "{{.State.Status}}".
func (c CLI) Inspect(ctx context.Context, container, format string) (string, error) {
	return c.output(ctx, "inspect", "--format", format, container)
}

// ExitCode is the container's exit code (0 while it runs).
func (c CLI) ExitCode(ctx context.Context, container string) (int, error) {
	code, err := c.Inspect(ctx, container, "{{.State.ExitCode}}")
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(code)
}

// Exists reports whether a container of that name exists, running or not.
func (c CLI) Exists(ctx context.Context, container string) bool {
	_, err := c.output(ctx, "container", "inspect", container)
	return err == nil
}

// Logs writes the container's last tail log lines, its stdout to stdout and its stderr to stderr.
func (CLI) Logs(ctx context.Context, container string, tail int, stdout, stderr io.Writer) error {
	return run.Cmd{Stdout: stdout, Stderr: stderr}.Run(ctx, name, "logs", "--tail", strconv.Itoa(tail), container)
}

// FollowLogs is `docker logs --follow` of the container, not started: it streams for as long
// as the container runs, which run.Cmd (it keeps every line in memory) is not made for.
func (CLI) FollowLogs(ctx context.Context, container string) *exec.Cmd {
	return exec.CommandContext(ctx, name, "logs", "--follow", container)
}

// Stop stops the container gracefully: SIGTERM, then SIGKILL after grace (whole seconds, as
// docker counts them).
func (c CLI) Stop(ctx context.Context, container string, grace time.Duration) error {
	_, err := c.output(ctx, "stop", "--time", strconv.Itoa(int(grace.Seconds())), container)
	return err
}

// Remove removes the container, running or not; a container that is not there is no error.
func (c CLI) Remove(ctx context.Context, container string) error {
	_, err := c.output(ctx, "rm", "--force", container)
	var re *run.Error
	if errors.As(err, &re) && strings.Contains(re.Output, "No such container") {
		return nil
	}
	return err
}

// Exec runs args in the running container and returns their output.
func (c CLI) Exec(ctx context.Context, container string, args ...string) (string, error) {
	return c.output(ctx, append([]string{"exec", container}, args...)...)
}
