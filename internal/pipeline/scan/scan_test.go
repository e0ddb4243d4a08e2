package scan

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

func writeIgnore(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), IgnoreFile)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var today = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestIgnoreListAcceptsCompleteEntries(t *testing.T) {
	p := writeIgnore(t, `
vulnerabilities:
  - id: GHSA-aaaa-bbbb-cccc
    statement: only reachable from the test helpers
    expired_at: 2027-01-01
secrets:
  - id: github-pat
    paths: ["testdata/**"]
    statement: a revoked token kept as a fixture
    expired_at: 2026-11-24
`)
	entries, problems, err := CheckIgnoreList(p, today)
	if err != nil || len(problems) != 0 {
		t.Fatalf("problems %v, err %v", problems, err)
	}
	if len(entries) != 2 || entries[0].ID != "GHSA-aaaa-bbbb-cccc" || entries[1].Kind != "secrets" {
		t.Fatalf("entries: %+v", entries)
	}
}

func TestIgnoreListFailsIncompleteAndExpiredEntries(t *testing.T) {
	p := writeIgnore(t, `
vulnerabilities:
  - id: GHSA-aaaa-bbbb-cccc
    expired_at: 2027-01-01
  - id: CVE-2026-0001
    statement: fixed upstream, waiting for the release
    expired_at: 2026-11-23
misconfigurations:
  - statement: no id
    expired_at: 2027-01-01
licenses:
  - id: GPL-3.0
    statement: no expiry
`)
	_, problems, err := CheckIgnoreList(p, today)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"vulnerabilities[0] GHSA-aaaa-bbbb-cccc: missing statement",
		"vulnerabilities[1] CVE-2026-0001: expired on 2026-11-23",
		"misconfigurations[0]: missing id",
		"licenses[0] GPL-3.0: missing expired_at",
	}
	if len(problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(problems), len(want), strings.Join(problems, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(problems[i], w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, problems[i], w)
		}
	}
}

func TestIgnoreListRejectsUnknownFields(t *testing.T) {
	// A misspelt expiry must not leave an entry that never expires.
	p := writeIgnore(t, "vulnerabilities:\n  - id: X\n    statement: s\n    expires_at: 2027-01-01\n")
	if _, _, err := CheckIgnoreList(p, today); err == nil || !strings.Contains(err.Error(), "expires_at") {
		t.Fatalf("err = %v, want one naming expires_at", err)
	}
}

func TestIgnoreListMissingIsEmpty(t *testing.T) {
	entries, problems, err := CheckIgnoreList(filepath.Join(t.TempDir(), IgnoreFile), today)
	if err != nil || entries != nil || problems != nil {
		t.Fatalf("%v %v %v", entries, problems, err)
	}
}

// The committed ignore list must pass its own rules today, or every scan fails.
func TestCommittedIgnoreListIsValid(t *testing.T) {
	root := projecttest.Root(t)
	_, problems, err := CheckIgnoreList(filepath.Join(root, IgnoreFile), time.Now())
	if err != nil || len(problems) > 0 {
		t.Fatalf("%s: %v %v", IgnoreFile, problems, err)
	}
}

