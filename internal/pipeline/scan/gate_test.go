package scan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
)

// acceptHigh is an ignore list accepting the HIGH advisory of testdata/trivy until expiry.
func acceptHigh(expiry string) string {
	return "vulnerabilities:\n  - id: GHSA-aaaa-bbbb-cccc\n" +
		"    statement: the vulnerable callback is never registered (govulncheck agrees)\n" +
		"    expired_at: " + expiry + "\n"
}

// TestGateVerdict is the gate's decision over canned Trivy reports (testdata/trivy), through
// the code Run uses (judge, CheckIgnoreList, Verdict.passes), without Trivy or Docker: HIGH and
// CRITICAL fail by default and MEDIUM does not, SCAN_SEVERITY moves the line, a finding
// accepted in the ignore list passes while its entry holds, and an expired entry fails.
func TestGateVerdict(t *testing.T) {
	for _, c := range []struct {
		name, severity, report, ignore string
		pass                           bool
		failing                        []string // the IDs that fail the gate
	}{
		{name: "HIGH fails by default", report: "high.json", failing: []string{"GHSA-aaaa-bbbb-cccc", "DS-0002"}},
		{name: "MEDIUM passes by default", report: "medium.json", pass: true},
		{name: "SCAN_SEVERITY=MEDIUM fails on MEDIUM", severity: "medium", report: "medium.json", failing: []string{"CVE-2099-0002"}},
		{name: "SCAN_SEVERITY=CRITICAL lets HIGH pass", severity: "CRITICAL", report: "high.json", pass: true},
		{name: "SCAN_SEVERITY=LOW,HIGH", severity: "LOW,HIGH", report: "high.json", failing: []string{"GHSA-aaaa-bbbb-cccc", "DS-0002", "DS-0026"}},
		{name: "accepted HIGH passes", report: "accepted.json", ignore: acceptHigh("2027-01-01"), pass: true},
		{name: "expired acceptance fails", report: "accepted.json", ignore: acceptHigh("2026-11-23")},
		{name: "acceptance without a statement fails", report: "accepted.json",
			ignore: "vulnerabilities:\n  - id: GHSA-aaaa-bbbb-cccc\n    expired_at: 2027-01-01\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SCAN_SEVERITY", c.severity)
			sev, err := ParseSeverities(os.Getenv("SCAN_SEVERITY"))
			if err != nil {
				t.Fatal(err)
			}
			_, problems, err := CheckIgnoreList(writeIgnore(t, c.ignore), today)
			if err != nil {
				t.Fatal(err)
			}
			tg, _, err := judge("source", filepath.Join("testdata", "trivy", c.report), sev)
			if err != nil {
				t.Fatal(err)
			}
			v := Verdict{Severities: sev, Targets: []Target{tg}, Problems: problems, Reports: "dist/scan"}
			v.Pass = v.passes()
			var ids []string
			for _, f := range tg.Failing {
				ids = append(ids, f.ID)
			}
			if v.Pass != c.pass || !slices.Equal(ids, c.failing) {
				t.Fatalf("pass %v, failing %v; want pass %v, failing %v (problems %v)", v.Pass, ids, c.pass, c.failing, problems)
			}
			if want := map[bool]string{true: "scan PASSED", false: "scan FAILED"}[c.pass]; !strings.HasPrefix(v.Line(), want) {
				t.Errorf("verdict line %q, want %q...", v.Line(), want)
			}
			// The error names each failing finding: module and advisory, file, line and rule.
			for _, f := range tg.Failing {
				if !strings.Contains(v.causes(), f.String()) {
					t.Errorf("causes %q do not name %s", v.causes(), f)
				}
			}
		})
	}
}

