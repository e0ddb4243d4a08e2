// Package registry runs the project's own container registry (distribution's `registry`) on
// loopback. Offline mode takes upstream images from it (stand-ins), and a local release pushes
// its images to it. Storage lives under .slipway/registry, so images survive restarts.
//
// A registry proves whose it is: Start gives it a random owner token, which it sends back in
// the OwnerHeader of every response, and the checkout keeps the token in .slipway/registry/owner.
// A later run reuses a registry only when the token matches, so two checkouts (or anything else
// on the port) are never mixed up silently. A test or a second checkout that shares one on
// purpose names its token in SLIPWAY_REGISTRY_OWNER.
package registry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/preflight"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
)

// DefaultAddr is where the project's registry listens; SLIPWAY_REGISTRY_ADDR moves it.
const DefaultAddr = "127.0.0.1:5798"

// OwnerHeader carries a registry's owner token in every response.
const OwnerHeader = "X-Slipway-Owner"

// Environment: the registry's address, and the token of a registry shared on purpose.
const (
	AddrEnv  = project.EnvPrefix + "REGISTRY_ADDR"
	OwnerEnv = project.EnvPrefix + "REGISTRY_OWNER"
)

// Registry is a running registry process.
type Registry struct {
	Addr   string // host:port, always on loopback
	Owner  string // the token it answers with
	data   string // its storage directory; "" for a shared registry, whose storage is not ours
	pid    int
	cmd    *exec.Cmd     // nil when the registry was started by an earlier run
	exited chan struct{} // closed when cmd has exited and been reaped
}

// Start runs bin (the pinned registry) on addr with storage in dir and waits until it answers
// with a new owner token, which it also writes to dir/owner. addr "127.0.0.1:0" picks a free
// port (tests). The process is stopped by Stop.
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
	owner := rand.Text()
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"+
		"http:\n  addr: %s\n  headers:\n    %s: [%s]\n", filepath.Join(dir, "data"), addr, OwnerHeader, owner)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(owner+"\n"), 0o600); err != nil {
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
	r := &Registry{Addr: addr, Owner: owner, data: filepath.Join(dir, "data"), pid: cmd.Process.Pid, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.exited) }() // reap it whenever it exits
	if err := waitReady(ctx, r, 10*time.Second); err != nil {
		_ = r.Stop()
		log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
		return nil, fmt.Errorf("registry on %s did not become ready: %w\n%s", addr, err, log)
	}
	return r, nil
}

// Addr is where the project's registry listens: SLIPWAY_REGISTRY_ADDR, or DefaultAddr.
func Addr() string {
	return settings.Current().RegistryAddr
}

// Ensure returns the project's registry: the one answering at Addr() with this checkout's owner
// token (or SLIPWAY_REGISTRY_OWNER's), or a new one when nothing answers there. A registry
// that answers with another token, or none, is refused. Address, pid and token are kept in
// stateDir/registry, for later runs and Stop.
func Ensure(ctx context.Context, bin, stateDir string) (*Registry, error) {
	addr := Addr()
	dir := filepath.Join(stateDir, "registry")
	want, shared := wantedOwner(dir)
	up, owner := probe(addr)
	switch {
	case up && want != "" && owner == want:
		r := &Registry{Addr: addr, Owner: owner}
		if !shared { // a shared registry is its starter's to stop and to prune
			r.pid, _ = strconv.Atoi(readFile(filepath.Join(dir, "pid")))
			r.data = filepath.Join(dir, "data")
		}
		return r, nil
	case up:
		return nil, foreign(addr, owner, dir)
	case shared:
		return nil, fmt.Errorf("%s is set, but no registry answers on %s (%s): start the shared registry, or unset %s",
			OwnerEnv, addr, AddrEnv, OwnerEnv)
	}
	// One registry per checkout: one of ours left on an address no longer asked for goes first.
	if old := recorded(dir); old != nil && old.Addr != addr {
		if up, owner := probe(old.Addr); up && owner == old.Owner {
			if err := old.Stop(); err != nil {
				return nil, err
			}
		}
	}
	r, err := Start(ctx, bin, dir, addr)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(r.pid)), 0o644); err != nil {
		return nil, err
	}
	return r, os.WriteFile(filepath.Join(dir, "addr"), []byte(addr), 0o644)
}

// wantedOwner is the token a registry must answer with to be this checkout's: the shared one
// (SLIPWAY_REGISTRY_OWNER), or the one recorded when this checkout started its own.
func wantedOwner(dir string) (token string, shared bool) {
	if t := settings.Current().RegistryOwner; t != "" {
		return t, true
	}
	return readFile(filepath.Join(dir, "owner")), false
}

// PortCheck is the preflight check that the registry's address is free, or held by this
// checkout's registry: a foreign registry or another program there fails it, naming the fix.
func PortCheck(stateDir string) preflight.Check {
	return preflight.Check{Name: "registry port", Run: func(ctx context.Context) error {
		addr, dir := Addr(), filepath.Join(stateDir, "registry")
		if up, owner := probe(addr); up {
			if want, _ := wantedOwner(dir); want != "" && owner == want {
				return nil
			}
			return foreign(addr, owner, dir)
		}
		return preflight.PortFree("registry port", addr, "set "+AddrEnv+"=127.0.0.1:<a free port> for this checkout's registry").Run(ctx)
	}}
}

