package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/config"
)

func env(m map[string]string) []string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	return kv
}

// The exit status as the OS reports it, from the real process: a bad setting is status 2 and
// one line on stderr naming the setting and the accepted values. Ports, an exposed admin
// listener and durations past their bounds are bad settings too, refused before anything listens.
func TestBadConfigExits2WithOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want []string
	}{
		{[]string{"--log-format=xml"}, nil, []string{"--log-format", "json or text"}},
		{nil, []string{"SLIPWAY_ADDR=:99999"}, []string{"SLIPWAY_ADDR", `port "99999"`, "0 to 65535"}},
		{[]string{"--addr=:http"}, nil, []string{"--addr", `port "http"`, "0 to 65535"}},
		{nil, []string{"SLIPWAY_ADMIN_ADDR=127.0.0.1:70000"}, []string{"SLIPWAY_ADMIN_ADDR", "0 to 65535"}},
		{nil, []string{"SLIPWAY_ADMIN_ADDR=0.0.0.0:6060"}, []string{"SLIPWAY_ADMIN_ADDR", "not loopback", "pprof", "SLIPWAY_ADMIN_PUBLIC=1"}},
		{nil, []string{"SLIPWAY_SHUTDOWN_TIMEOUT=1h"}, []string{"SLIPWAY_SHUTDOWN_TIMEOUT", "1h0m0s", "5m0s"}},
		{nil, []string{"SLIPWAY_DRAIN_DELAY=2m"}, []string{"SLIPWAY_DRAIN_DELAY", "2m0s", "1m0s"}},
		{[]string{"--read-header-timeout=90s"}, nil, []string{"SLIPWAY_READ_HEADER_TIMEOUT", "1m30s", "1m0s"}},
	} {
		var stdout, stderr bytes.Buffer
		bin := build(t) // before the deadline: a cold, loaded build may take longer than it
		// A setting that slips through serves until killed: the deadline makes that a failure.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"serve"}, tc.args...)...)
		cmd.Env = append([]string{"SLIPWAY_ADDR=127.0.0.1:0"}, tc.env...) // the later SLIPWAY_ADDR wins
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("%v %v: exit %d, want 2 (stderr %q)", tc.args, tc.env, code, stderr.String())
			continue
		}
		msg := stderr.String()
		if strings.Count(msg, "\n") != 1 || stdout.Len() != 0 {
			t.Errorf("%v %v: want one line on stderr, got %q (stdout %q)", tc.args, tc.env, msg, stdout.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v %v: %q lacks %q", tc.args, tc.env, msg, w)
			}
		}
	}
}

// With --admin-public the operator has said so: a non-loopback admin address is served.
func TestAdminPublicAllowsAnExposedAdminAddr(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer // read only once run has returned
	admin := freeAddr(t)
	_, port, _ := net.SplitHostPort(admin)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--admin-public"}, env(map[string]string{"SLIPWAY_ADDR": freeAddr(t), "SLIPWAY_ADMIN_ADDR": ":" + port,
			"SLIPWAY_DRAIN_DELAY": "0s"}), &logs, &logs)
	}()
	waitStatus(t, "http://"+admin+"/debug/pprof/", http.StatusOK)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, logs.String())
	}
}

// A variable with the service's prefix that nothing reads is a typo that would do nothing
// silently: the service starts, with one warning naming it and the likely intended name. The
// build's own variables (the same shell often runs both) are not warned about.
func TestUnknownVariablesAreWarnedAbout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer // read only once run has returned
	addr := freeAddr(t)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, nil, []string{"SLIPWAY_ADDR=" + addr, "SLIPWAY_DRAIN_DELAY=0s", "SLIPWAY_LOG_LEVL=debug", "SLIPWAY_PORT=9090",
			"SLIPWAY_OFFLINE=1", "SLIPWAY_REGISTRY=ghcr.io/acme", "HOME=/root"}, &logs, &logs)
	}()
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, logs.String())
	}
	var warned []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["level"] == "WARN" {
			warned = append(warned, m)
		}
	}
	if len(warned) != 2 || warned[0]["variable"] != "SLIPWAY_LOG_LEVL" || warned[0]["did_you_mean"] != "SLIPWAY_LOG_LEVEL" ||
		warned[1]["variable"] != "SLIPWAY_PORT" || warned[1]["did_you_mean"] != nil {
		t.Fatalf("warnings = %v, want SLIPWAY_LOG_LEVL (did you mean SLIPWAY_LOG_LEVEL) and SLIPWAY_PORT; logs:\n%s", warned, logs.String())
	}
}

