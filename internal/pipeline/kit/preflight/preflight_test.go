package preflight

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFreeDiskFailsBelowTheMinimum(t *testing.T) {
	dir := t.TempDir()
	if err := FreeDisk(1, dir).Run(context.Background()); err != nil {
		t.Fatalf("1 byte free: %v", err)
	}
	err := FreeDisk(1<<62, dir+"/not/yet/made").Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "want at least") {
		t.Fatalf("4 EiB wanted: %v", err)
	}
}

func TestPortFree(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()
	err = PortFree("p", ln.Addr().String(), "use another").Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "taken by another program; use another") {
		t.Errorf("taken: %v", err)
	}
	if err := PortFree("p", "192.0.2.1:1", "use a loopback address").Run(ctx); err == nil || !strings.Contains(err.Error(), "cannot listen") {
		t.Errorf("not this machine's address: %v", err)
	}
	if err := PortFree("p", freeAddr(t), "x").Run(ctx); err != nil {
		t.Errorf("free port: %v", err)
	}
}

func TestReachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	defer srv.Close()
	ctx := context.Background()
	if err := Reachable("r", srv.URL+"/v2/", "fix").Run(ctx); err != nil {
		t.Errorf("a registry answering 401: %v", err)
	}
	err := Reachable("r", "http://"+freeAddr(t)+"/v2/", "set SLIPWAY_OFFLINE=1").Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "does not answer") || !strings.Contains(err.Error(), "set SLIPWAY_OFFLINE=1") {
		t.Errorf("nothing listening: %v", err)
	}
}

func TestEnv(t *testing.T) {
	if err := Env("PREFLIGHT_TEST_SET", true, "why").Run(context.Background()); err != nil {
		t.Errorf("set to empty: %v", err)
	}
	err := Env("PREFLIGHT_TEST_UNSET_VARIABLE", false, "it opens the key").Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "it opens the key; export PREFLIGHT_TEST_UNSET_VARIABLE=") {
		t.Errorf("unset: %v", err)
	}
}

// Run reports every check, fails with all problems at once, and prints NOT RUN without failing.
func TestRunReportsAllAndNotRunLoudly(t *testing.T) {
	var out bytes.Buffer
	ok := Check{Name: "fine", Run: func(context.Context) error { return nil }}
	bad1 := Check{Name: "one", Run: func(context.Context) error { return errors.New("first problem") }}
	bad2 := Check{Name: "two", Run: func(context.Context) error { return errors.New("second problem") }}
	skip := Check{Name: "cannot", Run: func(context.Context) error { return NotRun{Why: "no way here"} }}
	err := Run(context.Background(), &out, ok, bad1, skip, bad2)
	if err == nil || !strings.Contains(err.Error(), "one: first problem") || !strings.Contains(err.Error(), "two: second problem") ||
		!strings.Contains(err.Error(), "nothing was built") {
		t.Fatalf("Run = %v", err)
	}
	if !strings.Contains(out.String(), "cannot") || !strings.Contains(out.String(), "NOT RUN: no way here") {
		t.Errorf("NOT RUN not reported:\n%s", out.String())
	}
	out.Reset()
	if err := Run(context.Background(), &out, ok, skip); err != nil {
		t.Errorf("ok and NOT RUN must pass: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// With no engine to reach, the check names the fix; with the machine's engine it passes.
func TestDockerNamesTheFix(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	err := Docker().Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "docker group") {
		t.Fatalf("unreachable engine: %v", err)
	}
}
