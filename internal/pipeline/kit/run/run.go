// Package run executes the external commands of the pipeline (go, git, docker, cosign, ...).
//
// One helper for every stage so that failures read the same everywhere: the error names
// the command and carries the tail of its output, instead of a bare "exit status 1".
//
// Every command runs in a process group of its own, and a cancelled context ends the whole
// group (SIGTERM, then SIGKILL after KillGrace): goreleaser's own children (go build, cosign,
// trivy) go with it, so an interrupted target leaves nothing running.
package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"sync"
)

// Cmd describes one command. Zero values mean: current directory, inherited environment,
// output captured (and shown only when it fails).
type Cmd struct {
	Dir    string
	Env    []string // added to (and overriding) the inherited environment
	Stdin  io.Reader
	Stdout io.Writer // when set, output streams here as well as being captured
	Stderr io.Writer
}

// Output runs name with args and returns its trimmed stdout.
func (c Cmd) Output(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.Dir
	if len(c.Env) > 0 {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	cmd.Stdin = c.Stdin
	out, errOut := c.Stdout, c.Stderr
	if sameWriter(out, errOut) {
		// One writer for both streams: os/exec copies each stream in its own goroutine, and
		// through tee they are two writers to it, so it must take one write at a time.
		out = &lockedWriter{w: out}
		errOut = out
	}
	cmd.Stdout = tee(&stdout, out)
	cmd.Stderr = tee(&stderr, errOut)
	if err := Group(cmd).Run(); err != nil {
		return strings.TrimSpace(stdout.String()), &Error{
			Command: Quote(name, args...),
			Output:  tail(stderr.String()+stdout.String(), 40),
			Err:     ctxErr(ctx, err),
		}
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Run runs the command for its effect.
func (c Cmd) Run(ctx context.Context, name string, args ...string) error {
	_, err := c.Output(ctx, name, args...)
	return err
}

// Output runs a command with the default settings.
func Output(ctx context.Context, name string, args ...string) (string, error) {
	return Cmd{}.Output(ctx, name, args...)
}

// Run runs a command with the default settings.
func Run(ctx context.Context, name string, args ...string) error {
	return Cmd{}.Run(ctx, name, args...)
}

// Error is a failed command with the end of what it printed.
type Error struct {
	Command string
	Output  string
	Err     error
}

func (e *Error) Error() string {
	if e.Output == "" {
		return Redact(fmt.Sprintf("%s: %v", e.Command, e.Err))
	}
	return Redact(fmt.Sprintf("%s: %v\n%s", e.Command, e.Err, e.Output))
}

// userinfo is the user:password@ part of a URL (a GOPROXY or registry with credentials).
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

// Redact hides the credentials of every URL in s: messages name commands and their output, and
// neither may print a password a GOPROXY or mirror URL carries.
func Redact(s string) string {
	return userinfo.ReplaceAllString(s, "${1}REDACTED@")
}

func (e *Error) Unwrap() error { return e.Err }

// Brief shortens a failed command inside err to the last line it printed (the tool's own reason),
// so that a failure fits in one line of a list or a sentence; other errors are left whole.
func Brief(err error) string {
	var re *Error
	if !errors.As(err, &re) {
		return err.Error()
	}
	out := strings.TrimSpace(re.Output)
	if out == "" {
		return err.Error()
	}
	return strings.Replace(err.Error(), re.Error(), out[strings.LastIndex(out, "\n")+1:], 1)
}

// Quote renders a command line for messages, quoting arguments that need it.
func Quote(name string, args ...string) string {
	parts := []string{name}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// sameWriter reports whether a and b are one writer (a writer of a type that cannot be compared
// is not taken for the other).
func sameWriter(a, b io.Writer) bool {
	return a != nil && b != nil && reflect.TypeOf(a).Comparable() && a == b
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func tee(buf *bytes.Buffer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
}

// tail keeps the last n lines: the end of a compiler's or tool's output names the problem.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
