package initproject

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct{ module, name, wantName, err string }{
		{"github.com/acme/widget", "", "widget", ""},
		{"github.com/acme/widget/v2", "", "widget", ""},
		{"example.com/svc", "gadget", "gadget", ""},
		{"github.com/acme/my-service", "", "", "-name=myservice"},
		{"github.com/acme/widget", "My_Widget", "", `invalid name "My_Widget"`},
		{"not a path", "", "", `invalid module path "not a path"`},
		{"github.com//widget", "", "", "double slash"},
	} {
		id, err := New(tc.module, tc.name)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("New(%q, %q): got %v, want an error containing %q", tc.module, tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || id.Name != tc.wantName || id.Module != tc.module {
			t.Errorf("New(%q, %q) = %+v, %v; want name %s", tc.module, tc.name, id, err, tc.wantName)
		}
	}
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := run.Cmd{Dir: dir}.Output(context.Background(), "git",
		append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func commitAll(t *testing.T, root string) {
	t.Helper()
	runGit(t, root, "add", "-A")
	runGit(t, root, "commit", "-q", "-m", "template")
}

// The identity the tests rename the template to.
var gizmo = Identity{Module: "github.com/Acme/gizmo", Name: "gizmo"}

func TestAttributionIsKept(t *testing.T) {
	if !strings.HasPrefix(attributionLine, Attribution) {
		t.Fatalf("the README footer %q lacks the marker %q: init would rewrite it", attributionLine, Attribution)
	}
}

// miniTemplate is a few files spelling the template's identity every way init knows.
func miniTemplate(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	tpl := Template
	owner, repo := tpl.ownerRepo()
	runGit(t, root, "init", "-q")
	write(t, root, "go.mod", "module "+tpl.Module+"\n\ngo 1.26\n")
	write(t, root, nameFile, "package project\n\nconst Name = \""+tpl.Name+"\"\n\nconst EnvPrefix = \""+tpl.EnvPrefix()+"\"\n")
	write(t, root, "cmd/"+tpl.Name+"/main.go", "// Command "+tpl.Name+" is "+tpl.title()+"'s service.\npackage main\n\n"+
		"import _ \""+tpl.Module+"/internal/pipeline/kit/project\"\n\nfunc main() {}\n")
	write(t, root, "tools/x/go.mod", "module "+tpl.Module+"/tools/x\n\ngo 1.26\n")
	write(t, root, "deploy.yaml", "image: ghcr.io/"+owner+"/"+repo+"\nenv: "+tpl.EnvPrefix()+"ADDR\nurl: https://github.com/"+owner+"\n")
	write(t, root, "README.md", "# "+tpl.title()+"\n")
	write(t, root, "LICENSE", "Copyright (c) The "+tpl.title()+" Authors\n")
	write(t, root, ".gitignore", "/."+tpl.Name+"/\n")
	write(t, root, "."+tpl.Name+"/tools/marker", "local state\n")
	commitAll(t, root)
	return root
}

func TestRunRenamesEverySpelling(t *testing.T) {
	root := miniTemplate(t)
	var out bytes.Buffer
	if err := Run(context.Background(), root, gizmo, &out); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{
		"go.mod":              "module github.com/Acme/gizmo\n",
		nameFile:              "const Name = \"gizmo\"\n\nconst EnvPrefix = \"GIZMO_\"",
		"cmd/gizmo/main.go":   "// Command gizmo is Gizmo's service.\npackage main\n\nimport _ \"github.com/Acme/gizmo/internal/pipeline/kit/project\"",
		"tools/x/go.mod":      "module github.com/Acme/gizmo/tools/x\n",
		"deploy.yaml":         "image: ghcr.io/acme/gizmo\nenv: GIZMO_ADDR\nurl: https://github.com/acme\n",
		"README.md":           "# Gizmo\n\n---\n" + attributionLine,
		".gitignore":          "/.gizmo/\n",
		".gizmo/tools/marker": "local state",
		"LICENSE":             "Copyright (c) The " + Template.title() + " Authors\n",
	} {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Error(err)
			continue
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s:\n%s\nwant it to contain:\n%s", rel, data, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", Template.Name)); !os.IsNotExist(err) {
		t.Errorf("cmd/%s still exists (%v)", Template.Name, err)
	}
	for _, want := range []string{
		"renamed and rewrote cmd/" + Template.Name + "/main.go -> cmd/gizmo/main.go",
		"moved local state ." + Template.Name + "/ -> .gizmo/",
		"ran go mod tidy",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	noTrace(t, root)

	// Re-running with the same arguments finds nothing to do and touches nothing,
	// even before the user commits.
	before := runGit(t, root, "status", "--porcelain")
	out.Reset()
	if err := Run(context.Background(), root, gizmo, &out); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if !strings.Contains(out.String(), "nothing to change") {
		t.Errorf("second run said %q, want it to say there is nothing to change", out.String())
	}
	if after := runGit(t, root, "status", "--porcelain"); after != before {
		t.Errorf("second run changed the tree:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// A different name is refused: the tree is no longer the template.
	err := Run(context.Background(), root, Identity{Module: "example.com/other", Name: "other"}, &out)
	if err == nil || !strings.Contains(err.Error(), "already initialised as github.com/Acme/gizmo") {
		t.Fatalf("renaming again: got %v, want a refusal", err)
	}
}

func TestRunRefusesADirtyTree(t *testing.T) {
	root := miniTemplate(t)
	write(t, root, "README.md", "# edited\n")
	err := Run(context.Background(), root, gizmo, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "uncommitted change") || !strings.Contains(err.Error(), "README.md") {
		t.Fatalf("got %v, want a refusal naming the uncommitted README.md", err)
	}
	data, _ := os.ReadFile(filepath.Join(root, "go.mod"))
	if !strings.Contains(string(data), Template.Module) {
		t.Fatal("a refused init changed go.mod")
	}
	readme, _ := os.ReadFile(filepath.Join(root, "README.md"))
	if string(readme) != "# edited\n" {
		t.Fatalf("a refused init touched the user's edit: %q", readme)
	}
}

func TestRunNeedsGit(t *testing.T) {
	root := t.TempDir()
	write(t, root, "go.mod", "module "+Template.Module+"\n")
	write(t, root, nameFile, "package project\n\nconst Name = \""+Template.Name+"\"\n")
	err := Run(context.Background(), root, gizmo, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "git") {
		t.Fatalf("got %v, want an error saying init needs git", err)
	}
}

// noTrace fails for every line or path of the tree that still names the template, attribution aside.
func noTrace(t *testing.T, root string) {
	t.Helper()
	files, err := run.Cmd{Dir: root}.Output(context.Background(), "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, f := range strings.Split(files, "\x00") {
		if f == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil || kept[f] || !isText(data) {
			continue // renamed away by init and not yet committed, attribution, or binary
		}
		if strings.Contains(strings.ToLower(f), Template.Name) {
			t.Errorf("path %s still says %s", f, Template.Name)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.Contains(strings.ToLower(line), Template.Name) && !strings.Contains(line, Attribution) {
				if found++; found <= 20 {
					t.Errorf("%s:%d still says %s: %.120s", f, n, Template.Name, strings.TrimSpace(line))
				}
			}
		}
	}
}
