package release

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
)

// faked is the flow's stages with every step replaced by fake, keeping their names and skip
// decisions.
func faked(stages []stage.Stage, fake func(name string) error) []stage.Stage {
	out := append([]stage.Stage(nil), stages...)
	for i := range out {
		name := out[i].Name
		out[i].Run = func(context.Context, *stage.Context) (string, error) { return "", fake(name) }
	}
	return out
}

func stageNames(stages []stage.Stage) string {
	var ns []string
	for _, s := range stages {
		ns = append(ns, s.Name)
	}
	return strings.Join(ns, ", ")
}

func testFlow(t *testing.T, o Options) *flow {
	t.Helper()
	t.Setenv("SLIPWAY_DIST", "")
	if o.Root == "" {
		o.Root = t.TempDir()
	}
	if o.Out == nil {
		o.Out = &bytes.Buffer{}
	}
	return newFlow(o)
}

func TestTheStagesOfEachKindOfRelease(t *testing.T) {
	head := "preflight, tools, prepare"
	build := "goreleaser, image signatures, image SBOMs, run proof, provenance, govulncheck, VEX, scan"
	for _, tc := range []struct {
		name   string
		o      Options
		stages func(*flow) []stage.Stage
		want   string
	}{
		{"head", Options{}, (*flow).head, head},
		{"local", Options{}, (*flow).local, "signing key, image registry and base, " + build + ", contents, verify"},
		{"local offline", Options{Settings: settings.Settings{Offline: true}}, (*flow).local, "signing key, offline stand-in base, image registry and base, " + build + ", contents, verify"},
		{"local SKIP=sign,sbom", Options{Skip: Skips{"sign", "sbom"}}, (*flow).local,
			"signing key, image registry and base, signatures, SBOMs, " + build + ", contents, verify"},
		{"publishing", Options{}, func(f *flow) []stage.Stage { f.pub = &publishing{}; return f.publishStages() },
			"publishing checks, image registry and base, signatures, " +
				"goreleaser, image SBOMs, run proof, provenance, govulncheck, VEX, scan, " +
				"checksums signature, image signatures, image SBOM attestations, provenance signatures, VEX attestations, contents, verify, " +
				"copy images, verify copied images, GitHub release: draft, image tags, contents (published), verify (published), GitHub release: public"},
		{"snapshot", Options{}, (*flow).snapshotStages, "prepare, goreleaser, images and signatures, contents, verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stageNames(tc.stages(testFlow(t, tc.o))); got != tc.want {
				t.Fatalf("stages:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// SKIP=name leaves out exactly the stages that name stands for, each saying why; the rest run.
func TestSkipSkipsExactlyItsStages(t *testing.T) {
	for skip, want := range map[string]string{
		"scan":   "govulncheck, VEX, scan",
		"images": "image registry and base, image signatures, image SBOMs",
		"sign":   "signing key, signatures, image signatures",
		"sbom":   "SBOMs, image SBOMs",
		"verify": "verify",
	} {
		t.Run(skip, func(t *testing.T) {
			f := testFlow(t, Options{Skip: Skips{skip}})
			var ran []string
			rs, err := stage.Run(context.Background(), f.c, faked(f.local(), func(name string) error {
				ran = append(ran, name)
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			var skipped []string
			for _, r := range rs {
				if r.Status == stage.Skipped {
					skipped = append(skipped, r.Name)
					if r.Note != "SKIP="+skip {
						t.Errorf("%s skipped because %q, want SKIP=%s", r.Name, r.Note, skip)
					}
				}
			}
			if got := strings.Join(skipped, ", "); got != want {
				t.Fatalf("SKIP=%s skipped %s, want %s", skip, got, want)
			}
			if len(ran)+len(skipped) != len(rs) {
				t.Fatalf("ran %v and skipped %v of %d stages", ran, skipped, len(rs))
			}
		})
	}
}

func TestAFailedReleaseNeverLeavesACompleteLookingDist(t *testing.T) {
	f := testFlow(t, Options{})
	dist := filepath.Join(f.o.Root, "dist")
	writeDist := func() {
		t.Helper()
		if err := os.MkdirAll(dist, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dist, artifact.ChecksumsFile), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeDist()
	failure := errors.New("scan gate failed")
	failAt := func(stageName string) func(string) error {
		return func(name string) error {
			if name == stageName {
				return failure
			}
			return nil
		}
	}

	// Failing before goreleaser touched dist/: the previous release stays where it is.
	_, err := f.run(context.Background(), faked(f.head(), failAt(stage.Prepare)))
	if _, statErr := os.Stat(filepath.Join(dist, artifact.ChecksumsFile)); statErr != nil || err.Error() != failure.Error() {
		t.Fatalf("an early failure moved dist/ (err %v)", err)
	}

	// Succeeding: dist/ stays.
	if _, err := f.run(context.Background(), faked(f.local(), failAt(""))); err != nil {
		t.Fatal(err)
	}
	var ok error
	setAsideOnFailure(f.o.Root, f.c.Dist, &ok)
	if _, statErr := os.Stat(dist); statErr != nil || ok != nil {
		t.Fatalf("a successful release moved dist/ (err %v)", ok)
	}

	// Failing after goreleaser wrote to it: dist/ moves aside and the error says where.
	results, err := f.run(context.Background(), faked(f.local(), failAt(stage.Scan)))
	if _, statErr := os.Stat(dist); !os.IsNotExist(statErr) {
		t.Fatal("a failed release left dist/ in place")
	}
	moved := filepath.Join(f.o.Root, ".slipway", "failed-release")
	if _, statErr := os.Stat(filepath.Join(moved, artifact.ChecksumsFile)); statErr != nil {
		t.Fatal(statErr)
	}
	if !errors.Is(err, failure) || !strings.Contains(err.Error(), moved) {
		t.Fatalf("error %q does not keep the cause and name %s", err, moved)
	}
	if last := results[len(results)-1]; last.Name != stage.Scan || last.Status != stage.Failed {
		t.Fatalf("last result %+v, want the failed scan", last)
	}

	// The same failure in goreleaser itself.
	writeDist()
	if _, err := f.run(context.Background(), faked(f.snapshotStages(), failAt(stage.Goreleaser))); err == nil || !strings.Contains(err.Error(), moved) {
		t.Fatalf("a failed goreleaser left dist/ in place (err %v)", err)
	}
}

// The summary shows goreleaser's timed pipes in its place.
func TestGoreleaserShowsAsItsPipes(t *testing.T) {
	f := testFlow(t, Options{})
	f.sections = []section{{name: "building binaries"}, {name: "archives"}}
	results, err := f.run(context.Background(), faked(f.snapshotStages(), func(string) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range results {
		names = append(names, r.Name)
	}
	if got := strings.Join(names, ", "); got != "prepare, "+stage.GoreleaserBuild+", "+stage.GoreleaserArchives+", images and signatures, contents, verify" {
		t.Fatalf("results: %s", got)
	}
}
