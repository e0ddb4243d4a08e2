package quality

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// Lint runs gofmt over every Go file of the repository, then go vet and golangci-lint
// (configured by root/.golangci.yml) in every module Modules lists, with the e2e and mage build
// tags so the end-to-end tests and magefile.go are checked too. Every step runs even after one
// fails, so one run shows everything to fix; the error names the steps that failed.
func Lint(ctx context.Context, root, golangciLint string, out io.Writer) error {
	var failed []error
	if err := Gofmt(ctx, root, out); err != nil {
		failed = append(failed, err)
	}
	mods, err := Modules(root)
	if err != nil {
		return err
	}
	config := filepath.Join(root, ".golangci.yml")
	for _, dir := range mods {
		rel, _ := filepath.Rel(root, dir)
		steps := []struct {
			name string
			args []string
		}{
			{"go", []string{"vet", "-tags=e2e,mage", "./..."}},
			// .golangci.yml sets allow-serial-runners: a concurrent run waits instead of failing.
			{golangciLint, []string{"run", "--config=" + config, "./..."}},
		}
		for _, s := range steps {
			fmt.Fprintf(out, "==> %s (module %s)\n", run.Quote(filepath.Base(s.name), s.args...), rel)
			if err := (run.Cmd{Dir: dir, Stdout: out, Stderr: out}).Run(ctx, s.name, s.args...); err != nil {
				failed = append(failed, fmt.Errorf("%s %s found problems in module %s (listed above)", filepath.Base(s.name), s.args[0], rel))
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("lint failed:\n%w", errors.Join(failed...))
	}
	fmt.Fprintln(out, "lint: ok")
	return nil
}

// Gofmt fails listing the Go files under root that gofmt would change (fixtures under testdata
// included; hidden directories and dist/ are not ours).
func Gofmt(ctx context.Context, root string, out io.Writer) error {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p != root && skipDir(root, p):
			return filepath.SkipDir
		case !d.IsDir() && strings.HasSuffix(p, ".go"):
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "==> gofmt -l (%d files)\n", len(files))
	unformatted, err := run.Cmd{Dir: root}.Output(ctx, "gofmt", append([]string{"-l"}, files...)...)
	if err != nil {
		return err
	}
	if unformatted != "" {
		var rel []string
		for _, f := range strings.Split(unformatted, "\n") {
			r, _ := filepath.Rel(root, f)
			rel = append(rel, "  "+r)
		}
		fmt.Fprintf(out, "gofmt: not formatted:\n%s\n", strings.Join(rel, "\n"))
		return fmt.Errorf("gofmt: %d file(s) not formatted (run `gofmt -w` on them)", len(rel))
	}
	return nil
}
