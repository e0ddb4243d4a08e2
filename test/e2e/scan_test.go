//go:build e2e

package e2e

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/scan"
)

// The fixture database's one advisory: the module the test image (test/e2e/testdata/modapp)
// and the service's go.mod contain, marked HIGH. The ID is made up; no real advisory has it.
const (
	fixtureModule   = "golang.org/x/mod"
	fixtureAdvisory = "GHSA-slwy-fixt-0001"
)

// TestScanGate runs the real gate (pinned Trivy, a loopback registry, no Docker) over copies of
// the checkout and shows each of its checks failing on a real finding.
func TestScanGate(t *testing.T) {
	ctx := context.Background()
	crane := toolstest.Path(t, "crane")
	trivy := toolstest.Path(t, "trivy")
	reg := startRegistry(t)
	image := scanTestImage(t, crane, reg)
	noDB := reg + "/empty/trivy-db:2"

	t.Run("the clean tree passes; offline without a database the vulnerability scan is NOT RUN", func(t *testing.T) {
		clone := freshClone(t)
		o := scanOptions(t, trivy, clone, noDB, image)
		// govulncheck's verdict sits beside Trivy's; offline without a Go database it is NOT RUN.
		o.Govulncheck = scan.GovulncheckIn(clone, settings.Settings{Offline: true})
		v, err := scan.Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Pass || v.TrivyVuln.Ran || v.Govulncheck.Ran || v.VulnScanned() || !strings.Contains(v.TrivyVuln.Summary, "NOT RUN") {
			t.Fatalf("verdict %+v", v)
		}
		if got := names(v.Targets); !slices.Equal(got, []string{"source", "config", "image " + image}) {
			t.Fatalf("targets %v", got)
		}
		// NOT RUN is in the terminal line and in every report a reader or code scanning sees.
		for _, want := range []string{"trivy vulnerabilities: NOT RUN", "govulncheck: NOT RUN"} {
			if !strings.Contains(v.Line(), want) {
				t.Errorf("verdict line lacks %q: %s", want, v.Line())
			}
		}
		notRun := []string{"verdict.json", "summary.txt"}
		for _, tg := range v.Targets {
			for _, r := range tg.Reports {
				read(t, filepath.Join(o.OutDir, r))
				if tg.Name != "config" && strings.HasSuffix(r, ".sarif") {
					notRun = append(notRun, r)
				}
			}
		}
		for _, f := range notRun {
			if data := read(t, filepath.Join(o.OutDir, f)); !strings.Contains(string(data), "NOT RUN") {
				t.Errorf("%s does not say the vulnerability scan did not run", f)
			}
		}
	})

	t.Run("online, an unreachable database is an error", func(t *testing.T) {
		o := scanOptions(t, trivy, freshClone(t), noDB)
		o.Offline = false
		write(t, filepath.Join(o.OutDir, "verdict.json"), `{"Pass": true}`) // the last run's
		_, err := scan.Run(ctx, o)
		if err == nil || errors.Is(err, scan.ErrFailed) || !strings.Contains(err.Error(), scan.DBEnv) || !strings.Contains(err.Error(), noDB) {
			t.Fatalf("err = %v, want an error naming %s and %s", err, noDB, scan.DBEnv)
		}
		if _, err := os.Stat(o.OutDir); err == nil {
			t.Fatal("a gate that could not run left reports behind (the last run's, which look like this run's)")
		}
	})

	t.Run("a planted GitHub token fails the secret scan", func(t *testing.T) {
		clone := freshClone(t)
		// Built at run time: the token must never sit in the repository, or the repository's
		// own scan would fail.
		token := "ghp" + "_" + strings.Repeat("x7Kq2", 7) + "Z"
		write(t, filepath.Join(clone, "internal", "leak", "leak.go"), "package leak\n\nconst token = \""+token+"\"\n")
		v, err := scan.Run(ctx, scanOptions(t, trivy, clone, noDB))
		wantFailure(t, err, "github-pat", "internal/leak/leak.go:3")
		if !failing(v, "source", "secret", "github-pat") {
			t.Fatalf("source target did not fail on the token: %+v", v.Targets)
		}
	})

	t.Run("a root Dockerfile and a manifest without runAsNonRoot fail the config scan", func(t *testing.T) {
		clone := freshClone(t)
		write(t, filepath.Join(clone, "Dockerfile"), "FROM scratch\nCOPY slipway /slipway\nENTRYPOINT [\"/slipway\"]\n")
		manifest := filepath.Join(clone, "deploy", "kubernetes", "base", "deployment.yaml")
		var kept []string
		for _, line := range strings.Split(string(read(t, manifest)), "\n") {
			if !strings.Contains(line, "runAsNonRoot") {
				kept = append(kept, line)
			}
		}
		write(t, manifest, strings.Join(kept, "\n"))
		v, err := scan.Run(ctx, scanOptions(t, trivy, clone, noDB))
		wantFailure(t, err, "DS-0002", "SLW-0001", "deploy/kubernetes/base/deployment.yaml")
		if !failing(v, "config", "misconfig", "DS-0002") || !failing(v, "config", "misconfig", "SLW-0001") {
			t.Fatalf("config target: %+v", v.Targets)
		}
	})

	t.Run("fixture database: vulnerable module fails; ignored passes; expired fails again", func(t *testing.T) {
		db := fixtureDB(t, crane, reg)
		clone := freshClone(t)
		o := scanOptions(t, trivy, clone, db, image)

		v, err := scan.Run(ctx, o)
		wantFailure(t, err, fixtureModule, fixtureAdvisory)
		if !v.TrivyVuln.Ran || !failing(v, "source", "vuln", fixtureAdvisory) || !failing(v, "image "+image, "vuln", fixtureAdvisory) {
			t.Fatalf("verdict %+v", v)
		}

		entry := func(expiry time.Time) string {
			return fmt.Sprintf("vulnerabilities:\n  - id: %s\n    statement: e2e fixture, not a real advisory\n    expired_at: %s\n",
				fixtureAdvisory, expiry.Format(time.DateOnly))
		}
		write(t, filepath.Join(clone, scan.IgnoreFile), entry(time.Now().AddDate(0, 1, 0)))
		v, err = scan.Run(ctx, o)
		if err != nil {
			t.Fatalf("with the advisory ignored until next month: %v", err)
		}
		if !suppressed(v, fixtureAdvisory) {
			t.Fatalf("the ignored advisory is not reported as ignored: %+v", v.Targets)
		}

		write(t, filepath.Join(clone, scan.IgnoreFile), entry(time.Now().AddDate(0, 0, -1)))
		_, err = scan.Run(ctx, o)
		wantFailure(t, err, scan.IgnoreFile+" vulnerabilities[0] "+fixtureAdvisory+": expired on", fixtureModule)
	})
}

