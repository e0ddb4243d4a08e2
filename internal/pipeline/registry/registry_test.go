package registry

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/tools/toolstest"
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
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if answers(r.Addr) {
		t.Fatal("registry still answers after Stop")
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

// Ensure starts the project's registry once; later runs find it answering and reuse it.
func TestEnsureStartsThenReuses(t *testing.T) {
	bin := toolstest.Path(t, "registry")
	dead, err := Start(context.Background(), "/bin/false", t.TempDir(), "127.0.0.1:0") // /bin/false never answers
	if err == nil {
		t.Fatalf("a registry that never answers was accepted: %+v", dead)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("SLIPWAY_REGISTRY_ADDR", addr)
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
	if answers(addr) {
		t.Error("registry still answers after Stop")
	}
}
