package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// process is a server the bench started as a program of its own (the service, the bare limit),
// in a process group that a cancelled run or the bench's death ends (run.Group).
type process struct {
	name   string
	cmd    run.Grouped
	log    string        // its stderr
	exited chan struct{} // closed once it has exited; err is then its exit
	err    error
}

// startProcess starts bin with args, its stderr (where a bad setting or a panic is reported)
// going to logPath. Its stdout, the service's access log, goes to the null device: writing it
// somewhere costs what the machine's log collector costs, which is not the service's to measure.
func startProcess(ctx context.Context, name, logPath, bin string, args ...string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd := run.Group(exec.CommandContext(ctx, bin, args...))
	cmd.Stderr = logf // a nil Stdout is the null device
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// waitReady polls url until it answers 200; it fails at once if the process exits first.
func (p *process) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.exited:
			cancel()
		case <-pctx.Done():
		}
	}()
	err := pollReady(pctx, url, timeout)
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited before %s answered (%w); its stderr:\n%s", p.name, url, p.err, p.tail())
	default:
	}
	if err != nil {
		return fmt.Errorf("%s: %w; its stderr:\n%s", p.name, err, p.tail())
	}
	return nil
}

// stop sends SIGTERM and wants a clean exit (status 0) within grace, and then nothing left
// listening on addr (a child that kept the socket would still answer). A process that does not
// exit in time is killed, with its group, and that is an error.
func (p *process) stop(addr string, grace time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill() // Grouped.Wait then kills the rest of its group
		<-p.exited
		return fmt.Errorf("%s did not exit within %s of SIGTERM, so it was killed; its stderr:\n%s", p.name, grace, p.tail())
	}
	if p.err != nil {
		return fmt.Errorf("%s exited with %w after SIGTERM, want status 0; its stderr:\n%s", p.name, p.err, p.tail())
	}
	if addr == "" {
		return nil
	}
	// Not the run's context: a stop after Ctrl-C still checks.
	if c, err := (&net.Dialer{Timeout: time.Second}).DialContext(context.Background(), "tcp", addr); err == nil {
		c.Close()
		return fmt.Errorf("%s exited, but %s still accepts connections: something it started is still running", p.name, addr)
	}
	return nil
}

// tail is the end of the process's stderr, for messages.
func (p *process) tail() string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