// startRegistry runs a registry of the test's own on a free loopback port, shared with the
// checkouts the test runs mage in (SLIPWAY_REGISTRY_OWNER).
func startRegistry(t testing.TB) string {
	t.Helper()
	r, err := registry.Start(context.Background(), toolstest.Path(t, "registry"), t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	})
	// The clones' mage runs (which inherit the environment) use it on purpose.
	t.Setenv(registry.OwnerEnv, r.Owner)
	return r.Addr
}

// BenchmarkScanGate times each target of the gate on this checkout, warm (Trivy's cache kept
// between iterations), with every scanner running: the fixture database makes the
// vulnerability scanner run (and the gate fail, which is not what is measured here).
//
//	go test -tags e2e -run '^$' -bench ScanGate -benchtime 5x ./test/e2e
func BenchmarkScanGate(b *testing.B) {
	ctx := context.Background()
	root := projecttest.Root(b)
	crane := toolstest.Path(b, "crane")
	reg := startRegistry(b)
	sev, err := scan.ParseSeverities("")
	if err != nil {
		b.Fatal(err)
	}
	tmp := b.TempDir()
	o := scan.Options{
		Root: root, Trivy: toolstest.Path(b, "trivy"), CacheDir: filepath.Join(tmp, "cache"), OutDir: filepath.Join(tmp, "scan"),
		Severities: sev, Offline: true, DBRepository: fixtureDB(b, crane, reg), ConfigFiles: scan.ConfigFiles,
		Images: []string{scanTestImage(b, crane, reg)},
	}
	if _, err := scan.Run(ctx, o); !errors.Is(err, scan.ErrFailed) { // warms the cache
		b.Fatalf("warm-up: %v", err)
	}
	total := map[string]time.Duration{}
	b.ResetTimer()
	for range b.N {
		v, err := scan.Run(ctx, o)
		if !errors.Is(err, scan.ErrFailed) {
			b.Fatal(err)
		}
		for _, t := range v.Targets {
			total[strings.Fields(t.Name)[0]] += t.Duration
		}
	}
	for name, d := range total {
		b.ReportMetric(d.Seconds()/float64(b.N), "s/"+name)
	}
}

