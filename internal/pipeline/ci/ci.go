// Package ci keeps the GitHub Actions workflows (.github/workflows), the docs' examples and the
// magefile in step. Its tests are the gate: they run these checks on the real files (and on
// fixtures that must fail), so drift fails `go test`.
//
// CI must run the same pipeline a developer runs, so every `run:` step is a `go run mage.go`
// command naming targets that exist, with the arguments they take. Actions and reusable
// workflows of other repositories are pinned by commit SHA with the version in a comment, a
// local reusable workflow must exist and declare `workflow_call`, and write permissions are
// granted per job, never to a whole workflow. Gates says which targets must have passed before
// a job runs (the release job must wait for lint, test and the end-to-end tests). Commands
// shown in Markdown must name existing targets too.
package ci

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
)

// Target is what the command line of one mage target may hold.
type Target struct {
	Args  int             // positional arguments
	Flags map[string]bool // optional -name=value arguments (pointer parameters), lower case
}

// Targets maps each mage target name (lower case, as mage matches them: "build:all") to its
// arguments.
type Targets map[string]Target

// Names lists the targets, sorted.
func (t Targets) Names() []string {
	var names []string
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ParseTargets reads the targets of the magefiles in dir (the Go files with the `mage` build tag)
// the way mage does: exported functions, methods of mg.Namespace types as "namespace:method",
// and the keys of `var Aliases`.
func ParseTargets(dir string) (Targets, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(src, []byte("//go:build mage")) {
			continue
		}
		af, err := parser.ParseFile(fset, f, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, af)
	}
	if len(parsed) == 0 {
		return nil, fmt.Errorf("no magefile (a Go file with //go:build mage) in %s", dir)
	}
	namespaces := map[string]bool{}
	for _, af := range parsed {
		for _, d := range af.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
				for _, s := range gd.Specs {
					ts := s.(*ast.TypeSpec)
					if sel, ok := ts.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Namespace" && ts.Name.IsExported() {
						namespaces[ts.Name.Name] = true
					}
				}
			}
		}
	}
	targets := Targets{}
	funcs := map[string]string{} // Go expression (Build.All, Lint) -> target name
	for _, af := range parsed {
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || !fd.Name.IsExported() {
				continue
			}
			name, expr := fd.Name.Name, fd.Name.Name
			if fd.Recv != nil {
				recv, ok := fd.Recv.List[0].Type.(*ast.Ident)
				if !ok || !namespaces[recv.Name] {
					continue
				}
				name, expr = recv.Name+":"+fd.Name.Name, recv.Name+"."+fd.Name.Name
			}
			name = strings.ToLower(name)
			targets[name] = arguments(fd.Type.Params)
			funcs[expr] = name
		}
	}
	for _, af := range parsed {
		if err := aliases(af, targets, funcs); err != nil {
			return nil, err
		}
	}
	return targets, nil
}

// arguments reads a target's parameters as mage does: a leading context.Context is not an
// argument, pointer parameters are optional -name=value flags, the rest are positional.
func arguments(params *ast.FieldList) Target {
	t := Target{Flags: map[string]bool{}}
	for _, f := range params.List {
		if sel, ok := f.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Context" {
			continue
		}
		if _, ok := f.Type.(*ast.StarExpr); ok {
			for _, n := range f.Names {
				t.Flags[strings.ToLower(n.Name)] = true
			}
			continue
		}
		t.Args += max(len(f.Names), 1)
	}
	return t
}

func aliases(af *ast.File, targets Targets, funcs map[string]string) error {
	for _, d := range af.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name != "Aliases" || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.CompositeLit)
				if !ok {
					return errors.New("magefile: Aliases is not a map literal")
				}
				for _, e := range lit.Elts {
					kv := e.(*ast.KeyValueExpr)
					key, err := strconv.Unquote(kv.Key.(*ast.BasicLit).Value)
					if err != nil {
						return fmt.Errorf("magefile: alias key: %w", err)
					}
					target, ok := funcs[exprString(kv.Value)]
					if !ok {
						return fmt.Errorf("magefile: alias %q points at %s, which is not a target", key, exprString(kv.Value))
					}
					targets[strings.ToLower(key)] = targets[target]
				}
			}
		}
	}
	return nil
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return fmt.Sprintf("%T", e)
}

// Workflow steps run mage one way; documentation may show the other two as well.
var (
	workflowCommands = [][]string{{"go", "run", "mage.go"}}
	docCommands      = [][]string{{"go", "run", "mage.go"}, {"go", "tool", "mage"}, {"mage"}}
)

