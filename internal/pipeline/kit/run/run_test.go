package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

func TestOutputTrims(t *testing.T) {
	out, err := Output(context.Background(), "sh", "-c", "echo '  hi  '")
	if err != nil || out != "hi" {
		t.Fatalf("Output = %q, %v; want \"hi\", nil", out, err)
	}
}

func TestFailureNamesCommandAndOutput(t *testing.T) {
	err := Cmd{Env: []string{"MSG=boom"}}.Run(context.Background(), "sh", "-c", "echo $MSG >&2; exit 3")
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("want *Error, got %T %v", err, err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("exit code lost: %v", err)
	}
	if !strings.Contains(err.Error(), `sh -c "echo $MSG >&2; exit 3"`) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("message lacks command or output:\n%s", err)
	}
}

func TestBriefKeepsTheToolsLastLine(t *testing.T) {
	err := Run(context.Background(), "sh", "-c", "echo detail >&2; echo 'the reason' >&2; exit 1")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{err, "the reason"},
		{fmt.Errorf("signing x: %w", err), "signing x: the reason"},
		{Run(context.Background(), "sh", "-c", "exit 1"), `sh -c "exit 1": exit status 1`},
		{errors.New("not a command\nsecond line"), "not a command\nsecond line"},
	} {
		if got := Brief(tc.err); got != tc.want {
			t.Errorf("Brief(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestTailKeepsEnd(t *testing.T) {
	got := tail("1\n2\n3\n4\n", 2)
	if got != "... (2 lines before)\n3\n4" {
		t.Fatalf("tail = %q", got)
	}
}

func TestLinesSplitsWhateverTheWrites(t *testing.T) {
	var got []string
	w := Lines(func(l string) { got = append(got, l) })
	for _, chunk := range []string{"one\ntw", "o\n", "", "three\nfour"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, "|") != "one|two|three" {
		t.Fatalf("lines %q, want one, two, three (four has no newline yet)", got)
	}
}

// A failed command's message never shows the password of a URL in its arguments or output.
func TestFailureRedactsURLCredentials(t *testing.T) {
	err := Cmd{}.Run(context.Background(), "sh", "-c", "echo fetching https://bob:s3cret@proxy.example.com/mod >&2; exit 1", "https://alice:hunter2@goproxy.internal")
	if err == nil {
		t.Fatal("want a failure")
	}
	msg := err.Error()
	for _, secret := range []string{"s3cret", "hunter2", "bob:", "alice:"} {
		if strings.Contains(msg, secret) {
			t.Errorf("message shows %q:\n%s", secret, msg)
		}
	}
	if !strings.Contains(msg, "https://REDACTED@proxy.example.com/mod") || !strings.Contains(msg, "https://REDACTED@goproxy.internal") {
		t.Errorf("the URLs themselves should still be named:\n%s", msg)
	}
	if got := Redact("GOPROXY=https://proxy.golang.org,direct"); got != "GOPROXY=https://proxy.golang.org,direct" {
		t.Errorf("a URL without credentials changed: %s", got)
	}
}

// One writer for both streams takes their writes one at a time (go test -race shows a race
// otherwise), and keeps every line of both.
func TestOneWriterForBothStreams(t *testing.T) {
	var b bytes.Buffer
	script := "for i in 1 2 3 4 5 6 7 8 9 10; do echo out$i; echo err$i >&2; done"
	if err := (Cmd{Stdout: &b, Stderr: &b}).Run(context.Background(), "sh", "-c", script); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		for _, s := range []string{"out", "err"} {
			if line := fmt.Sprintf("%s%d\n", s, i); !strings.Contains(b.String(), line) {
				t.Errorf("%q is missing from %q", line, b.String())
			}
		}
	}
}
