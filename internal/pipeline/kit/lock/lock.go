// Package lock lets one pipeline run at a time work in a checkout. Targets that write dist/ or
// .slipway/ (builds, releases, the tools, the scan) take an exclusive lock on .slipway/lock
// first, so two runs cannot delete each other's temporary directories or dist/. The lock is
// the kernel's (flock(2), LockFileEx on Windows): it goes with the process, even on a crash or
// kill -9, so there is no stale lock to clean up. The file also records who holds it.
package lock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// FileName is the lock file inside the state directory (.slipway/).
const FileName = "lock"

// NoWaitEnv set to 1 makes a run fail at once when another holds the lock, instead of waiting.
const NoWaitEnv = "NOWAIT"

// ErrHeld is wrapped by the error a run gets when it does not wait for the holder.
var ErrHeld = errors.New("another run holds the lock")

// Options tune Take; the zero value is what mage targets get.
type Options struct {
	NoWait bool          // fail at once instead of waiting
	Poll   time.Duration // how often a waiting run retries; 100ms when 0
	Every  time.Duration // how often a waiting run says it still waits; 15s when 0
}

// The lock is reentrant within a process: a mage target that runs another target (mg.Deps, a
// direct call) in the same process already holds it, and must not wait for itself.
var held struct {
	sync.Mutex
	f     *os.File
	depth int
}

// Take acquires the lock in stateDir for target, waiting for another process that holds it
// (printing on out who that is and, now and then, how long it has waited) unless o.NoWait.
// The returned func releases it; call it once.
func Take(ctx context.Context, stateDir, target string, out io.Writer, o Options) (func(), error) {
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Every <= 0 {
		o.Every = 15 * time.Second
	}
	held.Lock()
	defer held.Unlock()
	if held.depth == 0 {
		f, err := acquire(ctx, stateDir, target, out, o)
		if err != nil {
			return nil, err
		}
		held.f = f
	}
	held.depth++
	var once sync.Once
	return func() { once.Do(release) }, nil
}

func release() {
	held.Lock()
	defer held.Unlock()
	if held.depth--; held.depth > 0 {
		return
	}
	// Emptied first so a run that finds the lock taken never reads a finished holder.
	_ = held.f.Truncate(0)
	_ = unlockFile(held.f)
	_ = held.f.Close()
	held.f = nil
}

func acquire(ctx context.Context, stateDir, target string, out io.Writer, o Options) (*os.File, error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(stateDir, FileName)
	// Never removed: a removed lock file lets two runs lock two different files.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the run lock: %w", err)
	}
	start := time.Now()
	next := start.Add(o.Every)
	for waited := false; ; {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if ok {
			break
		}
		switch h := holder(path); {
		case o.NoWait:
			f.Close()
			return nil, fmt.Errorf("%w: %s is running in this checkout (%s); %s=1 was set, so this run stops "+
				"instead of waiting: wait for it to finish, or unset %s", ErrHeld, h, path, NoWaitEnv, NoWaitEnv)
		case !waited:
			fmt.Fprintf(out, "waiting for %s to finish with %s/ ... (%s=1 fails at once instead)\n", h, stateDir, NoWaitEnv)
			waited = true
		case time.Now().After(next):
			fmt.Fprintf(out, "still waiting for %s: %s so far\n", h, time.Since(start).Round(time.Second))
			next = next.Add(o.Every)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the run lock %s: %w", path, ctx.Err())
		case <-time.After(o.Poll):
		}
	}
	// Who holds it, for the next run to name: "<pid> <target> <start time>". Only a courtesy:
	// the lock holds without it, and a waiting run says "pid unknown".
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d %s %s\n", os.Getpid(), target, time.Now().Format(time.RFC3339))
	return f, nil
}

// holder describes the run that holds the lock, as recorded in its file. Between another run's
// lock and its record the file can be empty for a moment; it is read again briefly then.
func holder(path string) string {
	for range 10 {
		b, _ := os.ReadFile(path)
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			if _, err := strconv.Atoi(f[0]); err == nil {
				s := fmt.Sprintf("%s (pid %s", f[1], f[0])
				if len(f) >= 3 {
					s += ", started " + f[2]
				}
				return s + ")"
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "another run (pid unknown)"
}

// Hold is Take for a mage target in this checkout, waiting unless NOWAIT=1. It panics with the
// error, which mage reports as the target's failure (as mg.Deps does): `defer lock.Hold(ctx, "x")()`.
func Hold(ctx context.Context, target string) func() {
	root, err := project.Root()
	if err != nil {
		panic(err)
	}
	unlock, err := Take(ctx, project.StateDir(root), target, os.Stdout, Options{NoWait: settings.Current().NoWait})
	if err != nil {
		panic(err)
	}
	return unlock
}
