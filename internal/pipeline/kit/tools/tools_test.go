package tools

import (
	"context"
	"fmt"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run/runtest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture writes a tiny pinned tool module, tools/hello, into a temporary project root. It has
// no dependencies, so building it needs no network.
func fixture(t *testing.T, main string) (root string, tool Tool) {
	t.Helper()
	root = t.TempDir()
	dir := filepath.Join(root, "tools", "hello")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.26\n",
		"go.sum":  "",
		"main.go": main,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, Tool{Name: "hello", Package: "example.com/hello"}
}

// Parallel test packages may ask for one tool at once: every caller gets a working binary and
// no temporary file is left behind.
func TestPathInstallsOnceUnderConcurrency(t *testing.T) {
	root, tool := fixture(t, "package main\n\nfunc main() { println(\"hello\") }\n")
	if _, ok, err := tool.Installed(root); err != nil || ok {
		t.Fatalf("installed before Path: ok=%v err=%v", ok, err)
	}
	var wg sync.WaitGroup
	paths, errs := make([]string, 3), make([]error, 3)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = tool.Path(context.Background(), root)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if out, err := exec.Command(paths[i]).CombinedOutput(); err != nil || !strings.Contains(string(out), "hello") {
			t.Fatalf("caller %d's binary %s: %v %q", i, paths[i], err, out)
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(paths[0]), "*.tmp"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// A build that fails names the tool and leaves nothing that looks installed.
func TestPathFailureInstallsNothing(t *testing.T) {
	root, tool := fixture(t, "package main\n\nfunc main() { undefined() }\n")
	_, err := tool.Path(context.Background(), root)
	if err == nil || !strings.Contains(err.Error(), "installing hello") {
		t.Fatalf("want an error naming the tool, got %v", err)
	}
	if _, ok, _ := tool.Installed(root); ok {
		t.Error("a failed build looks installed")
	}
	p, _, _ := tool.Installed(root)
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "*")); len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}

// Every pinned tool's version is read from its own go.mod, and a name with no pin is refused.
func TestEveryToolIsPinned(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range All {
		v, err := tool.Version(root)
		if err != nil || !strings.HasPrefix(v, "v") {
			t.Errorf("%s: version %q, %v", tool.Name, v, err)
		}
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "tools/nope/go.mod") {
		t.Errorf("an unknown tool must name the fix: %v", err)
	}
}

// While a tool builds, a line every ProgressEvery names it with the time and the counts so far;
// go's own "downloading" lines stay in the log.
func TestBuildProgressFoldsGoOutput(t *testing.T) {
	defer func(d time.Duration) { ProgressEvery = d }(ProgressEvery)
	ProgressEvery = 20 * time.Millisecond
	var out runtest.Buffer
	p := newBuildProgress(&out, "trivy v0.74.0 (3 of 4)", "/x/build.log")
	fmt.Fprint(p, "go: downloading github.com/a/b v1.0.0\ngo: downloading github.com/c/d v1.0.0\ngithub.com/a/b\ngithub.com/c/")
	fmt.Fprint(p, "d\n")
	time.Sleep(70 * time.Millisecond)
	p.done()
	got := out.String()
	for _, want := range []string{"building tool trivy v0.74.0 (3 of 4) on first use (log: /x/build.log)",
		"  ... trivy v0.74.0 (3 of 4): ", "2 modules downloaded, 2 packages compiled", "built trivy v0.74.0 (3 of 4): "} {
		if !strings.Contains(got, want) {
			t.Errorf("progress lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "go: downloading") {
		t.Errorf("go's download lines reached the terminal:\n%s", got)
	}
}

// Ensure builds only what is missing, numbering the builds, and is silent once all are there.
func TestEnsureNumbersWhatItBuilds(t *testing.T) {
	root, hello := fixture(t, "package main\n\nfunc main() {}\n")
	saved := All
	defer func() { All = saved }()
	All = []Tool{hello}
	var out runtest.Buffer
	built, err := Ensure(context.Background(), root, &out, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if len(built) != 1 || built[0].Name != "hello" || !strings.Contains(out.String(), "building tool hello") || !strings.Contains(out.String(), "(1 of 1)") {
		t.Fatalf("Ensure = %+v\n%s", built, out.String())
	}
	out = runtest.Buffer{}
	if built, err := Ensure(context.Background(), root, &out, "hello"); err != nil || len(built) != 0 || out.String() != "" {
		t.Fatalf("second Ensure = %+v, %v, printed %q", built, err, out.String())
	}
	if _, err := Ensure(context.Background(), root, &out, "nosuchtool"); err == nil {
		t.Error("Ensure accepted a tool that is not pinned")
	}
}