// Output files a step may append mage's output to (step outputs, the job summary).
var allowedRedirects = map[string]bool{"$GITHUB_OUTPUT": true, "$GITHUB_STEP_SUMMARY": true}

var pinnedUses = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$`)
var versionComment = regexp.MustCompile(`^#\s*v\d+\.\d+\.\d+`)

// CheckWorkflow reports every problem in one workflow file.
func CheckWorkflow(path string, targets Targets) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return fmt.Errorf("%s: empty workflow", path)
	}
	root := doc.Content[0]
	var errs []error
	fail := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", path, n.Line, fmt.Sprintf(format, args...)))
	}
	if perms := get(root, "permissions"); perms == nil {
		fail(root, "no top-level `permissions:`: set `contents: read` and grant more per job")
	} else {
		for _, w := range writes(perms) {
			fail(perms, "workflow-wide `%s: write`: grant it only to the job that needs it", w)
		}
	}
	jobs := get(root, "jobs")
	if jobs == nil {
		fail(root, "no jobs")
		return errors.Join(errs...)
	}
	for i := 0; i+1 < len(jobs.Content); i += 2 {
		job := jobs.Content[i].Value
		if uses := get(jobs.Content[i+1], "uses"); uses != nil {
			if err := checkCalled(path, uses); err != nil {
				fail(uses, "job %s: %v", job, err)
			}
			continue
		}
		steps := get(jobs.Content[i+1], "steps")
		if steps == nil {
			continue
		}
		for n, step := range steps.Content {
			where := fmt.Sprintf("job %s step %d", job, n+1)
			if name := get(step, "name"); name != nil {
				where = fmt.Sprintf("job %s step %q", job, name.Value)
			}
			if uses := get(step, "uses"); uses != nil {
				if !pinnedUses.MatchString(uses.Value) || !versionComment.MatchString(uses.LineComment) {
					fail(uses, "%s: pin %q by full commit SHA with the version in a comment (`owner/action@<40 hex> # vX.Y.Z`)", where, uses.Value)
				}
			}
			if run := get(step, "run"); run != nil {
				for _, err := range CheckRun(run.Value, targets) {
					fail(run, "%s: %v", where, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// checkCalled checks a job's reusable workflow: a local one (./.github/workflows/x.yml, at the
// same commit) must exist and be callable; another repository's must be pinned like an action.
func checkCalled(path string, uses *yaml.Node) error {
	if !strings.HasPrefix(uses.Value, "./") {
		if !pinnedUses.MatchString(uses.Value) || !versionComment.MatchString(uses.LineComment) {
			return fmt.Errorf("pin the reusable workflow %q by full commit SHA with the version in a comment", uses.Value)
		}
		return nil
	}
	called, err := loadCalled(path, uses.Value)
	if err != nil {
		return err
	}
	if !triggeredBy(get(called, "on"), "workflow_call") {
		return fmt.Errorf("%s has no `on: workflow_call`: another workflow cannot call it", uses.Value)
	}
	return nil
}

// loadCalled reads a local reusable workflow, named from the repository root as GitHub names it.
func loadCalled(path, uses string) (*yaml.Node, error) {
	if !strings.HasPrefix(uses, "./.github/workflows/") {
		return nil, fmt.Errorf("%q: a local reusable workflow lives in ./.github/workflows/", uses)
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(path))) // path is <root>/.github/workflows/x.yml
	return loadWorkflow(filepath.Join(root, filepath.FromSlash(uses)))
}

func loadWorkflow(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty workflow", path)
	}
	return doc.Content[0], nil
}

// triggeredBy reports whether an `on:` node (a string, a list or a map) names event.
func triggeredBy(on *yaml.Node, event string) bool {
	if on == nil {
		return false
	}
	switch on.Kind {
	case yaml.ScalarNode:
		return on.Value == event
	case yaml.SequenceNode:
		return slices.ContainsFunc(on.Content, func(n *yaml.Node) bool { return n.Value == event })
	case yaml.MappingNode:
		return get(on, event) != nil
	}
	return false
}

// E2EGate is what Gates reports for a `mage test` that runs the end-to-end tests (E2E not
// switched off in its step's, job's or workflow's env).
const E2EGate = "e2e"

// Gates lists the mage targets that must have passed before job (in the workflow at path)
// runs: those of the `run:` steps of every job it needs, transitively, and of every job of a
// local reusable workflow such a job calls. A job or step that may be skipped (`if:`) or fail
// without failing the run (`continue-on-error`) gates nothing.
func Gates(path, job string, targets Targets) ([]string, error) {
	wf, err := loadWorkflow(path)
	if err != nil {
		return nil, err
	}
	jobs := get(wf, "jobs")
	j := get(jobs, job)
	if j == nil {
		return nil, fmt.Errorf("%s: no job %q", path, job)
	}
	gates := map[string]bool{}
	seen := map[string]bool{}
	var walk func(name string) error
	walk = func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		n := get(jobs, name)
		if n == nil {
			return fmt.Errorf("%s: job %s needs %q, which does not exist", path, job, name)
		}
		if mayPass(n) {
			return nil
		}
		if err := jobGates(path, wf, n, targets, gates); err != nil {
			return err
		}
		for _, need := range needs(n) {
			if err := walk(need); err != nil {
				return err
			}
		}
		return nil
	}
	for _, need := range needs(j) {
		if err := walk(need); err != nil {
			return nil, err
		}
	}
	return slices.Sorted(maps.Keys(gates)), nil
}

// jobGates adds the targets one job runs: its steps, or all the jobs of the workflow it calls.
func jobGates(path string, wf, job *yaml.Node, targets Targets, gates map[string]bool) error {
	if uses := get(job, "uses"); uses != nil {
		if !strings.HasPrefix(uses.Value, "./") {
			return nil // another repository's workflow: its targets are not ours to read
		}
		called, err := loadCalled(path, uses.Value)
		if err != nil {
			return err
		}
		jobs := get(called, "jobs")
		for i := 0; jobs != nil && i+1 < len(jobs.Content); i += 2 {
			if n := jobs.Content[i+1]; !mayPass(n) {
				if err := jobGates(path, called, n, targets, gates); err != nil {
					return err
				}
			}
		}
		return nil
	}
	steps := get(job, "steps")
	for i := 0; steps != nil && i < len(steps.Content); i++ {
		step := steps.Content[i]
		run := get(step, "run")
		if run == nil || mayPass(step) {
			continue
		}
		e2e := e2eOn(get(wf, "env")) && e2eOn(get(job, "env")) && e2eOn(get(step, "env"))
		for _, t := range runTargets(run.Value, targets) {
			gates[t] = true
			if t == "test" && e2e {
				gates[E2EGate] = true
			}
		}
	}
	return nil
}

// mayPass: a job or step that can be skipped or fail without failing the run proves nothing.
func mayPass(n *yaml.Node) bool {
	if get(n, "if") != nil {
		return true
	}
	c := get(n, "continue-on-error")
	return c != nil && c.Value != "false"
}

// needs reads `needs:`, one job or a list.
func needs(job *yaml.Node) []string {
	n := get(job, "needs")
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}
	}
	var names []string
	for _, c := range n.Content {
		names = append(names, c.Value)
	}
	return names
}

