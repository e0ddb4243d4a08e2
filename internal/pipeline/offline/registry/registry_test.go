package registry

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
)

func TestStartServesV2AndStops(t *testing.T) {
	r, err := Start(context.Background(), toolstest.Path(t, "registry"), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + r.Addr + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("catalog: %d", resp.StatusCode)
	}
	// Every response, not only /v2/, says whose registry it is.
	if got := resp.Header.Get(OwnerHeader); got == "" || got != r.Owner {
		t.Errorf("%s on /v2/_catalog: %q, want the registry's token %q", OwnerHeader, got, r.Owner)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if up, _ := probe(r.Addr); up {
		t.Fatal("registry still answers after Stop")
	}
	if err := syscall.Kill(r.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("registry process %d still exists after Stop: %v", r.pid, err)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:5000", ":5000", "10.0.0.1:5000", "nonsense"} {
		if _, err := Start(context.Background(), "/bin/false", t.TempDir(), addr); err == nil {
			t.Errorf("%s accepted", addr)
		} else if !strings.Contains(err.Error(), addr) {
			t.Errorf("%s: error does not name the address: %v", addr, err)
		}
	}
}

// freeAddrT is a loopback address for the project's registry of one test.
func freeAddrT(t *testing.T) string {
	addr := freeAddr()
	t.Setenv(AddrEnv, addr)
	t.Setenv(OwnerEnv, "")
	return addr
}

// Ensure starts the project's registry once; later runs find it answering with the checkout's
// token and reuse it.
func TestEnsureStartsThenReuses(t *testing.T) {
	bin := toolstest.Path(t, "registry")
	dead, err := Start(context.Background(), "/bin/false", t.TempDir(), "127.0.0.1:0") // /bin/false never answers
	if err == nil {
		t.Fatalf("a registry that never answers was accepted: %+v", dead)
	}
	addr := freeAddrT(t)
	state := t.TempDir()
	first, err := Ensure(context.Background(), bin, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Stop() })
	if first.Addr != addr || first.cmd == nil {
		t.Fatalf("first Ensure: %+v, want a new registry on %s", first, addr)
	}
	again, err := Ensure(context.Background(), bin, state)
	if err != nil {
		t.Fatal(err)
	}
	if again.cmd != nil || again.pid != first.pid {
		t.Errorf("second Ensure started another registry (pid %d, first %d)", again.pid, first.pid)
	}
	// Stopping the reused handle stops the one process (the pid came from the pid file).
	if err := again.Stop(); err != nil {
		t.Fatal(err)
	}
	if up, _ := probe(addr); up {
		t.Error("registry still answers after Stop")
	}
}

