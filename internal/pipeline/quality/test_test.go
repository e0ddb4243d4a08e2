package quality

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (slash-separated paths relative to root) and returns root.
func writeTree(t *testing.T, root string, files map[string]string) string {
	t.Helper()
	for p, body := range files {
		p = filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestModulesFindsNestedModules(t *testing.T) {
	root := writeTree(t, t.TempDir(), map[string]string{
		"go.mod":                          "module x\n",
		"deploy/k8s/go.mod":               "module x/k8s\n",
		"deploy/k8s/manifest_test.go":     "package k8s\n",
		"tools/trivy/go.mod":              "module x/tools/trivy\n",
		"tools/fixture/go.mod":            "module x/tools/fixture\n",
		"tools/fixture/main.go":           "package main\n",
		"other/go.mod":                    "module x/other\n", // no Go files: nothing to test or lint
		".slipway/x/go.mod":               "module hidden\n",
		".slipway/x/x.go":                 "package x\n",
		"dist/x/go.mod":                   "module dist\n",
		"dist/x/x.go":                     "package x\n",
		"internal/a/testdata/m/go.mod":    "module fixture\n",
		"internal/a/testdata/m/m_test.go": "package m\n",
	})
	mods, err := Modules(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 2 || mods[0] != root || mods[1] != filepath.Join(root, "deploy", "k8s") {
		t.Fatalf("Modules = %v", mods)
	}
}

func TestCoverageSummary(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.out"), filepath.Join(dir, "b.out")
	writeTree(t, dir, map[string]string{
		"a.out": "mode: atomic\nm/a/x.go:1.1,2.2 3 1\nm/a/x.go:3.1,4.2 1 0\nm/b/y.go:1.1,2.2 4 0\n",
		// A second profile naming a block again: covered there, so covered once in total.
		"b.out": "mode: atomic\nm/b/y.go:1.1,2.2 4 2\nn/c/z.go:1.1,2.2 2 0\n",
	})
	got, err := Coverage(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" 75.0%  m/a\n", "100.0%  m/b\n", "  0.0%  n/c\n", " 70.0%  total\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	writeTree(t, dir, map[string]string{"bad.out": "mode: atomic\nm/a/x.go:1.1,2.2 three 1\n"})
	if _, err := Coverage(filepath.Join(dir, "bad.out")); err == nil || !strings.Contains(err.Error(), "bad line") {
		t.Fatalf("a corrupt profile was accepted: %v", err)
	}
	if _, err := Coverage(filepath.Join(dir, "missing.out")); err == nil {
		t.Fatal("a missing profile was accepted")
	}
}

// Test runs every module's tests for real (race detector, coverage), fails naming the module
// whose tests fail, and adds the e2e tag only when asked.
func TestTestRunsEveryModule(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go test -race on fixture modules")
	}
	root := writeTree(t, t.TempDir(), map[string]string{
		"go.mod":            "module example.com/fx\n\ngo 1.26\n",
		"add.go":            "package fx\n\nfunc Add(a, b int) int { return a + b }\n\nfunc Unused() int { return 0 }\n",
		"add_test.go":       "package fx\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(1, 2) != 3 {\n\t\tt.Fatal(\"1+2\")\n\t}\n}\n",
		"e2e_test.go":       "//go:build e2e\n\npackage fx\n\nimport \"testing\"\n\nfunc TestE2E(t *testing.T) { t.Fatal(\"the e2e-tagged test ran\") }\n",
		"sub/go.mod":        "module example.com/fx/sub\n\ngo 1.26\n",
		"sub/sub.go":        "package sub\n\nfunc Two() int { return 2 }\n",
		"sub/sub_test.go":   "package sub\n\nimport \"testing\"\n\nfunc TestTwo(t *testing.T) {\n\tif Two() != 3 {\n\t\tt.Fatal(\"nested module test failed\")\n\t}\n}\n",
		"tools/x/go.mod":    "module example.com/fx/tools/x\n\ngo 1.26\n",
		"tools/x/x_test.go": "package x\n\nimport \"testing\"\n\nfunc TestTool(t *testing.T) { t.Fatal(\"tools/ must not be tested\") }\n",
	})
	ctx := context.Background()

	var out strings.Builder
	err := Test(ctx, root, false, &out)
	if err == nil || !strings.Contains(err.Error(), "module sub") || !strings.Contains(out.String(), "nested module test failed") {
		t.Fatalf("a failing test in the nested module: err=%v\n%s", err, out.String())
	}

	writeTree(t, root, map[string]string{"sub/sub_test.go": strings.Replace(readFile(t, filepath.Join(root, "sub", "sub_test.go")), "!= 3", "!= 2", 1)})
	out.Reset()
	if err := Test(ctx, root, false, &out); err != nil {
		t.Fatalf("passing tests failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{"-race", "E2E=0", " 50.0%  example.com/fx\n", "100.0%  example.com/fx/sub\n", " 66.7%  total\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(root, "coverage.out")), "example.com/fx/add.go") {
		t.Error("coverage.out does not hold the root module's profile")
	}

	out.Reset()
	if err := Test(ctx, root, true, &out); err == nil || !strings.Contains(out.String(), "the e2e-tagged test ran") {
		t.Fatalf("with e2e on, the e2e-tagged test did not run: err=%v\n%s", err, out.String())
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
