// Package tools installs the pinned tools the pipeline runs (linters, scanners, signers, ...).
//
// Each tool has its own module under tools/<name>/: the go.mod there pins the exact version
// (Dependabot updates it like any other module) and keeps the tool's dependencies out of the
// service's go.mod. A tool is built on first use into .slipway/tools/<name>/<key>/, where the
// key hashes the pin, so changing the pin installs the new version and nothing else.
// <NAME>_BIN (for example TRIVY_BIN, GOLANGCI_LINT_BIN) points at a preinstalled binary instead.
package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// Tool is one pinned tool.
type Tool struct {
	Name    string   // directory under tools/ and the binary name
	Package string   // the main package to build
	Env     []string // extra build environment, for tools that need it
	Why     string   // what the pipeline uses it for, shown by `mage setup`
}

// All lists every tool the pipeline runs; `mage setup` installs them all.
var All = []Tool{
	{Name: "golangci-lint", Package: "github.com/golangci/golangci-lint/v2/cmd/golangci-lint", Why: "lint"},
	{Name: "govulncheck", Package: "golang.org/x/vuln/cmd/govulncheck", Why: "vuln"},
	{Name: "crane", Package: "github.com/google/go-containerregistry/cmd/crane", Why: "offline stand-in images"},
	{Name: "registry", Package: "github.com/distribution/distribution/v3/cmd/registry", Why: "loopback registry"},
	{Name: "buildx", Package: "github.com/docker/buildx/cmd/buildx", Why: "docker builds (CLI plugin)"},
	{Name: "cosign", Package: "github.com/sigstore/cosign/v3/cmd/cosign", Why: "signing and verification"},
	{Name: "goreleaser", Package: "github.com/goreleaser/goreleaser/v2", Why: "release"},
	{Name: "kustomize", Package: "sigs.k8s.io/kustomize/kustomize/v5", Why: "deploy:render"},
	// Trivy v0.74 uses encoding/json/v2, which Go 1.26 ships behind an experiment.
	{Name: "trivy", Package: "github.com/aquasecurity/trivy/cmd/trivy", Env: []string{"GOEXPERIMENT=jsonv2"}, Why: "scan"},
}

// Names lists every pinned tool's name.
func Names() []string {
	names := make([]string, len(All))
	for i, t := range All {
		names[i] = t.Name
	}
	return names
}

// Report prints each tool's version and where it is installed (or MISSING).
func Report(root string, out io.Writer) error {
	for _, t := range All {
		v, err := t.Version(root)
		if err != nil {
			return err
		}
		p, ok, err := t.Installed(root)
		if err != nil {
			return err
		}
		if !ok {
			p = "MISSING"
		}
		fmt.Fprintf(out, "%-14s %-10s %s\n", t.Name, v, p)
	}
	return nil
}

// Lookup finds a tool by name.
func Lookup(name string) (Tool, error) {
	for _, t := range All {
		if t.Name == name {
			return t, nil
		}
	}
	return Tool{}, fmt.Errorf("no pinned tool %q: add tools/%s/go.mod and an entry to tools.All", name, name)
}

// EnvVar names the variable that overrides the tool's binary, e.g. GOLANGCI_LINT_BIN.
func (t Tool) EnvVar() string {
	return strings.ToUpper(strings.ReplaceAll(t.Name, "-", "_")) + "_BIN"
}

// Version reads the pinned version of the tool's module from tools/<name>/go.mod.
func (t Tool) Version(root string) (string, error) {
	gomod := filepath.Join(root, "tools", t.Name, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("tool %s is not pinned: %w", t.Name, err)
	}
	f, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return "", err
	}
	best := ""
	version := ""
	for _, r := range f.Require {
		p := r.Mod.Path
		if (t.Package == p || strings.HasPrefix(t.Package, p+"/")) && len(p) > len(best) {
			best, version = p, r.Mod.Version
		}
	}
	if version == "" {
		return "", fmt.Errorf("%s does not require the module of %s", gomod, t.Package)
	}
	return version, nil
}

