package lock

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run/runtest"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a second pipeline run: with LOCK_TEST_HOLDER set it takes the lock
// in that state directory for that target, says "locked", and holds it until its stdin closes.
func TestMain(m *testing.M) {
	if dir := os.Getenv("LOCK_TEST_HOLDER"); dir != "" {
		unlock, err := Take(context.Background(), dir, os.Getenv("LOCK_TEST_TARGET"), os.Stdout,
			Options{NoWait: os.Getenv(NoWaitEnv) == "1", Poll: 10 * time.Millisecond})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		unlock()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// run is another process contending for the lock; its output lines arrive on lines.
type run struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	out   *runtest.Buffer
}

func start(t *testing.T, dir, target string, env ...string) *run {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"LOCK_TEST_HOLDER=" + dir, "LOCK_TEST_TARGET=" + target}, env...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &run{cmd: cmd, stdin: stdin, lines: make(chan string, 100), out: &runtest.Buffer{}}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(r.out, sc.Text())
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return r
}

// expect waits for a line starting with prefix and fails the test on any other line first.
func (r *run) expect(t *testing.T, prefix string) string {
	t.Helper()
	select {
	case l, ok := <-r.lines:
		if !ok || !strings.HasPrefix(l, prefix) {
			t.Fatalf("want a line %q..., got %q (open %v); output:\n%s", prefix, l, ok, r.out.String())
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("no line %q... after 20s; output:\n%s", prefix, r.out.String())
	}
	return ""
}

// A second run waits, naming the first run's target and pid once, and proceeds when it ends.
func TestSecondRunWaitsThenProceeds(t *testing.T) {
	dir := t.TempDir()
	first := start(t, dir, "release:full")
	first.expect(t, "locked")
	second := start(t, dir, "build:all")
	waiting := second.expect(t, "waiting for ")
	want := fmt.Sprintf("waiting for release:full (pid %d, started ", first.cmd.Process.Pid)
	if !strings.HasPrefix(waiting, want) || !strings.Contains(waiting, "to finish with "+dir+"/") {
		t.Errorf("waiting message %q, want it to start %q and name %s/", waiting, want, dir)
	}
	select {
	case l := <-second.lines:
		t.Fatalf("the second run went on while the first holds the lock: %q", l)
	case <-time.After(300 * time.Millisecond):
	}
	first.stdin.Close()
	second.expect(t, "locked")
	if n := strings.Count("\n"+second.out.String(), "\nwaiting for"); n != 1 {
		t.Errorf("the waiting message was printed %d times, want once:\n%s", n, second.out.String())
	}
	second.stdin.Close()
	if err := second.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// With NOWAIT=1 the second run fails at once, naming the holder.
func TestNoWaitFailsNamingTheHolder(t *testing.T) {
	dir := t.TempDir()
	first := start(t, dir, "scan")
	first.expect(t, "locked")
	t0 := time.Now()
	second := start(t, dir, "clean", NoWaitEnv+"=1")
	msg := second.expect(t, "error: ")
	for _, want := range []string{fmt.Sprintf("scan (pid %d", first.cmd.Process.Pid), "NOWAIT=1", "wait for it to finish"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	var ee *exec.ExitError
	if err := second.cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("second run: %v, want exit status 3", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("NOWAIT took %v", d)
	}
	_, err := Take(context.Background(), dir, "test", io.Discard, Options{NoWait: true})
	if !errors.Is(err, ErrHeld) {
		t.Errorf("Take with NoWait: %v, want ErrHeld", err)
	}
}

// A holder killed outright (no deferred unlock runs) leaves no stale lock: the kernel drops it.
func TestCrashReleases(t *testing.T) {
	dir := t.TempDir()
	first := start(t, dir, "bench")
	first.expect(t, "locked")
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	unlock, err := Take(context.Background(), dir, "test", io.Discard, Options{NoWait: true})
	if err != nil {
		t.Fatalf("lock of a killed run still held: %v", err)
	}
	unlock()
}

// A target that runs another target in the same process (mg.Deps) takes the lock again without
// waiting for itself; the lock is released when the outermost holder releases it.
func TestReentrantWithinAProcess(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	outer, err := Take(ctx, dir, "scan", io.Discard, Options{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { // as mage runs a dependency: another goroutine
		inner, err := Take(ctx, dir, "docker:build", io.Discard, Options{NoWait: true})
		if err == nil {
			inner()
			inner() // a second call of one release func is a no-op
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("nested Take: %v", err)
	}
	other := start(t, dir, "clean", NoWaitEnv+"=1")
	if msg := other.expect(t, "error: "); !strings.Contains(msg, fmt.Sprintf("scan (pid %d", os.Getpid())) {
		t.Errorf("after the inner release another process got %q, want it refused naming scan", msg)
	}
	outer()
	again := start(t, dir, "clean", NoWaitEnv+"=1")
	again.expect(t, "locked")
}

// A waiting run gives up when its context ends (Ctrl-C), and reports how long it has waited.
func TestWaitUpdatesAndCancel(t *testing.T) {
	dir := t.TempDir()
	first := start(t, dir, "setup")
	first.expect(t, "locked")
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	_, err := Take(ctx, dir, "test", &out, Options{Poll: 10 * time.Millisecond, Every: 100 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Take: %v, want the context's error", err)
	}
	if n := strings.Count("\n"+out.String(), "\nwaiting for setup (pid "+strconv.Itoa(first.cmd.Process.Pid)); n != 1 {
		t.Errorf("waiting message %d times, want once:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "still waiting for setup") {
		t.Errorf("no elapsed-time update:\n%s", out.String())
	}
}
