//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run/runtest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestInterruptLeavesNothingBehind sends SIGINT and SIGTERM, to `go run mage.go`, to the
// compiled magefile and to the whole process group, at several points of a release and a build.
// Within 10 seconds no process the target started may be left (every descendant carries a
// marker in its environment), dist/ is as it was (absent) or moved aside, and the next release
// passes.
func TestInterruptLeavesNothingBehind(t *testing.T) {
	clone := freshClone(t)
	env := offlineReleaseEnv(t, clone)
	for _, tc := range []struct {
		target, at string
		sig        syscall.Signal
		to         string // "go run", "magefile" or "group"
	}{
		{"release", "==> goreleaser", syscall.SIGTERM, "go run"},
		{"release", "==> goreleaser", syscall.SIGTERM, "magefile"},
		{"release", "==> goreleaser", syscall.SIGINT, "group"},
		{"release", "==> image SBOMs", syscall.SIGTERM, "group"},
		{"release", "==> scan", syscall.SIGTERM, "magefile"},
		{"build:all", "", syscall.SIGTERM, "go run"},
	} {
		name := fmt.Sprintf("%s %s to %s at %q", tc.target, tc.sig, tc.to, tc.at)
		t.Run(name, func(t *testing.T) {
			interrupt(t, clone, env, tc.target, tc.at, tc.sig, tc.to)
			// The clone had no dist/ before a release: it must have none after (moved aside).
			if _, err := os.Stat(filepath.Join(clone, "dist")); tc.target == "release" && err == nil {
				t.Errorf("an interrupted release left dist/ in place")
			}
		})
	}
	t.Run("the next release passes", func(t *testing.T) {
		mage(t, clone, env, "release")
	})
}

// interrupt starts `go run mage.go target` in clone, waits for a line containing at (or a
// moment, if at is empty), signals it and checks that every process it started is gone in 10 s.
func interrupt(t *testing.T, clone string, env []string, target, at string, sig syscall.Signal, to string) {
	t.Helper()
	mark := "SLIPWAY_E2E_MARK=" + randomHex(t)
	cache := t.TempDir()
	cmd := exec.Command("go", "run", "mage.go", target)
	cmd.Dir = clone
	cmd.Env = append(append(os.Environ(), env...), mark, "MAGEFILE_CACHE="+cache)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal job of its own
	var out runtest.Buffer
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	t.Cleanup(func() { killMarked(mark) })
	reached := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			fmt.Fprintln(&out, sc.Text())
			if at != "" && strings.Contains(sc.Text(), at) {
				once.Do(func() { close(reached) })
			}
		}
	}()
	if at == "" {
		// Long enough for the magefile to be compiled and its first go build to start.
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(strings.Join(markedCmdlines(mark), "\n"), "go build") {
			time.Sleep(100 * time.Millisecond)
		}
	} else {
		select {
		case <-reached:
		case <-time.After(5 * time.Minute):
			t.Fatalf("never reached %q:\n%s", at, out.String())
		}
	}
	time.Sleep(500 * time.Millisecond) // into the step, not at its first line
	pid := cmd.Process.Pid
	switch to {
	case "group":
		pid = -pid
	case "magefile":
		pid = magefilePID(t, mark, cache)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Errorf("go run mage.go %s still running 30 s after %s", target, sig)
	}
	for {
		left := markedCmdlines(mark)
		if len(left) == 0 {
			break
		}
		if time.Since(sent) > 10*time.Second {
			t.Fatalf("%d processes still running 10 s after %s to %s:\n%s\noutput:\n%s",
				len(left), sig, to, strings.Join(left, "\n"), out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("everything gone %s after %s to %s", time.Since(sent).Round(10*time.Millisecond), sig, to)
}

// markedCmdlines lists the processes whose environment carries mark, by pid and command line.
func markedCmdlines(mark string) []string {
	var found []string
	for _, pid := range markedPIDs(mark) {
		cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		found = append(found, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte{' '})))
	}
	return found
}

func markedPIDs(mark string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == os.Getpid() {
			continue
		}
		environ, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(environ, []byte("\x00"+mark+"\x00")) && !bytes.HasPrefix(environ, []byte(mark+"\x00")) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join(d, "stat")); err == nil && bytes.Contains(stat, []byte(") Z ")) {
			continue // a zombie is gone, only not yet reaped
		}
		pids = append(pids, pid)
	}
	return pids
}

// magefilePID is the compiled magefile: the marked process whose executable is in the cache.
func magefilePID(t *testing.T, mark, cache string) int {
	t.Helper()
	for _, pid := range markedPIDs(mark) {
		exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
		if err == nil && strings.HasPrefix(exe, cache) {
			return pid
		}
	}
	t.Fatalf("no compiled magefile among %v", markedCmdlines(mark))
	return 0
}

func killMarked(mark string) {
	for _, pid := range markedPIDs(mark) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