// Installed says where the tool is, without installing it: the override, or the pinned build
// if it exists. ok is false when Path would have to build it.
func (t Tool) Installed(root string) (path string, ok bool, err error) {
	if p := settings.Current().ToolBins[t.EnvVar()]; p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", false, fmt.Errorf("%s=%s: %w", t.EnvVar(), p, err)
		}
		return p, true, nil
	}
	key, err := t.key(root)
	if err != nil {
		return "", false, err
	}
	p := filepath.Join(project(root), t.Name, key, t.Name+exe())
	_, err = os.Stat(p)
	return p, err == nil, nil
}

// Path returns the tool's binary, building the pinned version first if it is not installed
// (with progress on Progress).
func (t Tool) Path(ctx context.Context, root string) (string, error) {
	return t.install(ctx, root, Progress, "")
}

// Progress is where tool builds report what they do while they do it.
var Progress io.Writer = os.Stdout

// install builds the tool unless it is installed; of ("2 of 5") places it in a series.
func (t Tool) install(ctx context.Context, root string, out io.Writer, of string) (string, error) {
	p, ok, err := t.Installed(root)
	if err != nil || ok {
		return p, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	// Build next to the target and rename, so an interrupted build never looks installed. The
	// temporary name is unique: test packages running in parallel may install one tool at once.
	f, err := os.CreateTemp(filepath.Dir(p), t.Name+".*.tmp")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	// The log sits apart from the install directory, which holds only finished tools.
	logDir := filepath.Join(root, ".slipway", "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return "", err
	}
	logf, err := os.Create(filepath.Join(logDir, "tool-"+t.Name+".log"))
	if err != nil {
		return "", err
	}
	defer logf.Close()
	v, _ := t.Version(root)
	what := strings.TrimSpace(fmt.Sprintf("%s %s %s", t.Name, v, of))
	prog := newBuildProgress(out, what, logf.Name())
	defer prog.stop()
	env := append([]string{"CGO_ENABLED=0", "GOFLAGS=-mod=readonly"}, t.Env...)
	// -v names each package as it is compiled: the progress line counts them.
	err = run.Cmd{Dir: filepath.Join(root, "tools", t.Name), Env: env, Stdout: io.MultiWriter(logf, prog), Stderr: io.MultiWriter(logf, prog)}.
		Run(ctx, "go", "build", "-v", "-trimpath", "-ldflags=-s -w", "-o", tmp, t.Package)
	if err != nil {
		return "", fmt.Errorf("installing %s (full log: %s): %w", t.Name, logf.Name(), err)
	}
	prog.done()
	return p, os.Rename(tmp, p)
}

// Built is one tool Ensure had to build: a one-off cost, reported apart from the work itself.
type Built struct {
	Name, Version string
	Took          time.Duration
}

// Ensure installs those of the named tools that are missing, one after another, numbered
// ("building trivy v0.74.0 (3 of 4)"), and returns what it built. Nothing is printed when
// every tool is installed.
func Ensure(ctx context.Context, root string, out io.Writer, names ...string) ([]Built, error) {
	var missing []Tool
	for _, n := range names {
		t, err := Lookup(n)
		if err != nil {
			return nil, err
		}
		if _, ok, err := t.Installed(root); err != nil {
			return nil, err
		} else if !ok {
			missing = append(missing, t)
		}
	}
	var built []Built
	for i, t := range missing {
		start := time.Now()
		if _, err := t.install(ctx, root, out, fmt.Sprintf("(%d of %d)", i+1, len(missing))); err != nil {
			return built, err
		}
		v, _ := t.Version(root)
		built = append(built, Built{Name: t.Name, Version: v, Took: time.Since(start)})
	}
	return built, nil
}

// Path finds or installs the named tool.
func Path(ctx context.Context, root, name string) (string, error) {
	t, err := Lookup(name)
	if err != nil {
		return "", err
	}
	return t.Path(ctx, root)
}

// key changes whenever the pin, the extra build settings or the Go toolchain change.
func (t Tool) key(root string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(root, "tools", t.Name, f))
		if err != nil {
			return "", fmt.Errorf("tool %s is not pinned: %w", t.Name, err)
		}
		h.Write(data)
	}
	fmt.Fprintln(h, t.Package, t.Env, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func project(root string) string { return filepath.Join(root, ".slipway", "tools") }

func exe() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
