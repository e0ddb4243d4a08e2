// Package initproject turns a fresh copy of the template into the user's own service
// (`mage init <module-path> [-name=<name>]`).
//
// It is a rename, done as text replacement over every file of the tree, because the template's
// identity is spelled in many languages (Go, YAML, Dockerfiles, Markdown, goreleaser templates).
// From most to least specific, with github.com/acme/widget as the new module path:
//
//	the template's module path          -> github.com/acme/widget (imports, nested go.mod files)
//	its owner/repo, its owner           -> acme/widget, acme (image names, URLs)
//	its name, upper/title/lower case    -> WIDGET (so the env prefix is WIDGET_), Widget, widget
//
// Paths are renamed by the same rules (cmd/<name> -> cmd/widget). Lines holding the attribution
// marker are left alone, and so is LICENSE: they are the traces of the template kept on purpose
// (the licence's copyright notice, a README footer, and the Template identity below, which init
// compares against).
package initproject

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/git"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// Template is the identity of the template itself. These lines carry the attribution marker,
// so init never rewrites them: after init they still say where the service started.
var Template = Identity{
	Module: "github.com/slipway-dev/slipway", // Started from Slipway
	Name:   "slipway",                        // Started from Slipway
}

// Attribution marks the lines init keeps as they are. Init appends one to README.md.
const Attribution = "Started from Slipway"

// attributionLine is what init appends to README.md. It spells the marker out, so that init
// leaves this line of its own source alone too.
const attributionLine = "Started from Slipway (https://github.com/slipway-dev/slipway), a Go service starter.\n"

// kept are files init never rewrites: the licence's copyright notice must stay as it is (the
// MIT licence requires keeping it), so it counts as attribution too.
var kept = map[string]bool{"LICENSE": true}

// nameFile holds `const Name = "..."`, the template's name as the pipeline knows it.
const nameFile = "internal/pipeline/kit/project/project.go"

// Identity is what init renames: the module path and the short name used for the binary,
// the image, the Kubernetes objects and (upper-cased) the environment prefix.
type Identity struct {
	Module string
	Name   string
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,39}$`)

// New checks a module path and name given by the user; an empty name defaults to the last
// element of the module path (before any /vN suffix).
func New(modulePath, name string) (Identity, error) {
	if err := module.CheckPath(modulePath); err != nil {
		return Identity{}, fmt.Errorf("invalid module path %q: %w (want something like github.com/acme/widget)", modulePath, err)
	}
	if name == "" {
		prefix, _, _ := module.SplitPathVersion(modulePath)
		name = path.Base(prefix)
		if !nameRE.MatchString(name) {
			return Identity{}, fmt.Errorf("module path %q ends in %q, which cannot be the service's name: "+
				"pass one, e.g. `mage init %s -name=%s`", modulePath, name, modulePath, suggestName(name))
		}
	}
	if !nameRE.MatchString(name) {
		return Identity{}, fmt.Errorf("invalid name %q: use up to 40 lower-case letters and digits, starting with a letter "+
			"(it names the binary, the image, the Kubernetes objects and Go identifiers, so no '-', '_' or '.')", name)
	}
	return Identity{Module: modulePath, Name: name}, nil
}

func suggestName(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9' && b.Len() > 0) {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "service"
	}
	return b.String()
}

// Current reads the identity of the tree at root: the module path of go.mod and the pipeline's
// project name.
func Current(root string) (Identity, error) {
	gomod := filepath.Join(root, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return Identity{}, err
	}
	mod := modfile.ModulePath(data)
	if mod == "" {
		return Identity{}, fmt.Errorf("%s has no module line", gomod)
	}
	file := filepath.Join(root, filepath.FromSlash(nameFile))
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return Identity{}, fmt.Errorf("reading the project name: %w", err)
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name == "Name" && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						name, err := strconv.Unquote(lit.Value)
						return Identity{Module: mod, Name: name}, err
					}
				}
			}
		}
	}
	return Identity{}, fmt.Errorf("%s has no `const Name = \"...\"`: init cannot tell the project's current name", file)
}