func TestHelpExits0(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, env(nil), &out, &out); code != 0 || !strings.Contains(out.String(), "SLIPWAY_ADDR") {
		t.Fatalf("exit %d, output %q", code, out.String())
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, env(nil), &out, &out); code != 0 || !strings.HasPrefix(out.String(), "slipway 0.0.0-dev (commit unknown") {
		t.Fatalf("exit %d, output %q", code, out.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The real process, as a container runs it: healthcheck's exit status against a dead and a live
// server, SIGTERM giving exit 0, and a second signal during the drain ending it at once.
func TestProcessHealthcheckAndSignals(t *testing.T) {
	bin := build(t)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	// In a container SLIPWAY_ADDR is typically ":8080"; healthcheck then probes loopback.
	healthcheck := func() int {
		cmd := exec.Command(bin, "healthcheck")
		cmd.Env = []string{"SLIPWAY_ADDR=:" + port}
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode()
	}
	if code := healthcheck(); code != 1 {
		t.Fatalf("healthcheck with no server: exit %d, want 1", code)
	}

	serve := func(drain string) (*exec.Cmd, *bytes.Buffer) {
		var logs bytes.Buffer
		cmd := exec.Command(bin, "serve")
		cmd.Env = []string{"SLIPWAY_ADDR=" + addr, "SLIPWAY_DRAIN_DELAY=" + drain}
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		waitStatus(t, "http://"+addr+"/readyz", http.StatusOK)
		return cmd, &logs
	}

	cmd, logs := serve("0s")
	if code := healthcheck(); code != 0 {
		t.Fatalf("healthcheck against a live server: exit %d, want 0", code)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v, want exit 0; output:\n%s", err, logs)
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the logs:\n%s", logs)
	}
	if code := healthcheck(); code != 1 {
		t.Fatalf("healthcheck after shutdown: exit %d, want 1", code)
	}

	cmd, _ = serve(config.MaxDrainDelay.String()) // the longest there is
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "http://"+addr+"/readyz", http.StatusServiceUnavailable) // draining
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != os.Interrupt {
		t.Fatalf("a second signal during the drain: %v, want killed by it", err)
	}

	// Two signals back to back (an impatient Ctrl-C Ctrl-C): the second must not be lost in the
	// moment the first is being handled, or the process drains for the whole minute.
	for range 20 {
		cmd, _ = serve(config.MaxDrainDelay.String())
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			// Killed by one of the two: pending signals need not arrive in the order sent.
			if err == nil || !cmd.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
				t.Fatalf("two signals back to back: %v, want killed by a signal", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("two signals back to back: the second was lost and the process is still draining")
		}
	}
}

var binDir string // removed after the tests

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slipway-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the service once per test run, for the tests that need a real process.
var build = func() func(t *testing.T) string {
	var once sync.Once
	var err error
	return func(t *testing.T) string {
		t.Helper()
		bin := filepath.Join(binDir, "slipway")
		once.Do(func() {
			if out, e := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); e != nil {
				err = fmt.Errorf("go build: %w\n%s", e, out)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return bin
	}
}()

func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d (last error: %v)", url, want, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Docker reserves HEALTHCHECK status 2, so a healthcheck that cannot even read its settings says
// "unhealthy" (1) and names the setting.
func TestHealthcheckBadConfigExits1(t *testing.T) {
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"healthcheck"}, env(map[string]string{"SLIPWAY_ADDR": "8080"}), &errOut, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "SLIPWAY_ADDR") {
		t.Fatalf("exit %d %q, want 1 naming SLIPWAY_ADDR", code, errOut.String())
	}
}

func TestListenFailureExits1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var logs bytes.Buffer
	if code := run(context.Background(), []string{"--addr", ln.Addr().String()}, env(nil), &logs, &logs); code != 1 || !strings.Contains(logs.String(), "cannot listen") {
		t.Fatalf("exit %d, logs %q", code, logs.String())
	}
}
