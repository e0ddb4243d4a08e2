// Package quality runs the code checks: tests with coverage, linters, and govulncheck.
package quality

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// E2EEnv is the setting that leaves out the Docker-backed end-to-end tests (test/e2e, build tag
// e2e) when set to 0: `E2E=0 mage test` on a machine without Docker.
const E2EEnv = "E2E"

// testArgs are the `go test` arguments for one module. -count=1 because a cached "ok" proves
// nothing about Docker, the registry or the tools the end-to-end tests drive; -timeout covers a
// cold local release inside the e2e tests.
func testArgs(e2e bool, profile string) []string {
	args := []string{"test", "-race", "-count=1", "-timeout=45m", "-covermode=atomic", "-coverprofile=" + profile}
	if e2e {
		args = append(args, "-tags=e2e")
	}
	return append(args, "./...")
}

// Test runs the tests of every module in the repository (see Modules) with the race detector,
// streaming go test's output to out, then prints a coverage summary per package and in total.
// The root module's profile is written to root/coverage.out (`go tool cover -html=coverage.out`).
func Test(ctx context.Context, root string, e2e bool, out io.Writer) error {
	// -race needs cgo, and Go turns cgo off when it finds no C compiler: say so up front
	// instead of letting go test fail with a bare "-race requires cgo".
	if cgo, err := (run.Cmd{Dir: root}).Output(ctx, "go", "env", "CGO_ENABLED"); err != nil {
		return err
	} else if cgo != "1" {
		return fmt.Errorf("go test -race needs cgo, which is off (CGO_ENABLED=%s): install a C compiler (Debian: apt-get install gcc) and do not set CGO_ENABLED=0", cgo)
	}
	mods, err := Modules(root)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "slipway-coverage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if !e2e {
		fmt.Fprintf(out, "==> %s=0: the Docker-backed end-to-end tests (test/e2e) are left out\n", E2EEnv)
	}
	var profiles []string
	for i, dir := range mods {
		profile := filepath.Join(root, "coverage.out")
		if dir != root {
			// Nested modules' profiles only feed the summary: `go tool cover` run from the
			// root could not resolve their packages anyway.
			profile = filepath.Join(tmp, fmt.Sprintf("module%d.out", i))
		}
		args := testArgs(e2e, profile)
		rel, _ := filepath.Rel(root, dir)
		fmt.Fprintf(out, "==> %s (module %s)\n", run.Quote("go", args...), rel)
		if err := (run.Cmd{Dir: dir, Stdout: out, Stderr: out}).Run(ctx, "go", args...); err != nil {
			return fmt.Errorf("tests failed in module %s (go test's output is above)", rel)
		}
		profiles = append(profiles, profile)
	}
	summary, err := Coverage(profiles...)
	if err != nil {
		return err
	}
	fmt.Fprint(out, summary)
	return nil
}

// Modules lists the directories of the repository's Go modules, root first: the root module and
// every nested module holding Go files (deploy/kubernetes, for example). Modules under tools/
// only pin tools, and those under testdata/ are fixtures, so both are left out, as are hidden
// directories (.git, .slipway) and dist/.
func Modules(root string) ([]string, error) {
	mods := []string{root}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || p == root {
			return nil
		}
		if skipDir(root, p) || d.Name() == "testdata" || p == filepath.Join(root, "tools") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil && hasGoFiles(p) {
			mods = append(mods, p)
		}
		return nil
	})
	return mods, err
}

// skipDir says which directories hold no source of ours: hidden ones (.git, .slipway) and dist/.
func skipDir(root, p string) bool {
	return strings.HasPrefix(filepath.Base(p), ".") || p == filepath.Join(root, "dist")
}

func hasGoFiles(dir string) bool {
	found := false
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// Coverage summarises coverage profiles: statement coverage per package and in total.
// A block listed more than once (profiles of several runs) counts once, covered if any run
// covered it.
func Coverage(profiles ...string) (string, error) {
	type block struct{ stmts, hits int }
	blocks := map[string]block{} // "file:start,end" -> block
	for _, profile := range profiles {
		if err := readProfile(profile, func(pos string, stmts, hits int) {
			b := blocks[pos]
			blocks[pos] = block{stmts, max(b.hits, hits)}
		}); err != nil {
			return "", err
		}
	}
	type counts struct{ covered, total int }
	pkgs := map[string]*counts{}
	var all counts
	for pos, b := range blocks {
		pkg := filepath.Dir(pos[:strings.LastIndex(pos, ":")])
		c := pkgs[pkg]
		if c == nil {
			c = &counts{}
			pkgs[pkg] = c
		}
		c.total += b.stmts
		all.total += b.stmts
		if b.hits > 0 {
			c.covered += b.stmts
			all.covered += b.stmts
		}
	}
	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	sort.Strings(names)
	pct := func(c counts) float64 {
		if c.total == 0 {
			return 0
		}
		return 100 * float64(c.covered) / float64(c.total)
	}
	var b strings.Builder
	b.WriteString("\nCoverage (statements):\n")
	for _, p := range names {
		fmt.Fprintf(&b, "  %5.1f%%  %s\n", pct(*pkgs[p]), p)
	}
	fmt.Fprintf(&b, "  %5.1f%%  total\n", pct(all))
	return b.String(), nil
}

// readProfile calls fn for each block of a coverage profile ("file:start,end stmts hits").
func readProfile(profile string, fn func(pos string, stmts, hits int)) error {
	f, err := os.Open(profile)
	if err != nil {
		return fmt.Errorf("no coverage profile: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "mode:") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 || !strings.Contains(fields[0], ":") {
			return fmt.Errorf("coverage profile %s: bad line %q", profile, line)
		}
		stmts, err1 := strconv.Atoi(fields[1])
		hits, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil {
			return fmt.Errorf("coverage profile %s: bad line %q", profile, line)
		}
		fn(fields[0], stmts, hits)
	}
	return sc.Err()
}