// ownerRepo is the module path's first two elements after the host, lower-cased (image
// registries want lower case): github.com/Acme/widget/v2 -> acme, widget.
func (id Identity) ownerRepo() (owner, repo string) {
	prefix, _, _ := module.SplitPathVersion(id.Module)
	elems := strings.Split(prefix, "/")[1:]
	if len(elems) < 2 {
		return id.Name, id.Name
	}
	return strings.ToLower(elems[0]), strings.ToLower(elems[1])
}

// EnvPrefix is the service's environment variable prefix, e.g. WIDGET_.
func (id Identity) EnvPrefix() string { return strings.ToUpper(id.Name) + "_" }

func (id Identity) title() string { return strings.ToUpper(id.Name[:1]) + id.Name[1:] }

// replacer maps every spelling of from's identity to to's, most specific first: at each
// position strings.Replacer takes the earliest pair in this list that matches.
func replacer(from, to Identity) *strings.Replacer {
	fo, fr := from.ownerRepo()
	tOwner, tRepo := to.ownerRepo()
	pairs := []string{from.Module, to.Module, fo + "/" + fr, tOwner + "/" + tRepo}
	if fo != from.Name {
		pairs = append(pairs, fo, tOwner) // an owner spelled like the name is renamed as the name
	}
	return strings.NewReplacer(append(pairs,
		strings.ToUpper(from.Name), strings.ToUpper(to.Name),
		from.title(), to.title(),
		from.Name, to.Name,
	)...)
}

// rewrite applies r to every line but the attribution.
func rewrite(text string, r *strings.Replacer) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if !strings.Contains(l, Attribution) {
			lines[i] = r.Replace(l)
		}
	}
	return strings.Join(lines, "")
}

// Change is one file init writes, renames or both.
type Change struct {
	Path, NewPath string // relative, slash-separated; equal when not renamed
	Content       []byte // nil when only renamed
	Mode          os.FileMode
}

func (c Change) String() string {
	switch {
	case c.Path != c.NewPath && c.Content != nil:
		return "renamed and rewrote " + c.Path + " -> " + c.NewPath
	case c.Path != c.NewPath:
		return "renamed " + c.Path + " -> " + c.NewPath
	}
	return "rewrote " + c.Path
}

// Plan lists the changes that turn the tree at root from one identity into another, without
// touching it.
func Plan(ctx context.Context, root string, from, to Identity) ([]Change, error) {
	files, err := listFiles(ctx, root)
	if err != nil {
		return nil, err
	}
	r := replacer(from, to)
	var changes []Change
	for _, f := range files {
		if kept[f] {
			continue
		}
		full := filepath.Join(root, filepath.FromSlash(f))
		st, err := os.Lstat(full)
		if errors.Is(err, os.ErrNotExist) {
			continue // tracked but deleted (or renamed by a previous run)
		}
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			continue // symlinks and submodules are not ours to rewrite
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return nil, err
		}
		c := Change{Path: f, NewPath: rewrite(f, r), Mode: st.Mode().Perm()}
		if isText(data) {
			text := string(data)
			if f == "README.md" && !strings.Contains(text, Attribution) {
				text = strings.TrimRight(text, "\n") + "\n\n---\n" + attributionLine
			}
			if out := rewrite(text, r); out != string(data) {
				c.Content = []byte(out)
			}
		}
		if c.Content != nil || c.NewPath != c.Path {
			changes = append(changes, c)
		}
	}
	return changes, nil
}

func isText(data []byte) bool {
	head := data[:min(len(data), 8000)]
	return !bytes.Contains(head, []byte{0})
}

