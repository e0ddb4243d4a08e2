package ci

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"gopkg.in/yaml.v3"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
)

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
		"lint":       {Flags: none},
		"test":       {Flags: none},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// The real check: every workflow step runs an existing mage target.
func TestWorkflowsRunExistingMageTargets(t *testing.T) {
	r := projecttest.Root(t)
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
	r := projecttest.Root(t)
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

// A v* tag must not publish a commit that has not passed CI: release.yml's release job waits
// for lint, the tests and the end-to-end tests, run for the tagged commit.
func TestReleaseWaitsForLintTestAndE2E(t *testing.T) {
	r := projecttest.Root(t)
	targets, err := ParseTargets(r)
	if err != nil {
		t.Fatal(err)
	}
	gates, err := Gates(filepath.Join(r, ".github", "workflows", "release.yml"), "release", targets)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lint", "test", E2EGate} {
		if !slices.Contains(gates, want) {
			t.Errorf("release.yml's release job can run before %q passed (it waits for %v): add `needs:` on the CI jobs", want, gates)
		}
	}
}

func TestGates(t *testing.T) {
	targets, err := ParseTargets(filepath.Join("testdata", "magefile"))
	if err != nil {
		t.Fatal(err)
	}
	release := filepath.Join("testdata", "gated", ".github", "workflows", "release.yml")
	for job, want := range map[string]string{
		"gated":         "build:all,e2e,lint,test", // the called workflow's jobs, less the conditional one
		"chained":       "build,build:all,e2e,lint,test",
		"ungated":       "",
		"quickly":       "test", // E2E=0 in the workflow's env; lint may fail (continue-on-error)
		"conditionally": "",     // the job it needs may be skipped
	} {
		got, err := Gates(release, job, targets)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("job %s waits for %v, want %q", job, got, want)
		}
	}
	if _, err := Gates(release, "dangling", targets); err == nil || !strings.Contains(err.Error(), `needs "nosuchjob", which does not exist`) {
		t.Errorf("a job needing a missing job: %v", err)
	}
	if _, err := Gates(release, "nosuchjob", targets); err == nil {
		t.Error("Gates of a missing job passed")
	}
}

func TestCheckWorkflowChecksCalledWorkflows(t *testing.T) {
	targets, err := ParseTargets(filepath.Join("testdata", "magefile"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "gated", ".github", "workflows")
	for _, ok := range []string{"release.yml", "ci.yml"} {
		if err := CheckWorkflow(filepath.Join(dir, ok), targets); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	err = CheckWorkflow(filepath.Join(dir, "bad-calls.yml"), targets)
	if err == nil {
		t.Fatal("bad-calls.yml passed")
	}
	for _, want := range []string{
		"job missing: open testdata/gated/.github/workflows/missing.yml: no such file",
		"job not-callable: ./.github/workflows/push-only.yml has no `on: workflow_call`",
		`job outside: "./ci/shared.yml": a local reusable workflow lives in ./.github/workflows/`,
		`job unpinned: pin the reusable workflow "octo-org/shared/.github/workflows/ci.yml@main" by full commit SHA`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "job pinned") {
		t.Errorf("a pinned reusable workflow was refused:\n%v", err)
	}
}
