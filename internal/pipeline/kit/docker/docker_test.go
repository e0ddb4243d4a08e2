package docker

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeDocker puts first on PATH a `docker` that records its arguments (a line each) and its
// environment, prints FAKE_OUT to stdout and FAKE_ERR to stderr and exits with FAKE_EXIT. It
// returns readers of the last call's arguments and environment.
func fakeDocker(t *testing.T, stdout, stderr string, exit int) (args func() []string, env func() string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "args")
	script := `#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done > "$FAKE_LOG"
env > "$FAKE_LOG.env"
printf '%s' "$FAKE_OUT"
printf '%s' "$FAKE_ERR" >&2
exit "$FAKE_EXIT"
`
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_LOG", log)
	t.Setenv("FAKE_OUT", stdout)
	t.Setenv("FAKE_ERR", stderr)
	t.Setenv("FAKE_EXIT", strconv.Itoa(exit))
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return func() []string { return strings.Split(strings.TrimSuffix(read(log), "\n"), "\n") },
		func() string { return read(log + ".env") }
}

// Each method asks docker with the flags the stages rely on (formats, --quiet, --force, whole
// history lines), and returns docker's trimmed output.
func TestCommandLines(t *testing.T) {
	ctx := context.Background()
	var c CLI
	discard := func(_ string, err error) error { return err }
	for _, tc := range []struct {
		name string
		call func() error
		want []string
	}{
		{"ServerVersion", func() error { return discard(c.ServerVersion(ctx)) }, []string{"version", "--format", "{{.Server.Version}}"}},
		{"BuildxVersion", func() error { return discard(c.BuildxVersion(ctx)) }, []string{"buildx", "version"}},
		{"ImageInspect", func() error { return discard(c.ImageInspect(ctx, "a:dev", "{{json .}}")) }, []string{"image", "inspect", "--format", "{{json .}}", "a:dev"}},
		{"History", func() error { return discard(c.History(ctx, "a:dev", "{{.Size}}\t{{.CreatedBy}}")) },
			[]string{"history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", "a:dev"}},
		{"Pull", func() error { return c.Pull(ctx, "r/a@sha256:1", "linux/arm64") }, []string{"pull", "--quiet", "--platform", "linux/arm64", "r/a@sha256:1"}},
		{"RemoveImage", func() error { return c.RemoveImage(ctx, "r/a@sha256:1") }, []string{"image", "rm", "r/a@sha256:1"}},
		{"Run", func() error { return c.Run(ctx, []string{"run", "--detach", "--name", "x", "a:dev"}) }, []string{"run", "--detach", "--name", "x", "a:dev"}},
		{"Port", func() error { return discard(c.Port(ctx, "x", "8080/tcp")) }, []string{"port", "x", "8080/tcp"}},
		{"Inspect", func() error { return discard(c.Inspect(ctx, "x", "{{.State.Status}}")) }, []string{"inspect", "--format", "{{.State.Status}}", "x"}},
		{"Stop", func() error { return c.Stop(ctx, "x", 20*time.Second) }, []string{"stop", "--time", "20", "x"}},
		{"Remove", func() error { return c.Remove(ctx, "x") }, []string{"rm", "--force", "x"}},
		{"Exec", func() error { return discard(c.Exec(ctx, "x", "/slipway", "version")) }, []string{"exec", "x", "/slipway", "version"}},
		{"Logs", func() error { return c.Logs(ctx, "x", 20, io.Discard, io.Discard) }, []string{"logs", "--tail", "20", "x"}},
		{"Exists", func() error { c.Exists(ctx, "x"); return nil }, []string{"container", "inspect", "x"}},
		{"HasImage", func() error { c.HasImage(ctx, "a:dev"); return nil }, []string{"image", "inspect", "a:dev"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, _ := fakeDocker(t, "ok\n", "", 0)
			if err := tc.call(); err != nil {
				t.Fatal(err)
			}
			if got := args(); !slices.Equal(got, tc.want) {
				t.Errorf("docker %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOutputIsTrimmedAndExitCodeParsed(t *testing.T) {
	ctx := context.Background()
	fakeDocker(t, "27.3.1\n", "", 0)
	if v, err := (CLI{}).ServerVersion(ctx); err != nil || v != "27.3.1" {
		t.Errorf("ServerVersion = %q, %v; want 27.3.1", v, err)
	}
	args, _ := fakeDocker(t, "143\n", "", 0)
	if code, err := (CLI{}).ExitCode(ctx, "x"); err != nil || code != 143 {
		t.Errorf("ExitCode = %d, %v; want 143", code, err)
	}
	if got, want := args(), []string{"inspect", "--format", "{{.State.ExitCode}}", "x"}; !slices.Equal(got, want) {
		t.Errorf("docker %q, want %q", got, want)
	}
	fakeDocker(t, "", "Error: No such object: x", 1)
	if code, err := (CLI{}).ExitCode(ctx, "x"); err == nil || code != -1 {
		t.Errorf("ExitCode of a missing container = %d, %v; want -1 and an error", code, err)
	}
}

// A failure names the docker command and carries what docker said; "not there" is no failure
// where the question is whether something is there.
func TestFailures(t *testing.T) {
	ctx := context.Background()
	fakeDocker(t, "", "Error response from daemon: No such container: x", 1)
	if err := (CLI{}).Remove(ctx, "x"); err != nil {
		t.Errorf("Remove of a missing container = %v, want nil", err)
	}
	if (CLI{}).Exists(ctx, "x") || (CLI{}).HasImage(ctx, "x") {
		t.Error("Exists or HasImage true where docker fails")
	}
	fakeDocker(t, "", "permission denied while trying to connect to the Docker daemon socket", 1)
	err := (CLI{}).Remove(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), "docker rm --force x") || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Remove without the daemon = %v, want the command and docker's reason", err)
	}
	if err := (CLI{}).Stop(ctx, "x", time.Second); err == nil || !strings.Contains(err.Error(), "docker stop --time 1 x") {
		t.Errorf("Stop = %v, want the command named", err)
	}
}

// Build hands the secrets to docker through its environment and streams BuildKit's output.
func TestBuildEnvironmentAndProgress(t *testing.T) {
	args, env := fakeDocker(t, "#1 [internal] load build definition\n", "#2 DONE\n", 0)
	var progress bytes.Buffer
	want := []string{"buildx", "build", "--secret", "id=goproxy,env=BUILD_SECRET_GOPROXY", "."}
	if err := (CLI{}).Build(context.Background(), []string{"BUILD_SECRET_GOPROXY=v"}, &progress, want); err != nil {
		t.Fatal(err)
	}
	if got := args(); !slices.Equal(got, want) {
		t.Errorf("docker %q, want %q", got, want)
	}
	if !strings.Contains(env(), "BUILD_SECRET_GOPROXY=v\n") {
		t.Error("the secret is not in docker's environment")
	}
	if p := progress.String(); !strings.Contains(p, "load build definition") || !strings.Contains(p, "#2 DONE") {
		t.Errorf("progress = %q, want stdout and stderr", p)
	}
}

// Logs keeps the container's two streams apart; FollowLogs is a command to start, not run.
func TestLogs(t *testing.T) {
	fakeDocker(t, "out line\n", "err line\n", 0)
	var stdout, stderr bytes.Buffer
	if err := (CLI{}).Logs(context.Background(), "x", 5, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "out line\n" || stderr.String() != "err line\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	cmd := (CLI{}).FollowLogs(context.Background(), "x")
	if got, want := cmd.Args, []string{"docker", "logs", "--follow", "x"}; !slices.Equal(got, want) || cmd.Process != nil {
		t.Errorf("FollowLogs = %q (started: %v), want %q, not started", got, cmd.Process != nil, want)
	}
}