func listFiles(ctx context.Context, root string) ([]string, error) {
	// Untracked files too: a re-run before committing must see what the first run renamed.
	// (A run that changes anything refuses untracked files first, see clean.)
	files, err := git.Repo{Dir: root}.Files(ctx)
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

// Apply writes the changes: new content first, then renames, then removes directories the
// renames emptied.
func Apply(root string, changes []Change) error {
	for _, c := range changes {
		if c.Content == nil {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(c.Path))
		tmp := p + ".init-tmp"
		if err := os.WriteFile(tmp, c.Content, c.Mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	emptied := map[string]bool{}
	for _, c := range changes {
		if c.Path == c.NewPath {
			continue
		}
		from := filepath.Join(root, filepath.FromSlash(c.Path))
		to := filepath.Join(root, filepath.FromSlash(c.NewPath))
		if _, err := os.Lstat(to); err == nil {
			return fmt.Errorf("cannot rename %s to %s: the target exists", c.Path, c.NewPath)
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.Rename(from, to); err != nil {
			return err
		}
		for d := filepath.Dir(from); d != root && strings.HasPrefix(d, root); d = filepath.Dir(d) {
			emptied[d] = true
		}
	}
	// Deepest first, and only directories that are really empty now.
	dirs := make([]string, 0, len(emptied))
	for d := range emptied {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		if entries, err := os.ReadDir(d); err == nil && len(entries) == 0 {
			if err := os.Remove(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run renames the template at root to the identity to, printing what it does to out. It refuses
// a tree with uncommitted changes (so git can show and undo everything init does), and does
// nothing when the tree already has that identity.
func Run(ctx context.Context, root string, to Identity, out io.Writer) error {
	from, err := Current(root)
	if err != nil {
		return err
	}
	if from != to && from != Template {
		// Renaming again would replace the user's own name, which may be an ordinary word.
		return fmt.Errorf("this tree was already initialised as %s (name %s); init renames the template once: "+
			"to rename again, start from a fresh copy of the template or edit by hand", from.Module, from.Name)
	}
	changes, err := Plan(ctx, root, from, to)
	if err != nil {
		return err
	}
	stateFrom := filepath.Join(root, "."+from.Name)
	stateTo := filepath.Join(root, "."+to.Name)
	moveState := from.Name != to.Name && exists(stateFrom) && !exists(stateTo)
	if len(changes) == 0 && !moveState {
		fmt.Fprintf(out, "already %s (name %s, env prefix %s): nothing to change\n", to.Module, to.Name, to.EnvPrefix())
		return nil
	}
	if err := clean(ctx, root); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s (%s) -> %s (%s), env prefix %s -> %s\n",
		from.Module, from.Name, to.Module, to.Name, from.EnvPrefix(), to.EnvPrefix())
	if err := Apply(root, changes); err != nil {
		return fmt.Errorf("init stopped half way: %w\nsee what it did with `git status`, undo it with `git checkout -- . && git clean -fd`", err)
	}
	for _, c := range changes {
		fmt.Fprintln(out, "  "+c.String())
	}
	if moveState {
		// The local state (pinned tools, loopback registry, signing key) follows the new name,
		// or the rewritten .gitignore would show the old directory as untracked.
		if err := os.Rename(stateFrom, stateTo); err != nil {
			return err
		}
		fmt.Fprintf(out, "  moved local state .%s/ -> .%s/\n", from.Name, to.Name)
	}
	if err := (run.Cmd{Dir: root}).Run(ctx, "go", "mod", "tidy"); err != nil {
		return fmt.Errorf("files rewritten, but `go mod tidy` failed: %w\nfix the cause and run `go mod tidy`, or undo with `git checkout -- . && git clean -fd`", err)
	}
	fmt.Fprintln(out, "  ran go mod tidy")
	fmt.Fprintf(out, "%d files changed. Next: `go run mage.go build`, review with `git status`, then commit.\n", len(changes))
	return nil
}

// clean refuses a working tree with uncommitted or untracked changes.
func clean(ctx context.Context, root string) error {
	lines, err := git.Repo{Dir: root}.Changes(ctx)
	if err != nil {
		return fmt.Errorf("init needs a git checkout to rewrite safely: %w", err)
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("the working tree has %d uncommitted change(s) (first: %s): commit or stash them first, "+
		"so that `git diff` shows exactly what init changed and `git checkout -- .` can undo it", len(lines), strings.TrimSpace(lines[0]))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}
