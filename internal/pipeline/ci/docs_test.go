package ci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
)

// docs are the Markdown files whose examples must keep working.
func docs(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.md", "docs/*.md"} {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	return files
}

var (
	fence      = regexp.MustCompile("^\\s*```")
	inlineCode = regexp.MustCompile("`([^`]+)`")
)

// examples returns the commands of a Markdown file's code blocks (one per line, with a leading
// "$ " prompt removed) and its inline code spans, each with its line number.
func examples(text string) (commands, spans map[int][]string) {
	commands, spans = map[int][]string{}, map[int][]string{}
	inBlock := false
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if fence.MatchString(line) {
			inBlock = !inBlock
			continue
		}
		if inBlock {
			cmd := strings.TrimPrefix(strings.TrimSpace(line), "$ ")
			for strings.HasSuffix(cmd, "\\") && i+1 < len(lines) {
				i++
				cmd = strings.TrimSpace(strings.TrimSuffix(cmd, "\\")) + " " + strings.TrimSpace(lines[i])
			}
			commands[i+1] = append(commands[i+1], cmd)
			continue
		}
		for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
			spans[i+1] = append(spans[i+1], m[1])
		}
	}
	return commands, spans
}

// TestDocsNameExistingTargetsAndPaths runs the documentation's examples past the magefile and
// the tree: every mage command names targets that exist, with their arguments, and every
// repository path in inline code exists.
func TestDocsNameExistingTargetsAndPaths(t *testing.T) {
	root := projecttest.Root(t)
	targets, err := ParseTargets(root)
	if err != nil {
		t.Fatal(err)
	}
	files := docs(t, root)
	if len(files) == 0 {
		t.Fatal("no Markdown files found")
	}
	checked := 0
	for _, f := range files {
		problems, n := checkDoc(t, root, f, targets)
		checked += n
		for _, p := range problems {
			t.Error(p)
		}
	}
	if checked == 0 {
		t.Fatal("the docs show no mage command at all")
	}
}

func TestDocsCheckFindsDrift(t *testing.T) {
	targets, err := ParseTargets(filepath.Join("testdata", "magefile"))
	if err != nil {
		t.Fatal(err)
	}
	problems, _ := checkDoc(t, projecttest.Root(t), filepath.Join("testdata", "drift.md"), targets)
	got := strings.Join(problems, "\n")
	for _, want := range []string{
		`drift.md:3: ` + "`go run mage.go publish`: no mage target \"publish\"",
		`drift.md:4: ` + "`go run mage.go two a`: target two takes 2 argument(s)",
		"drift.md:7: `mage deploy:everything`: no mage target",
		"drift.md:7: `internal/pipeline/nosuchstage` does not exist",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
	if len(problems) != 4 {
		t.Errorf("got %d problems, want 4 (good lines must pass):\n%s", len(problems), got)
	}
}

// checkDoc returns the problems of one Markdown file and how many mage commands it checked.
func checkDoc(t *testing.T, root, file string, targets Targets) (problems []string, checked int) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(file)
	if rel, err := filepath.Rel(root, file); err == nil && !strings.HasPrefix(rel, "..") && filepath.IsAbs(file) {
		name = rel
	}
	generated := map[string]bool{filepath.Base(project.DistDir(root, settings.Settings{})): true, filepath.Base(project.StateDir(root)): true}
	check := func(n int, cmd string, complete bool) (isMage bool) {
		isMage, err := CheckDocCommand(cmd, targets, complete)
		if isMage {
			checked++
		}
		if err != nil && !strings.Contains(cmd, "<") { // <target> is a placeholder
			problems = append(problems, fmt.Sprintf("%s:%d: %v", name, n, err))
		}
		return isMage
	}
	commands, spans := examples(string(data))
	for n, cmds := range commands {
		for _, c := range cmds {
			check(n, c, true)
		}
	}
	for n, ss := range spans {
		for _, s := range ss {
			if check(n, s, false) {
				continue
			}
			first, _, ok := strings.Cut(s, "/")
			if !ok || first == "" || strings.ContainsAny(s, "<>*{} ") || strings.Contains(s, "...") || generated[first] {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, first)); err != nil {
				continue // not a path of this repository (ghcr.io/..., k8s.io/...)
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(s))); err != nil {
				problems = append(problems, fmt.Sprintf("%s:%d: `%s` does not exist", name, n, s))
			}
		}
	}
	sort.Strings(problems)
	return problems, checked
}

func TestExamplesFindCommandsAndSpans(t *testing.T) {
	md := "Run `mage build` first.\n\n```sh\n$ go run mage.go \\\n    build:all\ncosign verify x\n```\nSee `internal/x`.\n"
	commands, spans := examples(md)
	want := map[int][]string{5: {"go run mage.go build:all"}, 6: {"cosign verify x"}}
	for n, c := range want {
		if strings.Join(commands[n], "|") != strings.Join(c, "|") {
			t.Errorf("line %d: got %q, want %q", n, commands[n], c)
		}
	}
	if strings.Join(spans[1], "|") != "mage build" || strings.Join(spans[8], "|") != "internal/x" {
		t.Errorf("spans: got %v", spans)
	}
}

// TestDocExamplesUseFlagsThePinnedToolsHave runs `<tool> <subcommand> --help` for every command
// of a pinned tool in the docs' code blocks (cosign, crane, ...) and checks that each --flag the
// example uses exists in the version this repository pins.
func TestDocExamplesUseFlagsThePinnedToolsHave(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the pinned tools the docs use (cosign, crane) on first use")
	}
	root := projecttest.Root(t)
	checked := 0
	for _, f := range docs(t, root) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		commands, _ := examples(string(data))
		for n, cmds := range commands {
			for _, c := range cmds {
				ok, err := checkToolFlags(t, root, c)
				if ok {
					checked++
				}
				if err != nil {
					t.Errorf("%s:%d: %v", filepath.Base(f), n, err)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no example of a pinned tool found in the docs")
	}
	t.Logf("%d examples of pinned tools checked", checked)
	// And the check itself fails on a misspelt flag.
	if _, err := checkToolFlags(t, root, "cosign verify-blob --certificate-identiy x --bundle b f"); err == nil ||
		!strings.Contains(err.Error(), "--certificate-identiy") {
		t.Fatalf("a misspelt flag passed: %v", err)
	}
}

// checkToolFlags checks one example command line; ok is false when it is not a pinned tool's.
func checkToolFlags(t *testing.T, root, line string) (ok bool, err error) {
	t.Helper()
	words, err := split(line)
	if err != nil {
		return false, nil
	}
	for len(words) > 0 && envAssignment.MatchString(words[0]) {
		// VAR=$(tool ...): the command substitution is the example.
		if _, sub, found := strings.Cut(words[0], "=$("); found {
			words[0] = sub
			break
		}
		words = words[1:]
	}
	if len(words) < 2 {
		return false, nil
	}
	tool, err := tools.Lookup(words[0])
	if err != nil {
		return false, nil
	}
	bin, err := tool.Path(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	sub := words[1]
	help, err := run.Cmd{}.Output(context.Background(), bin, sub, "--help")
	if err != nil {
		return true, fmt.Errorf("`%s`: %s has no subcommand %q: %w", line, tool.Name, sub, err)
	}
	for _, w := range words[2:] {
		if !strings.HasPrefix(w, "--") {
			continue
		}
		flag, _, _ := strings.Cut(w, "=")
		if !regexp.MustCompile(regexp.QuoteMeta(flag) + `[=\s,]`).MatchString(help) {
			return true, fmt.Errorf("`%s`: the pinned %s %s has no flag %s", line, tool.Name, sub, flag)
		}
	}
	return true, nil
}