// What the ignore list or a VEX document hid is listed as suppressed, with its statement, never
// as failing; a check that passed is no finding at all.
func TestJudgeReadsSuppressedAndSkipsPassedChecks(t *testing.T) {
	tg, configs, err := judge("source", filepath.Join("testdata", "trivy", "accepted.json"), []string{"HIGH", "CRITICAL"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tg.Suppressed) != 2 || tg.Suppressed[0].ID != "GHSA-aaaa-bbbb-cccc" || !strings.Contains(tg.Suppressed[0].Title, "never registered") ||
		tg.Suppressed[1].ID != "GHSA-dddd-eeee-ffff" || tg.Suppressed[1].Title != "not_affected per dist/slipway_1.0.0.vex.json (vulnerable_code_not_in_execute_path)" {
		t.Errorf("suppressed: %+v", tg.Suppressed)
	}
	if len(configs) != 0 {
		t.Errorf("configs %v in a report without config results", configs)
	}
	tg, configs, err = judge("config", filepath.Join("testdata", "trivy", "medium.json"), Severities)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tg.Findings {
		if f.ID == "DS-0002" {
			t.Errorf("a passed check counts as a finding: %+v", f)
		}
	}
	if !slices.Equal(configs, []string{"Dockerfile"}) {
		t.Errorf("recognized configs %v, want [Dockerfile]", configs)
	}
	if _, _, err := judge("x", filepath.Join("testdata", "trivy", "missing.json"), Severities); err == nil {
		t.Error("a missing report was read without an error")
	}
}

// govulncheck's verdict counts beside Trivy's: vulnerable code called fails a clean scan, and
// a govulncheck that did not run (offline) does not fail it (RequireVulnScan covers releases).
func TestGateCountsGovulncheck(t *testing.T) {
	clean := Target{Name: "source"}
	for _, c := range []struct {
		g    Status
		pass bool
	}{
		{Status{Ran: true, Pass: true}, true},
		{Status{Ran: true, Summary: "FAIL: 1 vulnerable symbol(s) called"}, false},
		{Status{Summary: "NOT RUN (offline)"}, true},
	} {
		v := Verdict{Targets: []Target{clean}, Govulncheck: c.g, Severities: []string{"HIGH"}, Reports: "dist/scan"}
		if v.passes() != c.pass {
			t.Errorf("govulncheck %+v: pass %v, want %v", c.g, v.passes(), c.pass)
		}
		if !c.pass && !strings.Contains(v.causes(), c.g.Summary) {
			t.Errorf("causes %q do not name govulncheck's finding", v.causes())
		}
	}
}

// The gate's own config scan (the pinned Trivy, the project's checks) covers the never-built
// .github/base-images/Dockerfile: a copy of it with the stages left running as root fails on
// DS-0002, as an independent `trivy config` flags it, and the committed file passes.
func TestConfigScanCoversBaseImages(t *testing.T) {
	bin := toolstest.Installed(t, "trivy")
	root := projecttest.Root(t)
	const file = ".github/base-images/Dockerfile"
	if !slices.Contains(ConfigFiles, file) {
		t.Fatalf("%s is not in ConfigFiles: the gate would not notice Trivy skipping it", file)
	}
	committed, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	var asRoot []string
	for line := range strings.Lines(string(committed)) {
		if !strings.HasPrefix(line, "USER ") {
			asRoot = append(asRoot, line)
		}
	}
	checks, err := os.ReadFile(filepath.Join(root, ChecksDir, "run_as_non_root.rego"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, dockerfile string
		failing          []string
	}{
		{"as root", strings.Join(asRoot, ""), []string{"DS-0002"}},
		{"committed", string(committed), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			tree := t.TempDir()
			writeFile(t, filepath.Join(tree, file), c.dockerfile)
			writeFile(t, filepath.Join(tree, ChecksDir, "run_as_non_root.rego"), string(checks))
			tr := trivy{bin: bin, cache: t.TempDir(), root: tree}
			o := Options{Root: tree, OutDir: filepath.Join(tree, "dist", "scan")}
			var config target
			for _, tg := range tr.targets(o, false) {
				if tg.name == "config" {
					config = tg
				}
			}
			res, configs, err := tr.scan(context.Background(), config, t.TempDir(), []string{"HIGH", "CRITICAL"})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, f := range res.Failing {
				ids = append(ids, f.ID)
			}
			slices.Sort(ids)
			if !slices.Equal(slices.Compact(ids), c.failing) {
				t.Errorf("failing %v, want %v: %+v", ids, c.failing, res.Failing)
			}
			if p := coverage(tree, []string{file}, configs); len(p) > 0 {
				t.Errorf("the config scan did not read %s: %v", file, p)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
