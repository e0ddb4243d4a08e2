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

	"github.com/slipway-dev/slipway/internal/pipeline/quality"
	"github.com/slipway-dev/slipway/internal/pipeline/run"
	"github.com/slipway-dev/slipway/internal/pipeline/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/vex"
)

// TestVEXDecidesTrivy feeds the release's OpenVEX document to the pinned Trivy over the fixture
// database (fixtureModule HIGH): govulncheck's "present but never called" suppresses the finding,
// in the source tree and in an image; "called" does not, and neither does a statement about
// another image. govulncheck's own side (its JSON to quality.VulnResult, aliases included) is
// tested in internal/pipeline/quality; here its verdict is written down as it would report it.
//
//	TRIVY_BIN=... CRANE_BIN=... REGISTRY_BIN=... go test -tags e2e -run TestVEXDecidesTrivy ./test/e2e
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
	gomod, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(gomod.Require, func(r *modfile.Require) bool { return r.Mod.Path == fixtureModule })
	if i < 0 {
		t.Fatalf("go.mod no longer requires %s, the fixture database's module", fixtureModule)
	}
	module, version := gomod.Module.Mod.Path, gomod.Require[i].Mod.Version

	// govulncheck names the advisory GO-...; Trivy by its alias, the fixture's GHSA id.
	notCalled := quality.VulnResult{Ran: true,
		Imported: []quality.Finding{{ID: "GO-2099-9001", Module: fixtureModule, Version: version, Package: fixtureModule + "/semver"}},
		Aliases:  map[string][]string{"GO-2099-9001": {fixtureAdvisory}},
	}
	called := notCalled
	called.Imported = nil
	called.Findings = []quality.Finding{{ID: "GO-2099-9001", Module: fixtureModule, Version: version, Package: fixtureModule + "/semver",
		Symbol: fixtureModule + "/semver.IsValid", Caller: "test/e2e/testdata/modapp/main.go:14"}}

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
		// The test image's binary is built from the service's module: Trivy sees its main module
		// without a version, like the source's.
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
