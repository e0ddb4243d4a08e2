package bench

import (
	"context"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The serve case's servers run as processes: the bare one is built, answers, and stops cleanly
// on SIGTERM, leaving nothing on its port.
func TestServerRunsAsAProcessAndStopsOnSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM")
	}
	ctx := context.Background()
	b := testBencher(t)
	url, stop, err := b.startServer(ctx, "bare server", bareMain, servePath)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + servePath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `{"message":"Hello, Ada!"}`; strings.TrimSpace(string(body)) != want {
		t.Errorf("got %q, want %q", body, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + servePath); err == nil {
		t.Error("the server still answers after stop")
	}
}

func shProcess(t *testing.T, script string) *process {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("sh and SIGTERM")
	}
	p, err := startProcess(context.Background(), "test server", filepath.Join(t.TempDir(), "log"), "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStopFailsWhenSIGTERMIsIgnored(t *testing.T) {
	p := shProcess(t, "trap '' TERM; echo ignoring >&2; while :; do sleep 0.1; done")
	time.Sleep(200 * time.Millisecond) // the trap is set
	err := p.stop("", 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not exit within 300ms of SIGTERM") || !strings.Contains(err.Error(), "ignoring") {
		t.Errorf("got %v", err)
	}
	select {
	case <-p.exited:
	default:
		t.Error("the process was not killed")
	}
}

func TestStopFailsOnAnUncleanExit(t *testing.T) {
	p := shProcess(t, "trap 'exit 4' TERM; while :; do sleep 0.1; done")
	time.Sleep(200 * time.Millisecond)
	if err := p.stop("", 5*time.Second); err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Errorf("got %v", err)
	}
}

func TestWaitReadyFailsAtOnceWhenTheProcessExits(t *testing.T) {
	p := shProcess(t, "echo no such setting >&2; exit 2")
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	err = p.waitReady(context.Background(), "http://127.0.0.1:"+strconv.Itoa(port)+"/readyz", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(err.Error(), "no such setting") {
		t.Errorf("got %v", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Errorf("took %s: waitReady did not notice the exit", d)
	}
}

// Exiting is not enough: whatever still listens on the server's address fails the stop.
func TestStopFailsWhenTheAddressStillAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := shProcess(t, "trap 'exit 0' TERM; while :; do sleep 0.1; done")
	time.Sleep(200 * time.Millisecond)
	if err := p.stop(ln.Addr().String(), 5*time.Second); err == nil || !strings.Contains(err.Error(), "still accepts connections") {
		t.Errorf("got %v", err)
	}
}

// The service runs as the serve case runs it, and a setting it refuses is reported with its own
// words, not as a readiness timeout.
func TestServiceRunsAsAProcess(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM")
	}
	ctx := context.Background()
	b := testBencher(t)
	_, stop, err := b.startServer(ctx, "service", "", "/readyz", "--drain-delay", "0s")
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
	_, _, err = b.startServer(ctx, "service", "", "/readyz", "--drain-delay", "10h")
	if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(err.Error(), "drain-delay") {
		t.Errorf("got %v", err)
	}
}

// testBencher is a bencher of this checkout with no output.
func testBencher(t *testing.T) *bencher {
	t.Helper()
	root := projecttest.Root(t)
	return &bencher{o: Options{Root: root}, work: t.TempDir(), c: stage.New(root, io.Discard, settings.Settings{})}
}
