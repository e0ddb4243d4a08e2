//go:build unix

package run

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A cancelled command takes its whole process group with it: a grandchild that ignores SIGTERM
// (as a build tool's worker might) is killed too, and Run returns promptly with ctx's error.
func TestCancelEndsTheProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, "sh", "-c", `sh -c 'trap "" TERM; echo $$ > `+pidFile+`; exec sleep 300' & wait`)
	}()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the grandchild never started")
		}
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for syscall.Kill(pid, 0) == nil {
		if time.Since(start) > 2*KillGrace+time.Second {
			t.Fatalf("grandchild %d still running %v after cancel", pid, time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGTERM becomes a SIGINT to the process itself: a program that only handles SIGINT (mage's
// generated main) then cancels its targets instead of dying with its children left behind.
func TestInterruptibleTurnsTermIntoInterrupt(t *testing.T) {
	if os.Getenv("RUN_TEST_CHILD") == "1" {
		Interruptible()
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt)
		fmt.Println("ready")
		select {
		case <-ch:
			fmt.Println("interrupted")
			os.Exit(0)
		case <-time.After(20 * time.Second):
			os.Exit(3)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptibleTurnsTermIntoInterrupt$")
	cmd.Env = append(os.Environ(), "RUN_TEST_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewScanner(out)
	if !r.Scan() || r.Text() != "ready" {
		t.Fatalf("child did not start: %q", r.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !r.Scan() || r.Text() != "interrupted" {
		t.Errorf("child after SIGTERM printed %q, want \"interrupted\"", r.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("child exit: %v", err)
	}
}
