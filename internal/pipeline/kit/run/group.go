package run

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// KillGrace is how long a cancelled command's process group has between SIGTERM and SIGKILL.
// It is short: mage gives an interrupted target 5 seconds before it exits without cleanup.
const KillGrace = 2 * time.Second

// Grouped is a command that runs in its own process group; Run and Wait end the group when the
// command's context is cancelled.
type Grouped struct{ *exec.Cmd }

// Group prepares cmd (made with exec.CommandContext) to run in a process group of its own
// that dies with it: on cancellation the group gets SIGTERM, and SIGKILL KillGrace later; if
// this process dies first, the kernel sends the command SIGKILL (Linux). Use it for every
// command the pipeline starts, including long-lived ones that are not run through Cmd.
func Group(cmd *exec.Cmd) Grouped {
	setGroup(cmd)
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = KillGrace
	return Grouped{cmd}
}

// Run starts the command and waits for it.
func (g Grouped) Run() error {
	if err := g.Start(); err != nil {
		return err
	}
	return g.Wait()
}

// Wait waits for the command; after a cancellation it also kills what is left of its group
// (a grandchild that ignored SIGTERM).
func (g Grouped) Wait() error {
	err := g.Cmd.Wait()
	if g.Process != nil && g.ProcessState != nil && !g.ProcessState.Success() {
		_ = signalGroup(g.Process.Pid, syscall.SIGKILL)
	}
	return err
}

// Interruptible makes SIGTERM and SIGHUP end the process the way Ctrl-C does, for a program whose
// main loop handles only SIGINT (mage's generated main): each is turned into a SIGINT to this
// process, so targets get a cancelled context and time to clean up instead of dying on the spot.
// It also asks the kernel for a SIGTERM when the parent dies (Linux), so killing `go run
// mage.go` or the mage runner stops the compiled magefile too, instead of leaving it running.
func Interruptible() {
	dieWithParent(syscall.SIGTERM)
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		// One SIGINT only: a SIGTERM to the whole process group also kills the mage runner,
		// whose death sends this process a second SIGTERM, and a second SIGINT would make mage
		// give up on the target's cleanup ("exit forced"). Ctrl-C twice still forces.
		<-ch
		_ = interruptSelf()
		for range ch {
		}
	}()
}

// DieWithParent asks the kernel to send this process SIGTERM when its parent exits (Linux; a
// no-op elsewhere). mage.go calls it, so a SIGTERM to `go run mage.go` reaches the runner.
func DieWithParent() { dieWithParent(syscall.SIGTERM) }

// ctxErr prefers the context's error: "signal: terminated" says less than "context canceled".
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
