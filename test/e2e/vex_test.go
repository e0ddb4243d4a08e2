//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/quality/vulndbtest"
	"github.com/slipway-dev/slipway/internal/pipeline/scan"
	"github.com/slipway-dev/slipway/internal/pipeline/vex"
)

// TestVEXDecidesTrivy runs the chain with the pinned tools: govulncheck's verdict on the test
// image's program, the OpenVEX document made of it, and Trivy over the fixture database
// (fixtureModule HIGH) reading the document. "Present but never called" suppresses the finding,
// in the source tree and in the image; "called" does not, and neither does a statement about
// another image.
//
//	GOVULNCHECK_BIN=... TRIVY_BIN=... CRANE_BIN=... REGISTRY_BIN=... go test -tags e2e -run TestVEXDecidesTrivy ./test/e2e
func TestVEXDecidesTrivy(t *testing.T) {
	ctx := context.Background()
	crane := toolstest.Path(t, "crane")
	trivy := toolstest.Path(t, "trivy")
	reg := startRegistry(t)
	clone := freshClone(t)
	cache := filepath.Join(t.TempDir(), "cache")
	common := []string{"--cache-dir", cache, "--skip-version-check", "--disable-telemetry"}
	if err := run.Run(ctx, trivy, append([]string{"fs", "--download-db-only", "--no-progress", "--db-repository", fixtureDB(t, crane, reg)}, common...)...); err != nil {
		t.Fatal(err)
	}
	image := scanTestImage(t, crane, reg)
	repo, digest, _ := strings.Cut(image, "@")

	data, err := os.ReadFile(filepath.Join(clone, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := modfile.ModulePath(data)

	// govulncheck over the test image's program, which calls semver.IsValid and nothing else of
	// fixtureModule, against a Go database naming the advisory GO-...; Trivy knows it by its
	// alias, the fixture's GHSA id.
	govulncheck := toolstest.Path(t, "govulncheck")
	verdict := func(symbol string) quality.VulnResult {
		db := vulndbtest.Write(t, vulndbtest.Advisory{ID: "GO-2099-9001", Module: fixtureModule,
			Package: fixtureModule + "/semver", Symbols: []string{symbol}, Aliases: []string{fixtureAdvisory}})
		r, err := quality.Vuln(ctx, clone, govulncheck, settings.Settings{Offline: true, VulnDB: db}, "./test/e2e/testdata/modapp")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	notCalled, called := verdict("Compare"), verdict("IsValid")
	if len(notCalled.Findings) != 0 || len(notCalled.Imported) != 1 || len(called.Findings) != 1 {
		t.Fatalf("govulncheck: Compare %+v, IsValid %+v: want the first imported but not called, the second called", notCalled, called)
	}

	document := func(t *testing.T, module string, r quality.VulnResult, images ...vex.Image) string {
		data, err := vex.Document(vex.Inputs{Module: module, Images: images, Govulncheck: r, Author: "e2e", Timestamp: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "vex.json")
		write(t, p, string(data))
		return p
	}
	// trivy exits 9 on a HIGH finding (as the gate fails on it), 1 on an error.
	scanWith := func(t *testing.T, doc string, target ...string) (failed bool, report trivyReport) {
		out := filepath.Join(t.TempDir(), "report.json")
		args := slices.Concat(target[:1], common, []string{"--skip-db-update", "--offline-scan", "--scanners", "vuln", "--severity", "HIGH",
			"--exit-code", "9", "--show-suppressed", "--format", "json", "--output", out, "--vex", doc}, target[1:])
		err := run.Cmd{Dir: clone}.Run(ctx, trivy, args...)
		var exit *exec.ExitError
		if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 9) {
			t.Fatal(err)
		}
		if err := json.Unmarshal(read(t, out), &report); err != nil {
			t.Fatal(err)
		}
		return err != nil, report
	}
	// The gate's source target covers every go.mod; this proof covers the service's module.
	// deploy/kubernetes is a module of its own that also requires fixtureModule, and the
	// service's VEX document does not speak for it (govulncheck did not look at it).
	source := []string{"fs", "--skip-dirs", "tools,deploy", "."}
	imageScan := []string{"image", "--image-src", "remote", image}

	// Subtest names become temporary paths: no commas, at which Trivy splits --vex.
	for _, c := range []struct {
		name   string
		doc    func(t *testing.T) string
		target []string
		fails  bool
	}{
		{"source: not called: suppressed", func(t *testing.T) string { return document(t, module, notCalled) }, source, false},
		{"source: called: still fails", func(t *testing.T) string { return document(t, module, called) }, source, true},
		// The test image's binary is built from the service's module, its main module in the
		// build info: the versionless module product matches whatever version Trivy reads there.
		{"image: by module: suppressed", func(t *testing.T) string { return document(t, module, notCalled) }, imageScan, false},
		// Another module, so only the image's digest can match.
		{"image: by digest: suppressed", func(t *testing.T) string {
			return document(t, "example.com/other", notCalled, vex.Image{Repository: repo, Digests: []string{digest}})
		}, imageScan, false},
		{"image: another digest: still fails", func(t *testing.T) string {
			return document(t, "example.com/other", notCalled, vex.Image{Repository: repo, Digests: []string{"sha256:" + strings.Repeat("0", 64)}})
		}, imageScan, true},
		{"image: called: still fails", func(t *testing.T) string {
			return document(t, module, called, vex.Image{Repository: repo, Digests: []string{digest}})
		}, imageScan, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			failed, report := scanWith(t, c.doc(t), c.target...)
			found, vexed := report.ids()
			t.Logf("found %v, suppressed by VEX %v", found, vexed)
			if failed != c.fails {
				t.Fatalf("trivy failed = %v, want %v (found %v, suppressed %v)", failed, c.fails, found, vexed)
			}
			if c.fails != slices.Contains(found, fixtureAdvisory) || c.fails == slices.Contains(vexed, fixtureAdvisory) {
				t.Fatalf("found %v, suppressed %v: want %s %s", found, vexed, fixtureAdvisory, map[bool]string{true: "found", false: "suppressed by VEX"}[c.fails])
			}
		})
	}
}

type trivyReport struct {
	Results []struct {
		Vulnerabilities []struct{ VulnerabilityID string }
		// Findings the VEX document suppressed (no ignore file is given), with --show-suppressed.
		ExperimentalModifiedFindings []struct {
			Status  string
			Finding struct{ VulnerabilityID string }
		}
	}
}

func (r trivyReport) ids() (found, vexed []string) {
	for _, res := range r.Results {
		for _, v := range res.Vulnerabilities {
			found = append(found, v.VulnerabilityID)
		}
		for _, m := range res.ExperimentalModifiedFindings {
			if m.Status == "not_affected" {
				vexed = append(vexed, m.Finding.VulnerabilityID)
			}
		}
	}
	return found, vexed
}

// TestScanGateReadsTheVEXDocument is the release's gate (scan.Run, as scanGate sets it up) with
// the release's VEX document: Trivy over a fixture database finds vexModule, which this checkout
// requires. Present but never called, govulncheck says, so the document says not_affected and
// the gate passes; called (purl.Go calls NewPackageURL), it says affected and the gate fails on
// Trivy's finding as well as on govulncheck's.
func TestScanGateReadsTheVEXDocument(t *testing.T) {
	ctx := context.Background()
	crane, trivy, govulncheck := toolstest.Path(t, "crane"), toolstest.Path(t, "trivy"), toolstest.Path(t, "govulncheck")
	reg := startRegistry(t)
	db := trivyDB(t, crane, reg+"/vexgate/trivy-db:2", vexModule, vexAdvisory)
	clone := freshClone(t)
	module := modfile.ModulePath(read(t, filepath.Join(clone, "go.mod")))

	gate := func(t *testing.T, symbol string) (scan.Verdict, error) {
		goDB := vulndbtest.Write(t, vulndbtest.Advisory{ID: "GO-2099-9002", Module: vexModule,
			Package: vexModule, Symbols: []string{symbol}, Aliases: []string{vexAdvisory}})
		r, err := quality.Vuln(ctx, clone, govulncheck, settings.Settings{Offline: true, VulnDB: goDB})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := vex.Document(vex.Inputs{Module: module, Govulncheck: r, Author: "e2e", Timestamp: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		o := scanOptions(t, trivy, clone, db)
		o.VEX = filepath.Join(t.TempDir(), "release.vex.json")
		write(t, o.VEX, string(doc))
		o.Govulncheck = scan.GovulncheckResult(r)
		return scan.Run(ctx, o)
	}
	// Subtest names become temporary paths: no commas, at which Trivy splits --vex.
	t.Run("present but never called: not_affected and the gate passes", func(t *testing.T) {
		v, err := gate(t, "QualifiersFromMap")
		if err != nil {
			t.Fatalf("the gate failed on an advisory the VEX document clears: %v", err)
		}
		if !v.TrivyVuln.Ran || !suppressed(v, vexAdvisory) {
			t.Fatalf("Trivy did not report %s as suppressed by the document: %+v", vexAdvisory, v.Targets)
		}
	})
	t.Run("called: affected and the gate fails on Trivy's finding", func(t *testing.T) {
		v, err := gate(t, "NewPackageURL")
		wantFailure(t, err, vexAdvisory, "govulncheck: FAIL")
		if !failing(v, "source", "vuln", vexAdvisory) {
			t.Fatalf("Trivy's source scan does not fail on %s: %+v", vexAdvisory, v.Targets)
		}
	})
}
