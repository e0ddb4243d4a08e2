// Package buildkit runs the BuildKit daemon that builds and pushes the release's multi-platform
// images.
//
// The Docker engine's built-in BuildKit (buildx's `docker` driver) builds one platform at a time
// and cannot push an image index, so a release starts its own pinned buildkitd as a process, with
// its cache in .slipway/buildkit/, and registers it with buildx as a `remote` builder. buildkitd
// needs root and runc (the Debian package). It runs on the host network, so it reaches the
// loopback registry; buildkitd.toml marks that registry as plain HTTP.
package buildkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/debian"
	"github.com/slipway-dev/slipway/internal/pipeline/run"
)

// maxSocketPath is the longest unix socket path Linux accepts (sun_path is 108 bytes, with a NUL).
const maxSocketPath = 107

// Config says where the daemon keeps its state and which registries it reaches over plain HTTP.
type Config struct {
	Binary   string   // the pinned buildkitd
	StateDir string   // cache, socket, config and log: .slipway/buildkit
	HTTP     []string // host:port registries without TLS (the loopback registry)
}

// Daemon is a running buildkitd and the buildx builder that points at it.
type Daemon struct {
	Builder string // pass as BUILDX_BUILDER to docker buildx (and goreleaser)
	Socket  string
	Log     string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error         // how it exited, once exited is closed
}

// Requirements explains what is missing for buildkitd to run here, or returns nil.
func Requirements() error {
	if os.Geteuid() != 0 {
		return errors.New("buildkitd needs root to build multi-platform images: run the release as root, " +
			"or set BUILDX_BUILDER to an existing docker-container builder on the host network")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return errors.New("runc not found: buildkitd runs build steps with it; install it with `apt-get install runc`")
	}
	return nil
}

// EnsureRunc installs Debian's runc when no runc is on PATH (a fresh CI machine). One that
// is there already is kept: Docker's own packages (containerd.io, moby-runc) ship theirs, and
// Debian's would conflict with them.
func EnsureRunc(ctx context.Context, out io.Writer) error {
	if _, err := exec.LookPath("runc"); err == nil {
		return nil
	}
	return debian.Install(ctx, out, "buildkitd (multi-platform image builds)", "runc")
}

// ConfigTOML is buildkitd.toml: plain HTTP for the given registries, nothing else.
func ConfigTOML(httpRegistries []string) string {
	var b strings.Builder
	b.WriteString("# Written by the release (internal/pipeline/buildkit); rewritten on every start.\n")
	for _, r := range httpRegistries {
		fmt.Fprintf(&b, "\n[registry.%q]\n  http = true\n  insecure = true\n", r)
	}
	return b.String()
}

// BuilderName is the buildx builder of one checkout: two checkouts (a fresh clone in a test,
// say) each run their own daemon and must not share a builder entry.
func BuilderName(stateDir string) string {
	sum := sha256.Sum256([]byte(stateDir))
	return "slipway-" + hex.EncodeToString(sum[:])[:8]
}

// Start runs buildkitd, waits until it answers and registers the buildx builder.
// The caller must Stop it.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	d := &Daemon{
		Builder: BuilderName(cfg.StateDir),
		Socket:  filepath.Join(cfg.StateDir, "buildkitd.sock"),
		Log:     filepath.Join(cfg.StateDir, "buildkitd.log"),
		exited:  make(chan struct{}),
	}
	if len(d.Socket) > maxSocketPath {
		return nil, fmt.Errorf("buildkitd socket path %s is %d bytes, over the %d Linux allows: "+
			"move the checkout to a shorter path", d.Socket, len(d.Socket), maxSocketPath)
	}
	if err := Requirements(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, err
	}
	if err := d.clearStale(ctx); err != nil {
		return nil, err
	}
	conf := filepath.Join(cfg.StateDir, "buildkitd.toml")
	if err := os.WriteFile(conf, []byte(ConfigTOML(cfg.HTTP)), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(d.Log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// Not tied to ctx: Stop shuts it down in order (SIGTERM, then the builder entry).
	d.cmd = exec.CommandContext(context.WithoutCancel(ctx), cfg.Binary,
		"--config", conf,
		"--root", filepath.Join(cfg.StateDir, "root"),
		"--addr", "unix://"+d.Socket,
	)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C at the terminal reaches mage, which stops it cleanly,
	// instead of killing the daemon mid-push.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting buildkitd: %w", err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()

	if err := d.waitReady(ctx, 60*time.Second); err != nil {
		_ = d.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := (run.Cmd{}).Run(ctx, "docker", "buildx", "create", "--name", d.Builder,
		"--driver", "remote", "unix://"+d.Socket); err != nil {
		_ = d.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("registering buildkitd with buildx: %w", err)
	}
	return d, nil
}

// clearStale removes what a killed earlier run left: its builder entry and socket file.
func (d *Daemon) clearStale(ctx context.Context) error {
	if conn, err := net.Dial("unix", d.Socket); err == nil {
		conn.Close()
		return fmt.Errorf("a buildkitd already listens on %s (another release of this checkout is running?); "+
			"wait for it, or stop that process", d.Socket)
	}
	_ = (run.Cmd{}).Run(ctx, "docker", "buildx", "rm", d.Builder) // absent unless a run was killed
	if err := os.Remove(d.Socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (d *Daemon) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if conn, err := net.Dial("unix", d.Socket); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("buildkitd exited at start (%w); its log %s ends:\n%s", d.waitErr, d.Log, logTail(d.Log))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("buildkitd did not listen on %s within %s; its log %s ends:\n%s", d.Socket, limit, d.Log, logTail(d.Log))
		}
	}
}

// Stop removes the builder entry and ends the daemon (SIGTERM, then SIGKILL after 20 s).
func (d *Daemon) Stop(ctx context.Context) error {
	rmErr := (run.Cmd{}).Run(ctx, "docker", "buildx", "rm", d.Builder)
	if d.cmd == nil || d.cmd.Process == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	os.Remove(d.Socket)
	if rmErr != nil && !strings.Contains(rmErr.Error(), "not found") {
		return rmErr
	}
	return nil
}

func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
