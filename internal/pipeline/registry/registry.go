// Package registry runs the project's own container registry (distribution's `registry`) on
// loopback. Offline mode takes upstream images from it (stand-ins), and a local release pushes
// its images to it. Storage lives under .slipway/registry, so images survive restarts.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/tools"
)

// DefaultAddr is where the project's registry listens; SLIPWAY_REGISTRY_ADDR moves it.
const DefaultAddr = "127.0.0.1:5798"

// Registry is a running registry process.
type Registry struct {
	Addr string // host:port, always on loopback
	pid  int
	cmd  *exec.Cmd // nil when the registry was started by an earlier run
}

// Start runs bin (the pinned registry) on addr with storage in dir and waits until it answers.
// addr "127.0.0.1:0" picks a free port (tests). The process is stopped by Stop.
func Start(ctx context.Context, bin, dir, addr string) (*Registry, error) {
	if err := loopbackOnly(addr); err != nil {
		return nil, err
	}
	if strings.HasSuffix(addr, ":0") {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", cfg) //nolint:noctx // the registry outlives this call, by design
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives a Ctrl-C of the mage run that started it
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting registry: %w", err)
	}
	r := &Registry{Addr: addr, pid: cmd.Process.Pid, cmd: cmd}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // reap it whenever it exits
	if err := waitReady(ctx, addr, 10*time.Second, exited); err != nil {
		_ = r.Stop()
		log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
		return nil, fmt.Errorf("registry on %s did not become ready: %w\n%s", addr, err, log)
	}
	return r, nil
}

// Ensure returns the project's registry, starting it if no earlier run left one answering.
// Its address and pid are kept in .slipway/registry so later runs (and `mage clean`) find it.
func Ensure(ctx context.Context, bin, stateDir string) (*Registry, error) {
	addr := Addr()
	dir := filepath.Join(stateDir, "registry")
	pidFile := filepath.Join(dir, "pid")
	if answers(addr) {
		pid, _ := strconv.Atoi(strings.TrimSpace(readFile(pidFile)))
		return &Registry{Addr: addr, pid: pid}, nil
	}
	r, err := Start(ctx, bin, dir, addr)
	if err != nil {
		return nil, err
	}
	return r, os.WriteFile(pidFile, []byte(strconv.Itoa(r.pid)), 0o644)
}

// Project is the project's registry: the pinned `registry` serving .slipway/registry on
// SLIPWAY_REGISTRY_ADDR (default DefaultAddr), started unless an earlier run left it running.
func Project(ctx context.Context, root string) (*Registry, error) {
	bin, err := tools.Path(ctx, root, "registry")
	if err != nil {
		return nil, err
	}
	return Ensure(ctx, bin, project.StateDir(root))
}

// Stop ends the registry process.
func (r *Registry) Stop() error {
	if r.pid == 0 {
		return errors.New("registry: no process to stop")
	}
	p, err := os.FindProcess(r.pid)
	if err != nil {
		return err
	}
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for answers(r.Addr) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// Answers reports whether a registry answers the v2 API at addr.
func answers(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitReady polls /v2/ until it answers, the process exits or limit passes.
func waitReady(ctx context.Context, addr string, limit time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(limit)
	for !answers(addr) {
		if time.Now().After(deadline) {
			return errors.New("no answer on /v2/")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("the registry process exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// loopbackOnly refuses any address a machine outside this one could reach.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("registry address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("registry address %q is not on loopback: use 127.0.0.1:<port>", addr)
	}
	return nil
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