// scanOptions are the gate's defaults for dir, offline, with Trivy's cache and the reports in
// temporary directories (a fixture database must never reach the project's cache).
func scanOptions(t *testing.T, trivy, dir, db string, images ...string) scan.Options {
	t.Helper()
	sev, err := scan.ParseSeverities("")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	return scan.Options{
		Root:         dir,
		Trivy:        trivy,
		CacheDir:     filepath.Join(tmp, "cache"),
		OutDir:       filepath.Join(tmp, "dist", "scan"),
		Severities:   sev,
		Offline:      true,
		DBRepository: db,
		ConfigFiles:  scan.ConfigFiles,
		Images:       images,
		Out:          testWriter{t},
	}
}

// fixtureDB builds a Trivy database marking fixtureModule HIGH, pushes it to the registry and
// returns the repository for --db-repository.
func fixtureDB(t testing.TB, crane, reg string) string {
	t.Helper()
	return trivyDB(t, crane, reg+"/aquasecurity/trivy-db:2", fixtureModule, fixtureAdvisory)
}

// trivyDB builds a Trivy database with one HIGH advisory against every version of module below
// 99.0.0, with trivy-db's own code (tools/trivydb-fixture), and pushes it to repo as the OCI
// artifact Trivy downloads.
func trivyDB(t testing.TB, crane, repo, module, advisory string) string {
	t.Helper()
	root := projecttest.Root(t)
	layout := filepath.Join(t.TempDir(), "trivy-db")
	ctx := context.Background()
	err := run.Cmd{Dir: filepath.Join(root, "tools", "trivydb-fixture"), Env: []string{"GOFLAGS=-mod=readonly"}}.Run(ctx,
		"go", "run", ".", "-out", layout, "-module", module, "-vulnerable", "< 99.0.0", "-id", advisory, "-severity", "HIGH")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Run(ctx, crane, "push", layout, repo); err != nil {
		t.Fatal(err)
	}
	return repo
}

// scanTestImage pushes an image holding test/e2e/testdata/modapp (which links fixtureModule),
// running as a non-root user, and returns it by digest. crane builds it: no Docker needed.
func scanTestImage(t testing.TB, crane, reg string) string {
	t.Helper()
	root := projecttest.Root(t)
	ctx := context.Background()
	dir := t.TempDir()
	bin := filepath.Join(dir, "modapp")
	err := run.Cmd{Dir: root, Env: []string{"CGO_ENABLED=0"}}.Run(ctx, "go", "build", "-trimpath", "-o", bin, "./test/e2e/testdata/modapp")
	if err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, "layer.tar")
	tarFile(t, layer, bin, "modapp")
	base := reg + "/scan-test/modapp:base"
	if err := run.Run(ctx, crane, "append", "-f", layer, "-t", base); err != nil {
		t.Fatal(err)
	}
	ref, err := run.Output(ctx, crane, "mutate", "--user", "65532:65532", "--entrypoint", "/modapp", "-t", reg+"/scan-test/modapp:1", base)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func tarFile(t testing.TB, dst, src, name string) {
	t.Helper()
	data := read(t, src)
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantFailure checks the gate ran and failed, with an error naming each of want.
func wantFailure(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, scan.ErrFailed) {
		t.Fatalf("err = %v, want the gate to fail", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the failure does not name %q:\n%v", w, err)
		}
	}
}

func failing(v scan.Verdict, target, scanner, id string) bool {
	for _, tg := range v.Targets {
		if tg.Name == target && slices.ContainsFunc(tg.Failing, func(f scan.Finding) bool { return f.Scanner == scanner && f.ID == id }) {
			return true
		}
	}
	return false
}

func suppressed(v scan.Verdict, id string) bool {
	for _, tg := range v.Targets {
		if slices.ContainsFunc(tg.Suppressed, func(f scan.Finding) bool { return f.ID == id }) {
			return true
		}
	}
	return false
}

func names(ts []scan.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func read(t testing.TB, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testWriter shows the gate's tables in the test log (go test -v).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
