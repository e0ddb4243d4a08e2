package quality

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// lintFixture is a repository using the committed .golangci.yml, and the pinned golangci-lint.
func lintFixture(t *testing.T, files map[string]string) (root, golangciLint string) {
	t.Helper()
	golangciLint, repo := pinnedTool(t, "golangci-lint")
	files[".golangci.yml"] = readFile(t, filepath.Join(repo, ".golangci.yml"))
	return writeTree(t, t.TempDir(), files), golangciLint
}

// Each step catches its kind of problem, in the root module and in a nested one, and one run
// reports them all.
func TestLintFailsOnEachKindOfProblem(t *testing.T) {
	root, bin := lintFixture(t, map[string]string{
		"go.mod": "module example.com/fx\n\ngo 1.26\n",
		// gofmt: the spacing.
		"ugly.go": "package fx\n\n// Ugly is ugly.\nfunc  Ugly() {}\n",
		// golangci-lint (errcheck): the error of os.Chdir is dropped.
		"drop.go":    "// Package fx is not clean.\npackage fx\n\nimport \"os\"\n\n// Drop changes directory.\nfunc Drop() { os.Chdir(\"x\") }\n",
		"sub/go.mod": "module example.com/fx/sub\n\ngo 1.26\n",
		// go vet (printf): %d given a string.
		"sub/vet.go": "// Package sub is not clean.\npackage sub\n\nimport \"fmt\"\n\n// Say prints.\nfunc Say() { fmt.Printf(\"%d\\n\", \"s\") }\n",
	})
	var out strings.Builder
	err := Lint(context.Background(), root, bin, &out)
	if err == nil {
		t.Fatalf("lint passed bad code:\n%s", out.String())
	}
	for _, want := range []string{
		"gofmt: 1 file(s) not formatted",
		"vet found problems in module sub",
		"golangci-lint run found problems in module .",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	for _, want := range []string{"  ugly.go", "drop.go:7", "(errcheck)", "vet.go:7", "%d"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLintPassesCleanCode(t *testing.T) {
	root, bin := lintFixture(t, map[string]string{
		"go.mod":     "module example.com/fx\n\ngo 1.26\n",
		"fx.go":      "// Package fx is clean.\npackage fx\n\nimport \"os\"\n\n// Drop changes directory.\nfunc Drop() error { return os.Chdir(\"x\") }\n",
		"sub/go.mod": "module example.com/fx/sub\n\ngo 1.26\n",
		"sub/sub.go": "// Package sub is clean.\npackage sub\n\n// Two is 2.\nfunc Two() int { return 2 }\n",
	})
	var out strings.Builder
	if err := Lint(context.Background(), root, bin, &out); err != nil {
		t.Fatalf("lint failed clean code: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "(module sub)") {
		t.Errorf("the nested module was not linted:\n%s", out.String())
	}
}
