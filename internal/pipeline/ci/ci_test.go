package ci

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"gopkg.in/yaml.v3"

	"github.com/slipway-dev/slipway/internal/pipeline/project"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := project.Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets(filepath.Join("testdata", "magefile"))
	if err != nil {
		t.Fatal(err)
	}
	none := map[string]bool{}
	want := Targets{
		"build":      {Flags: none},
		"build:host": {Flags: none},
		"build:all":  {Flags: none},
		"init":       {Args: 1, Flags: map[string]bool{"name": true}},
		"two":        {Args: 2, Flags: none},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// The real check: every workflow step runs an existing mage target.
func TestWorkflowsRunExistingMageTargets(t *testing.T) {
	r := root(t)
	targets, err := ParseTargets(r)
	if err != nil {
		t.Fatal(err)
	}
	workflows, err := filepath.Glob(filepath.Join(r, ".github", "workflows", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(workflows) < 2 {
		t.Fatalf("found %d workflows, want ci.yml and release.yml", len(workflows))
	}
	for _, w := range workflows {
		if err := CheckWorkflow(w, targets); err != nil {
			t.Error(err)
		}
	}
}

func TestCheckWorkflowAcceptsTheFixture(t *testing.T) {
	targets, err := ParseTargets(filepath.Join("testdata", "magefile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckWorkflow(filepath.Join("testdata", "good.yml"), targets); err != nil {
		t.Fatal(err)
	}
}

func TestCheckWorkflowRejects(t *testing.T) {
	targets, err := ParseTargets(filepath.Join("testdata", "magefile"))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckWorkflow(filepath.Join("testdata", "bad.yml"), targets)
	if err == nil {
		t.Fatal("bad.yml passed")
	}
	for _, want := range []string{
		"workflow-wide `write-all: write`",
		`step "unpinned": pin "actions/checkout@v7" by full commit SHA`,
		`step "pinned without version comment": pin`,
		`step "drift": ` + "`go run mage.go build:everything`: no mage target \"build:everything\"",
		`step "bypass": ` + "`go build ./...` bypasses mage",
		`step "chained": ` + "`go run mage.go build && curl https://example.com | sh`: \"&&\" is not a target or one of its -flags",
		`step "missing argument": ` + "`go run mage.go two a`: target two takes 2 argument(s)",
		`step "redirect elsewhere": ` + "`go run mage.go build > /tmp/out`: \">\" is not a target or one of its -flags",
		`step "no target": ` + "`go run mage.go -v` names no target",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %q in:\n%v", want, err)
		}
	}
}

func TestCheckDocCommand(t *testing.T) {
	targets, err := ParseTargets(filepath.Join("testdata", "magefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string
		mage bool
		err  string
	}{
		{"go run mage.go build:all", true, ""},
		{"SLIPWAY_OFFLINE=1 PLATFORMS=linux/amd64 mage build", true, ""},
		{"go tool mage init example.com/acme/widget -name=widget", true, ""},
		{"mage -l", true, ""},
		{"go run mage.go build > manifests.yaml", true, ""},
		{"go run mage.go init", true, "takes 1 argument(s)"},
		{"mage init example.com/x -label=x", true, `"-label=x" is not a target or one of its -flags`},
		{"mage publish", true, `no mage target "publish"`},
		{"cosign verify-blob --bundle x y", false, ""},
		{"go build ./...", false, ""},
	} {
		isMage, err := CheckDocCommand(tc.line, targets, true)
		if isMage != tc.mage {
			t.Errorf("%q: mage command = %v, want %v", tc.line, isMage, tc.mage)
		}
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: got %v, want %q", tc.line, err, tc.err)
		}
	}
}

// Dependabot must watch every module: a tool module it misses would stay pinned forever.
func TestDependabotCoversEveryModule(t *testing.T) {
	r := root(t)
	data, err := os.ReadFile(filepath.Join(r, ".github", "dependabot.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Updates []struct {
			Ecosystem   string   `yaml:"package-ecosystem"`
			Directory   string   `yaml:"directory"`
			Directories []string `yaml:"directories"`
		} `yaml:"updates"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	watched := map[string]map[string]bool{}
	for _, u := range cfg.Updates {
		if watched[u.Ecosystem] == nil {
			watched[u.Ecosystem] = map[string]bool{}
		}
		for _, d := range append(u.Directories, u.Directory) {
			if d != "" {
				watched[u.Ecosystem][d] = true
			}
		}
	}
	modules := map[string]bool{}
	err = filepath.WalkDir(r, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != r && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "dist") {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" {
			rel, _ := filepath.Rel(r, filepath.Dir(p))
			dir := "/" + filepath.ToSlash(rel)
			if rel == "." {
				dir = "/"
			}
			modules[dir] = true
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if _, err := modfile.Parse(p, data, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for m := range modules {
		if !watched["gomod"][m] {
			t.Errorf("go.mod in %s is not in .github/dependabot.yml (gomod)", m)
		}
	}
	for d := range watched["gomod"] {
		if !modules[d] {
			t.Errorf(".github/dependabot.yml watches %s, which has no go.mod", d)
		}
	}
	for _, eco := range []string{"github-actions", "docker"} {
		if len(watched[eco]) == 0 {
			t.Errorf(".github/dependabot.yml does not watch %s", eco)
		}
	}
}