// e2eOn: `mage test` runs the end-to-end tests unless E2E turns them off, as the settings read
// it; a value only known at run time (an expression) does not parse, and counts as off.
func e2eOn(env *yaml.Node) bool {
	v := get(env, quality.E2EEnv)
	if v == nil {
		return true
	}
	s, err := settings.Load([]string{quality.E2EEnv + "=" + v.Value})
	return err == nil && s.E2E
}

// runTargets are the targets the `go run mage.go` commands of a run script name.
func runTargets(script string, targets Targets) []string {
	var names []string
	for _, line := range commandLines(script) {
		words, err := split(line)
		if err != nil {
			continue
		}
		n := matchCommand(words, workflowCommands)
		if n == 0 {
			continue
		}
		for words = words[n:]; len(words) > 0; {
			w := strings.ToLower(words[0])
			words = words[1:]
			t, ok := targets[w]
			if !ok {
				continue // a flag, or a redirect
			}
			names = append(names, w)
			words = words[min(t.Args, len(words)):]
		}
	}
	return names
}

// commandLines are a run script's commands: continuation lines joined, blanks and comments left out.
func commandLines(script string) []string {
	var lines []string
	for _, line := range strings.Split(strings.ReplaceAll(script, "\\\n", " "), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}

// CheckRun checks one `run:` script: each command must be `go run mage.go` with known targets.
func CheckRun(script string, targets Targets) []error {
	var errs []error
	for _, line := range commandLines(script) {
		if err := checkCommand(line, targets, workflowCommands, step); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && strings.TrimSpace(script) == "" {
		errs = append(errs, errors.New("empty run step"))
	}
	return errs
}

// CheckDocCommand checks a mage command shown in documentation. It may set environment
// variables first (`SLIPWAY_OFFLINE=1 go run mage.go release`); it reports (false, nil) for a
// line that is not a mage command at all. A mention in prose (not complete) only needs its
// targets to exist: "`mage init`" names the target without its arguments.
func CheckDocCommand(line string, targets Targets, complete bool) (bool, error) {
	words, err := split(line)
	if err != nil {
		return false, nil
	}
	for len(words) > 0 && envAssignment.MatchString(words[0]) {
		words = words[1:]
	}
	if matchCommand(words, docCommands) == 0 {
		return false, nil
	}
	m := mention
	if complete {
		m = example
	}
	return true, checkCommand(strings.Join(words, " "), targets, docCommands, m)
}

// How strictly checkCommand reads a line.
type mode int

const (
	step    mode = iota // a workflow's run step: output only to $GITHUB_OUTPUT and friends
	example             // a documented command: output may go anywhere
	mention             // a command named in prose: arguments, even the target, may be left out
)

var envAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// matchCommand returns the length of the mage command words starts with, or 0.
func matchCommand(words []string, commands [][]string) int {
	for _, c := range commands {
		if len(words) >= len(c) && slices.Equal(words[:len(c)], c) {
			return len(c)
		}
	}
	return 0
}

// checkCommand checks one mage command line.
func checkCommand(line string, targets Targets, commands [][]string, m mode) error {
	words, err := split(line)
	if err != nil {
		return fmt.Errorf("`%s`: %w", line, err)
	}
	n := matchCommand(words, commands)
	if n == 0 {
		return fmt.Errorf("`%s` bypasses mage: pipeline work belongs in a mage target, run as `go run mage.go <target>`", line)
	}
	words = words[n:]
	if n := len(words); n >= 2 && words[n-2] == ">>" && m == step {
		if !allowedRedirects[words[n-1]] {
			return fmt.Errorf("`%s`: output may only be appended to $GITHUB_OUTPUT or $GITHUB_STEP_SUMMARY", line)
		}
		words = words[:n-2]
	}
	named, listing := 0, false
	var last Target
	for len(words) > 0 {
		w := words[0]
		words = words[1:]
		switch {
		case w == "-v":
			continue
		case w == "-l" || w == "-h":
			listing = true
			continue
		case named > 0 && strings.HasPrefix(w, "-") && last.Flags[flagName(w)]:
			continue
		case m != step && (w == ">" || w == ">>" || w == "|"):
			words = nil // where the docs send the output is the reader's business
			continue
		case strings.HasPrefix(w, "-") || strings.ContainsAny(w, "|&;<>`$("):
			return fmt.Errorf("`%s`: %q is not a target or one of its -flags, and of mage's own flags only -v, -l and -h are allowed: move shell logic into a target", line, w)
		}
		t, ok := targets[strings.ToLower(w)]
		if !ok {
			return fmt.Errorf("`%s`: no mage target %q in the magefile (targets: %s)", line, w, strings.Join(targets.Names(), ", "))
		}
		if len(words) < t.Args && m != mention {
			return fmt.Errorf("`%s`: target %s takes %d argument(s)", line, w, t.Args)
		}
		words = words[min(t.Args, len(words)):]
		named++
		last = t
	}
	if named == 0 && !listing && m != mention {
		return fmt.Errorf("`%s` names no target: CI must say which stage it runs", line)
	}
	return nil
}

// flagName is "name" for "-name=value" or "-name".
func flagName(w string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
	return strings.ToLower(name)
}

// split breaks a command line into words, honouring single and double quotes. It knows just
// enough shell for the commands CheckRun allows.
func split(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '#' && !inWord:
			return words, nil // a comment runs to the end of the line
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// get returns the value of key in a YAML mapping node, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// writes lists the scopes a permissions node grants write access to.
func writes(perms *yaml.Node) []string {
	if perms.Kind == yaml.ScalarNode {
		if perms.Value == "write-all" {
			return []string{"write-all"}
		}
		return nil
	}
	var w []string
	for i := 0; i+1 < len(perms.Content); i += 2 {
		if perms.Content[i+1].Value == "write" {
			w = append(w, perms.Content[i].Value)
		}
	}
	return w
}