// A registry another checkout started on the address (a token of its own), or anything else
// answering /v2/ there without a token, is refused with the way out, and left alone.
func TestEnsureRefusesForeign(t *testing.T) {
	bin := toolstest.Path(t, "registry")
	addr := freeAddrT(t)
	other, err := Start(context.Background(), bin, t.TempDir(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Stop() })
	mine := t.TempDir()
	_, err = Ensure(context.Background(), bin, mine)
	wantForeign(t, err, addr, "another checkout's", filepath.Join(mine, "registry"))
	// Once this checkout has a token of its own, the other's is still refused.
	if r, err := Start(context.Background(), bin, filepath.Join(mine, "registry"), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	} else if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = Ensure(context.Background(), bin, mine)
	wantForeign(t, err, addr, "another checkout's", "")
	if up, owner := probe(addr); !up || owner != other.Owner {
		t.Errorf("the other checkout's registry was disturbed: up %v, owner %q", up, owner)
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	t.Setenv(AddrEnv, plain.Listener.Addr().String())
	_, err = Ensure(context.Background(), bin, t.TempDir())
	wantForeign(t, err, plain.Listener.Addr().String(), "sends no "+OwnerHeader)
	// A checkout whose earlier Slipway left only a pid file learns which process that was.
	legacy := t.TempDir()
	if err := os.MkdirAll(filepath.Join(legacy, "registry"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacy, "registry", "pid"), []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Ensure(context.Background(), bin, legacy)
	wantForeign(t, err, plain.Listener.Addr().String(), "`kill 4242`")
}

func wantForeign(t *testing.T, err error, addr string, more ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("a registry on %s that is not ours was accepted", addr)
	}
	for _, want := range append([]string{"answers on " + addr, AddrEnv + "=127.0.0.1:", "registry:stop"}, more...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}

// SLIPWAY_REGISTRY_OWNER shares a registry on purpose (the end-to-end tests' clones use the
// test's): it is reused with that token, never stopped by the sharer, and never started.
func TestEnsureShared(t *testing.T) {
	bin := toolstest.Path(t, "registry")
	addr := freeAddrT(t)
	owner, err := Start(context.Background(), bin, t.TempDir(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner.Stop() })
	t.Setenv(OwnerEnv, owner.Owner)
	r, err := Ensure(context.Background(), bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r.Addr != addr || r.pid != 0 {
		t.Errorf("shared registry: %+v", r)
	}
	if err := r.Stop(); err == nil {
		t.Error("the sharer stopped a registry it did not start")
	}
	t.Setenv(OwnerEnv, "wrong")
	_, err = Ensure(context.Background(), bin, t.TempDir())
	wantForeign(t, err, addr)
	if err := owner.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(OwnerEnv, owner.Owner)
	if _, err := Ensure(context.Background(), bin, t.TempDir()); err == nil || !strings.Contains(err.Error(), "no registry answers on "+addr) {
		t.Errorf("shared registry gone: %v, want an error naming %s", err, addr)
	}
	if up, _ := probe(addr); up {
		t.Error("Ensure started a registry in place of a shared one")
	}
}

// registry:stop (and clean) stop this checkout's registry, leaving no process; a registry of
// another checkout's that took the port since is left running.
func TestStopProject(t *testing.T) {
	bin := toolstest.Path(t, "registry")
	addr := freeAddrT(t)
	state := t.TempDir()
	var out bytes.Buffer
	if err := StopProject(state, &out); err != nil || !strings.Contains(out.String(), "started none") {
		t.Errorf("nothing started: %v, %q", err, out.String())
	}
	r, err := Ensure(context.Background(), bin, state)
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := StopProject(state, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "stopped ("+addr) {
		t.Errorf("StopProject said %q", out.String())
	}
	if up, _ := probe(addr); up {
		t.Error("registry still answers after StopProject")
	}
	if err := syscall.Kill(r.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("registry process %d still exists after StopProject: %v", r.pid, err)
	}

	// Started again, then the process dies and another checkout's registry takes the port.
	r, err = Ensure(context.Background(), bin, state)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	other, err := Start(context.Background(), bin, t.TempDir(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Stop() })
	out.Reset()
	if err := StopProject(state, &out); err != nil {
		t.Fatal(err)
	}
	if up, owner := probe(addr); !up || owner != other.Owner || !strings.Contains(out.String(), "left running") {
		t.Errorf("another checkout's registry: up %v, owner %q; StopProject said %q", up, owner, out.String())
	}
}

// A repository removed from storage is gone from the registry; another repository that shares
// its blobs still pulls. A shared registry's repositories are refused; so are names that climb.
func TestRemoveRepository(t *testing.T) {
	ctx := context.Background()
	crane := toolstest.Path(t, "crane")
	r, err := Start(ctx, toolstest.Path(t, "registry"), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	layer := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(layer, make([]byte, 1024), 0o644); err != nil { // an all-zero tar: empty
		t.Fatal(err)
	}
	for _, repo := range []string{"staging/1/app", "app"} {
		if out, err := exec.Command(crane, "append", "-f", layer, "-t", r.Addr+"/"+repo+":v1").CombinedOutput(); err != nil {
			t.Fatalf("push %s: %v\n%s", repo, err, out)
		}
	}
	if err := r.RemoveRepository("staging/1/app"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(crane, "digest", r.Addr+"/staging/1/app:v1").CombinedOutput(); err == nil || !strings.Contains(string(out), "NAME_UNKNOWN") && !strings.Contains(string(out), "MANIFEST_UNKNOWN") {
		t.Errorf("the removed repository still answers: %v\n%s", err, out)
	}
	if out, err := exec.Command(crane, "pull", r.Addr+"/app:v1", filepath.Join(t.TempDir(), "app.tar")).CombinedOutput(); err != nil {
		t.Errorf("the other repository no longer pulls: %v\n%s", err, out)
	}
	for _, bad := range []string{"", "../x", "/abs", "a/../../b"} {
		if err := r.RemoveRepository(bad); err == nil {
			t.Errorf("RemoveRepository(%q) accepted", bad)
		}
	}
	shared := &Registry{Addr: r.Addr, Owner: r.Owner}
	if err := shared.RemoveRepository("app"); err == nil || !strings.Contains(err.Error(), "shared") {
		t.Errorf("a shared registry's repository: %v", err)
	}
}