func foreign(addr, owner, dir string) error {
	whose, stop := "another checkout's or another process's", "`go run mage.go registry:stop` in the checkout that started it"
	if owner == "" {
		whose = "not started by this checkout (it sends no " + OwnerHeader + ": another program, or a Slipway that predates the check)"
		// Only a pid file: the state an earlier Slipway left, whose registry answered without a token.
		if pid := readFile(filepath.Join(dir, "pid")); pid != "" && readFile(filepath.Join(dir, "owner")) == "" {
			stop += "; if it is the one this checkout started before, `kill " + pid + "`"
		}
	}
	return fmt.Errorf("a registry answers on %s, but it is %s: this checkout (%s) does not own it and will not push to "+
		"or pull from it. Either give this checkout its own port, e.g. %s=%s, or stop that registry (%s)",
		addr, whose, dir, AddrEnv, freeAddr(), stop)
}

// freeAddr suggests a loopback address nothing listens on now.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:<port>"
	}
	defer ln.Close()
	return ln.Addr().String()
}

// recorded is the registry the checkout in dir last started, or nil.
func recorded(dir string) *Registry {
	addr, owner := readFile(filepath.Join(dir, "addr")), readFile(filepath.Join(dir, "owner"))
	pid, _ := strconv.Atoi(readFile(filepath.Join(dir, "pid")))
	if addr == "" || owner == "" || pid == 0 {
		return nil
	}
	return &Registry{Addr: addr, Owner: owner, pid: pid}
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

// StopProject stops the registry this checkout (state in stateDir) started, if it still runs
// and still answers with this checkout's token; it never stops another's.
func StopProject(stateDir string, out io.Writer) error {
	dir := filepath.Join(stateDir, "registry")
	r := recorded(dir)
	if r == nil {
		fmt.Fprintln(out, "registry: this checkout started none")
		return nil
	}
	up, owner := probe(r.Addr)
	switch {
	case !up:
		fmt.Fprintf(out, "registry: not running (last on %s)\n", r.Addr)
	case owner != r.Owner:
		fmt.Fprintf(out, "registry: ours is not running; the one on %s now belongs to another checkout or process "+
			"(its %s is not %s's) and is left running\n", r.Addr, OwnerHeader, filepath.Join(dir, "owner"))
	default:
		if err := r.Stop(); err != nil {
			return err
		}
		fmt.Fprintf(out, "registry: stopped (%s, pid %d)\n", r.Addr, r.pid)
	}
	return os.Remove(filepath.Join(dir, "pid"))
}

// RemoveRepository deletes a repository (say a publishing release's staging copy, once promoted
// or refused) from the registry's storage, so that they do not pile up run after run. Its blobs
// stay: distribution shares them between repositories, and only an offline garbage-collect may
// drop them. A shared registry's storage is not ours to change: that is an error.
func (r *Registry) RemoveRepository(name string) error {
	if r.data == "" {
		return fmt.Errorf("registry on %s is shared (%s): its repository %s is left for its owner", r.Addr, OwnerEnv, name)
	}
	clean := filepath.Clean(name)
	if name == "" || filepath.IsAbs(name) || clean != name || strings.HasPrefix(clean, "..") {
		return fmt.Errorf("%q is not a repository name", name)
	}
	// distribution's filesystem layout; a test removes a pushed repository through it.
	return os.RemoveAll(filepath.Join(r.data, "docker", "registry", "v2", "repositories", clean))
}

// Stop ends the registry process and waits until it is gone.
func (r *Registry) Stop() error {
	if r.pid == 0 {
		return fmt.Errorf("registry on %s: no process of ours to stop (shared, or started elsewhere)", r.Addr)
	}
	if err := syscall.Kill(r.pid, syscall.SIGTERM); errors.Is(err, syscall.ESRCH) {
		return nil
	} else if err != nil {
		return fmt.Errorf("stopping the registry (pid %d): %w", r.pid, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.alive() {
		if time.Now().After(deadline) {
			return fmt.Errorf("the registry (pid %d) did not exit within 10s of SIGTERM", r.pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// alive: a child of this process counts until it is reaped, any other until it is gone.
func (r *Registry) alive() bool {
	if r.exited != nil {
		select {
		case <-r.exited:
			return false
		default:
			return true
		}
	}
	return syscall.Kill(r.pid, 0) == nil
}

// probe reports whether a registry answers the v2 API at addr, and the owner token it sends.
func probe(addr string) (up bool, owner string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		return false, ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, ""
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, resp.Header.Get(OwnerHeader)
}

// waitReady polls /v2/ until r answers with its own token, its process exits or limit passes.
// A registry already on the port (whose answers carry another token) does not count.
func waitReady(ctx context.Context, r *Registry, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		up, owner := probe(r.Addr)
		if up && owner == r.Owner {
			return nil
		}
		if time.Now().After(deadline) {
			if up {
				return fmt.Errorf("another registry answers on %s", r.Addr)
			}
			return errors.New("no answer on /v2/")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.exited:
			return errors.New("the registry process exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
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

// readFile is a small state file's content, trimmed; empty when missing.
func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}
