package tools

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
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