func TestParseSeverities(t *testing.T) {
	for in, want := range map[string][]string{
		"":                      {"HIGH", "CRITICAL"},
		"critical":              {"CRITICAL"},
		" medium, HIGH ,high,,": {"MEDIUM", "HIGH"},
	} {
		got, err := ParseSeverities(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseSeverities(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"HIGHEST", ",", "HIGH,severe"} {
		if _, err := ParseSeverities(bad); err == nil || !strings.Contains(err.Error(), "SCAN_SEVERITY") {
			t.Errorf("ParseSeverities(%q) err = %v, want an error naming SCAN_SEVERITY", bad, err)
		}
	}
}

func TestImageSourceNeverFallsThroughToARemoteRegistry(t *testing.T) {
	tarball := filepath.Join(t.TempDir(), "img.tar")
	if err := os.WriteFile(tarball, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for img, want := range map[string][]string{
		tarball:                             {"--input", tarball},
		"127.0.0.1:5000/slipway@sha256:abc": {"--image-src", "remote", "127.0.0.1:5000/slipway@sha256:abc"},
		"localhost:5000/slipway:dev":        {"--image-src", "remote", "localhost:5000/slipway:dev"},
		"[::1]:5000/slipway:dev":            {"--image-src", "remote", "[::1]:5000/slipway:dev"},
		"slipway:dev":                       {"--image-src", "docker", "slipway:dev"},
		"ghcr.io/acme/slipway:v1":           {"--image-src", "docker", "ghcr.io/acme/slipway:v1"},
	} {
		if got := imageSource(img); !slices.Equal(got, want) {
			t.Errorf("imageSource(%q) = %q, want %q", img, got, want)
		}
	}
}

func TestCoverageNamesUnrecognizedConfig(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"Dockerfile", "Dockerfile.distroless", ".github/base-images/Dockerfile", "deploy/kubernetes/base/deployment.yaml"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expected := append(slices.Clone(ConfigFiles), "deploy/missing")
	got := coverage(root, expected, []string{"Dockerfile", ".github/base-images/Dockerfile", "deploy/kubernetes/base/deployment.yaml"})
	if len(got) != 2 || !strings.Contains(got[0], "Dockerfile.distroless") || !strings.Contains(got[1], "deploy/missing is missing") {
		t.Fatalf("coverage problems: %q", got)
	}
}

// The fixture database is written by trivy-db's code; it must be the trivy-db the pinned Trivy
// reads, or the fixture could pass a schema the real scanner rejects.
func TestFixtureDBMatchesPinnedTrivy(t *testing.T) {
	root := projecttest.Root(t)
	version := func(dir string) string {
		p := filepath.Join(root, "tools", dir, "go.mod")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := modfile.Parse(p, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range f.Require {
			if r.Mod.Path == "github.com/aquasecurity/trivy-db" {
				return r.Mod.Version
			}
		}
		t.Fatalf("%s does not require trivy-db", p)
		return ""
	}
	if fixture, pinned := version("trivydb-fixture"), version("trivy"); fixture != pinned {
		t.Fatalf("tools/trivydb-fixture uses trivy-db %s, tools/trivy pins %s: run `go get github.com/aquasecurity/trivy-db@%s && go mod tidy` in tools/trivydb-fixture",
			fixture, pinned, pinned)
	}
}

// The VEX document goes to every run that scans for vulnerabilities, by a path from the root
// (Trivy splits --vex at commas, which a checkout's path may hold), and to no other run; without
// a database there is nothing for it to decide.
func TestVEXGoesToTheVulnerabilityScans(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a,b")
	o := Options{Root: root, OutDir: filepath.Join(root, "dist", "scan"), VEX: filepath.Join(root, "dist", "slipway_1.0.0.vex.json"),
		Images: []string{"127.0.0.1:5000/slipway@sha256:abc"}}
	tr := trivy{root: root}
	for _, tg := range tr.targets(o, true) {
		i := slices.Index(tg.args, "--vex")
		switch {
		case tg.vuln && (i < 0 || tg.args[i+1] != filepath.Join("dist", "slipway_1.0.0.vex.json")):
			t.Errorf("%s: args %q, want --vex dist/slipway_1.0.0.vex.json", tg.name, tg.args)
		case !tg.vuln && i >= 0:
			t.Errorf("%s scans no vulnerabilities but reads the VEX document: %q", tg.name, tg.args)
		}
	}
	for _, tg := range tr.targets(o, false) {
		if slices.Contains(tg.args, "--vex") {
			t.Errorf("%s: --vex without a vulnerability database: %q", tg.name, tg.args)
		}
	}
}

func TestReportNames(t *testing.T) {
	for in, want := range map[string]string{
		"slipway:dev": "slipway_dev",
		"127.0.0.1:5000/slipway@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": "slipway-0123456789ab",
		"/tmp/build/slipway-linux-amd64.tar": "slipway-linux-amd64.tar",
	} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
	// Code-scanning categories must not change between releases, or old alerts never close.
	for in, want := range map[string]string{
		"slipway:dev":                       "slipway",
		"127.0.0.1:5000/slipway@sha256:abc": "127.0.0.1:5000/slipway",
		"127.0.0.1:5000/slipway:v1.2.3":     "127.0.0.1:5000/slipway",
		"/tmp/build/slipway.tar":            "/tmp/build/slipway.tar",
	} {
		if got := repository(in); got != want {
			t.Errorf("repository(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequireVulnScanNamesWhatDidNotRun(t *testing.T) {
	ran := Status{Ran: true, Pass: true, Summary: "scanned"}
	if err := (Verdict{TrivyVuln: ran, Govulncheck: ran}).RequireVulnScan(); err != nil {
		t.Fatal(err)
	}
	notRun := Status{Summary: "NOT RUN (offline)"}
	for _, v := range []Verdict{{TrivyVuln: notRun, Govulncheck: ran}, {TrivyVuln: ran, Govulncheck: notRun}} {
		err := v.RequireVulnScan()
		if err == nil || !strings.Contains(err.Error(), "NOT RUN (offline)") || v.VulnScanned() {
			t.Errorf("%+v: err = %v", v, err)
		}
	}
}

func TestDBRepositoryFollowsTheImageMirror(t *testing.T) {
	t.Setenv("SLIPWAY_OFFLINE", "")
	for _, c := range []struct{ db, mirror, want string }{
		{"", "", ""}, // Trivy's own default registries
		{"", "mirror.example.com/upstream/", "mirror.example.com/upstream/aquasecurity/trivy-db:2"},
		{"db.example.com/trivy-db:2", "mirror.example.com/upstream", "db.example.com/trivy-db:2"},
	} {
		t.Setenv(DBEnv, c.db)
		t.Setenv("SLIPWAY_IMAGE_MIRROR", c.mirror)
		got, err := dbRepository(context.Background(), t.TempDir(), settings.Current())
		if err != nil || got != c.want {
			t.Errorf("%s=%q SLIPWAY_IMAGE_MIRROR=%q: %q, %v; want %q", DBEnv, c.db, c.mirror, got, err, c.want)
		}
	}
}

func TestGateStages(t *testing.T) {
	root := t.TempDir()
	o := Options{Root: root, OutDir: filepath.Join(root, "dist", "scan"), Images: []string{"slipway:dev", "127.0.0.1:5000/slipway@sha256:ab"}}
	names := func(o Options) (names []string, skipped map[string]string) {
		skipped = map[string]string{}
		for _, s := range newGate(o).stages() {
			names = append(names, s.Name)
			if s.Skip != nil {
				if why, skip := s.Skip(nil); skip {
					skipped[s.Name] = why
				}
			}
		}
		return names, skipped
	}
	want := []string{"ignore list", "vulnerability database", "source", "config",
		"image slipway:dev", "image 127.0.0.1:5000/slipway@sha256:ab", "govulncheck", "verdict"}

	got, skipped := names(o)
	if !slices.Equal(got, want) {
		t.Errorf("stages without govulncheck:\n got %q\nwant %q", got, want)
	}
	if skipped["govulncheck"] != notPartOfRun || len(skipped) != 1 {
		t.Errorf("skipped = %q, want only govulncheck (%s)", skipped, notPartOfRun)
	}

	o.Govulncheck = func(context.Context, io.Writer) (Status, error) { return Status{}, nil }
	got, skipped = names(o)
	if !slices.Equal(got, want) {
		t.Errorf("stages with govulncheck:\n got %q\nwant %q", got, want)
	}
	if len(skipped) != 0 {
		t.Errorf("skipped = %q, want none", skipped)
	}

	o.Images = nil
	if got, _ := names(o); !slices.Equal(got, slices.Concat(want[:4], want[6:])) {
		t.Errorf("stages without images: %q", got)
	}
}
