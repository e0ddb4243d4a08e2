package release

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

func TestTargetPlatform(t *testing.T) {
	for target, want := range map[string]string{
		"linux_amd64_v1":    "linux/amd64",
		"linux_arm64_v8.0":  "linux/arm64",
		"linux_arm_7":       "linux/arm/v7",
		"darwin_arm64_v8.0": "darwin/arm64",
		"windows_amd64":     "windows/amd64",
	} {
		got, err := targetPlatform(target)
		if err != nil || got != want {
			t.Errorf("targetPlatform(%q) = %q, %v; want %q", target, got, err, want)
		}
	}
	for _, bad := range []string{"linux", "linux_amd64_v3", "linux_arm64_v9.0", "a_b_c_d"} {
		if _, err := targetPlatform(bad); err == nil {
			t.Errorf("targetPlatform(%q) accepted a target build:all does not build", bad)
		}
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckConfigCatchesDrift(t *testing.T) {
	good := `
builds:
  - id: slipway
    targets: [linux_amd64_v1, linux_arm64_v8.0]
    ldflags: ["{{ .Env.SLIPWAY_LDFLAGS }}"]
kos:
  - build: slipway
    platforms: [linux/amd64, linux/arm64]
`
	platforms := []string{"linux/arm64", "linux/amd64"}
	if err := CheckConfig(writeConfig(t, good), platforms); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ config, want string }{
		"missing platform":       {strings.Replace(good, ", linux_arm64_v8.0", "", 1), "builds linux/amd64 but build:all builds linux/amd64,linux/arm64"},
		"own ldflags":            {strings.Replace(good, "{{ .Env.SLIPWAY_LDFLAGS }}", "-s -w", 1), "must come from mage"},
		"own flags":              {strings.Replace(good, "    ldflags", "    flags: [-race]\n    ldflags", 1), "must come from mage"},
		"unbuilt image":          {strings.Replace(good, "linux/arm64]", "linux/arm64, linux/riscv64]", 1), "linux/riscv64 is not built"},
		"image of another build": {strings.Replace(good, "build: slipway", "build: other", 1), "kos must build from builds[0]"},
	} {
		err := CheckConfig(writeConfig(t, tc.config), platforms)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CheckConfig = %v, want an error containing %q", name, err, tc.want)
		}
	}
}

var envRef = regexp.MustCompile(`\{\{ \.Env\.([A-Z_]+) \}\}`)

// render expands {{ .Env.X }} the way goreleaser does for the args this test looks at.
func render(args []string, env []string) []string {
	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = envRef.ReplaceAllStringFunc(a, func(m string) string { return vals[envRef.FindStringSubmatch(m)[1]] })
	}
	return out
}

// goreleaser signs the checksums file itself (the release signs the images after ko pushed
// them); its cosign flags must be the sign package's, for the local key (offline) and for a
// publishing key alike.
func TestGoreleaserSignsLikeTheSignPackage(t *testing.T) {
	root := projecttest.Root(t)
	c, err := readConfig(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Signs) != 1 {
		t.Fatalf("%s: want one signs entry", ConfigFile)
	}
	for _, s := range []sign.Signer{{Key: "/x/.slipway/cosign.key"}, {Key: "awskms:///alias/rel", Tlog: true}} {
		got := render(c.Signs[0].Args, s.Env())
		if !slices.Contains(got, "--key="+s.Key) || !containsRun(got, s.Flags()) {
			t.Errorf("signs args %q do not carry the sign package's flags %q", got, s.Flags())
		}
	}
}

func containsRun(args, run []string) bool {
	for i := 0; i+len(run) <= len(args); i++ {
		if slices.Equal(args[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

func TestSectionTimerTimesGoreleaserPipes(t *testing.T) {
	clock := time.Unix(0, 0)
	var progress strings.Builder
	timer := &sectionTimer{out: &progress, now: func() time.Time { return clock }}
	log := []struct {
		line    string
		advance time.Duration
	}{
		{"  • starting release\n", 0},
		{"  • building binaries\n", time.Second},
		{"    • building                 target=linux_amd64_v1\n", 30 * time.Second},
		{"\x1b[1;94m  • \x1b[m\x1b[1marchiv", 0}, // a line split across writes, coloured as with CI=true
		{"es\n", 2 * time.Second},
		{"  • ko\n", time.Second},
		{"  • publishing\n", 0},
		{"    • ko\n", 5 * time.Second},
		{"      • created images\n", 0},
		{"  • writing artifacts metadata\n", 0},
	}
	for _, l := range log {
		if _, err := timer.Write([]byte(l.line)); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(l.advance)
	}
	timer.close()
	var got []string
	for _, s := range timer.sections {
		got = append(got, s.name+"="+s.d.String())
	}
	want := "building binaries=31s archives=2s ko=6s"
	if strings.Join(got, " ") != want {
		t.Fatalf("sections %q, want %q", strings.Join(got, " "), want)
	}
	if progress.String() != "    building binaries\n    archives\n    ko\n    ko\n" {
		t.Fatalf("progress lines %q", progress.String())
	}
}

// The checked-in .goreleaser.yaml builds build:all's default matrix.
func TestGoreleaserBuildsTheDefaultMatrix(t *testing.T) {
	root := projecttest.Root(t)
	var names []string
	for _, p := range platform.Default {
		names = append(names, p.String())
	}
	if err := CheckConfig(root, names); err != nil {
		t.Fatal(err)
	}
}

// The rendered config carries the kos settings goreleaser v2.16 cannot template, and only those.
func TestRenderConfigFillsKoSettings(t *testing.T) {
	root := writeConfig(t, "kos:\n  - base_image: \"{{ .Env.SLIPWAY_BASE_IMAGE }}\"\n    repositories: [\"{{ .Env.SLIPWAY_IMAGE }}\"]\n"+
		"    labels: {v: \"{{ .Env.SLIPWAY_LDFLAGS }}\"}\n")
	p, err := renderConfig(root, []string{"SLIPWAY_BASE_IMAGE=127.0.0.1:5798/base@sha256:ab", "SLIPWAY_IMAGE=127.0.0.1:5798/slipway", "SLIPWAY_LDFLAGS=-s"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{`base_image: "127.0.0.1:5798/base@sha256:ab"`, `repositories: ["127.0.0.1:5798/slipway"]`, `{{ .Env.SLIPWAY_LDFLAGS }}`} {
		if !strings.Contains(got, want) {
			t.Errorf("rendered config lacks %q:\n%s", want, got)
		}
	}
	if filepath.Dir(p) != filepath.Join(root, ".slipway") {
		t.Errorf("rendered into %s, want .slipway/", p)
	}
}
