package image

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"

	"github.com/slipway-dev/slipway/internal/buildinfo"
	"github.com/slipway-dev/slipway/internal/pipeline/gobuild"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/version"
)

func TestUpstreamRefsArePinned(t *testing.T) {
	digest := regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	for _, r := range Upstream {
		if !digest.MatchString(r.Digest) || r.Tag == "" || r.Registry == "" || r.Path == "" {
			t.Errorf("%+v: want registry, path, tag and a sha256 digest", r)
		}
	}
}

func TestMirrorMapping(t *testing.T) {
	for _, tc := range []struct {
		ref  Ref
		want string
	}{
		{Go, "mirror.example.com/up/golang:1.26.8"},
		{Alpine, "mirror.example.com/up/alpine:3.24.2"},
		{Distroless, "mirror.example.com/up/distroless/static-debian12:nonroot"},
		{Ref{"quay.io", "org/tool", "v1", "sha256:x"}, "mirror.example.com/up/org/tool:v1"},
		// A Docker Hub image outside library/ keeps its organization.
		{Ref{"docker.io", "bitnami/redis", "7", "sha256:x"}, "mirror.example.com/up/bitnami/redis:7"},
	} {
		if got := tc.ref.In("mirror.example.com/up"); got != tc.want {
			t.Errorf("%s in mirror: %s, want %s", tc.ref, got, tc.want)
		}
	}
}

func TestParseMirror(t *testing.T) {
	for in, want := range map[string]string{
		"mirror.example.com":           "mirror.example.com",
		"mirror.example.com/upstream/": "mirror.example.com/upstream",
		"127.0.0.1:5000/a/b-c":         "127.0.0.1:5000/a/b-c",
		"registry:5000":                "registry:5000",
	} {
		got, err := ParseMirror(in)
		if err != nil || got != want {
			t.Errorf("ParseMirror(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "https://mirror.example.com", "Mirror.example.com", "mirror.example.com/x:tag",
		"mirror.example.com//x", "mirror.example.com/x@sha256:00", "/prefix"} {
		if _, err := ParseMirror(bad); err == nil || !strings.Contains(err.Error(), MirrorEnv) {
			t.Errorf("ParseMirror(%q) = %v, want an error naming %s", bad, err, MirrorEnv)
		}
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	got, err := Source{}.Resolve(ctx, Distroless)
	if err != nil || got.Ref != Distroless.String() || got.StandIn {
		t.Errorf("upstream: %+v, %v", got, err)
	}
	// A mirror keeps the upstream digest: a mirror that changed the image cannot be used.
	got, err = Source{Mirror: "m.example.com/up"}.Resolve(ctx, Distroless)
	want := "m.example.com/up/distroless/static-debian12:nonroot@" + Distroless.Digest
	if err != nil || got.Ref != want || got.StandIn {
		t.Errorf("mirror: %+v, %v; want %s", got, err, want)
	}
	// Offline with no stand-in in the registry: the error says how to make one.
	_, err = Source{Mirror: "127.0.0.1:1/" + StandInPrefix, StandIns: true, Crane: "/bin/false"}.Resolve(ctx, Go)
	if err == nil || !strings.Contains(err.Error(), "mage setup") || !strings.Contains(err.Error(), Go.String()) {
		t.Errorf("missing stand-in: %v", err)
	}
}

func TestSourceFrom(t *testing.T) {
	const reg = "127.0.0.1:5798"
	if s, err := SourceFrom(settings.Settings{}, reg, "crane"); err != nil || s.Mirror != "" {
		t.Errorf("default: %+v, %v", s, err)
	}
	if s, err := SourceFrom(settings.Settings{ImageMirror: "mirror.example.com/up/"}, reg, "crane"); err != nil || s.Mirror != "mirror.example.com/up" || s.StandIns {
		t.Errorf("mirror: %+v, %v", s, err)
	}
	if _, err := SourceFrom(settings.Settings{ImageMirror: "https://nope"}, reg, "crane"); err == nil {
		t.Error("a bad mirror was accepted")
	}
	if _, err := SourceFrom(settings.Settings{ImageMirror: "https://nope", Offline: true}, reg, "crane"); err == nil || !strings.Contains(err.Error(), "unset one") {
		t.Errorf("offline and a mirror at once: %v", err)
	}
	s, err := SourceFrom(settings.Settings{Offline: true}, reg, "crane")
	if err != nil || s.Mirror != "127.0.0.1:5798/mirror" || !s.StandIns {
		t.Errorf("offline: %+v, %v", s, err)
	}
}

// The test-only switch makes a mirror a source of stand-ins, and nothing else: it needs a
// mirror, takes only =1, and a typo is an error rather than a silent no-op.
func TestShipStandInsNeedsAMirror(t *testing.T) {
	s, err := SourceFrom(settings.Settings{ImageMirror: "127.0.0.1:5000/mirror", ShipStandIns: "1"}, "127.0.0.1:5798", "crane")
	if err != nil || s.Mirror != "127.0.0.1:5000/mirror" || !s.StandIns {
		t.Errorf("mirror of stand-ins: %+v, %v", s, err)
	}
	for _, bad := range []struct{ mirror, v string }{{"", "1"}, {"127.0.0.1:5000/mirror", "yes"}} {
		if _, err := SourceFrom(settings.Settings{ImageMirror: bad.mirror, ShipStandIns: bad.v}, "127.0.0.1:5798", "crane"); err == nil || !strings.Contains(err.Error(), ShipStandInsEnv) {
			t.Errorf("mirror %q, %s=%q: %v, want an error naming it", bad.mirror, ShipStandInsEnv, bad.v, err)
		}
	}
}

func TestCheckShippable(t *testing.T) {
	built := map[string]string{"org.opencontainers.image.version": "v1.0.0"}
	onStandIn := map[string]string{StandInLabel: Distroless.String(), "org.opencontainers.image.version": "v1.0.0"}
	if err := CheckShippable("r/slipway@sha256:1", built, settings.Settings{}); err != nil {
		t.Errorf("an upstream-based image was refused: %v", err)
	}
	err := CheckShippable("r/slipway@sha256:1", onStandIn, settings.Settings{})
	if err == nil || !strings.Contains(err.Error(), "stand-in") || !strings.Contains(err.Error(), OfflineEnv) {
		t.Errorf("a stand-in-based image was not refused clearly: %v", err)
	}
	if err := CheckShippable("r/slipway@sha256:1", onStandIn, settings.Settings{Offline: true}); err != nil {
		t.Errorf("offline mode must allow it: %v", err)
	}
	if err := CheckShippable("r/slipway@sha256:1", onStandIn, settings.Settings{ShipStandIns: "1"}); err != nil {
		t.Errorf("%s=1 must allow it: %v", ShipStandInsEnv, err)
	}
}

// The Dockerfiles' ARG defaults are the same references as the Go code.
func TestDockerfileDefaultsMatchRefs(t *testing.T) {
	root := projecttest.Root(t)
	for file, args := range map[string]map[string]Ref{
		"Dockerfile":            {"GO_IMAGE": Go, "RUNTIME_IMAGE": Alpine},
		"Dockerfile.distroless": {"BASE_IMAGE": Distroless},
	} {
		text := readFile(t, filepath.Join(root, file))
		for arg, ref := range args {
			if !strings.Contains(text, "\nARG "+arg+"="+ref.String()+"\n") {
				t.Errorf("%s: want `ARG %s=%s` (internal/pipeline/image is the one list)", file, arg, ref)
			}
		}
		if strings.HasPrefix(text, "# syntax=") || strings.Contains(text, "\n# syntax=") {
			t.Errorf("%s has a syntax line: it would pull a frontend image", file)
		}
	}
	// The copy Dependabot watches, and the Go release go.mod pins, which the builder image matches.
	pins := readFile(t, filepath.Join(root, ".github", "base-images", "Dockerfile"))
	for _, ref := range Upstream {
		if !strings.Contains(pins, "\nFROM "+ref.String()+" ") {
			t.Errorf(".github/base-images/Dockerfile: want `FROM %s` (internal/pipeline/image is the one list)", ref)
		}
	}
	if mod := readFile(t, filepath.Join(root, "go.mod")); !strings.Contains(mod, "\ntoolchain go"+Go.Tag+"\n") {
		t.Errorf("go.mod: want `toolchain go%s`, the Go of the builder image %s", Go.Tag, Go)
	}
}

// The multi-stage Dockerfile builds with exactly `mage build:all`'s flags.
func TestDockerfileBuildFlagsMatchGobuild(t *testing.T) {
	text := readFile(t, filepath.Join(projecttest.Root(t), "Dockerfile"))
	stamp := version.Stamp{Version: "${VERSION}", Commit: "${COMMIT}", Date: "${DATE}"}
	ld, err := gobuild.LDFlags(stamp)
	if err != nil {
		// LDFlags refuses nothing here; a failure means the stamp rules changed.
		t.Fatal(err)
	}
	if !strings.Contains(text, `-ldflags "`+ld+`"`) {
		t.Errorf("Dockerfile's -ldflags differ from gobuild.LDFlags: want\n%s", ld)
	}
	if !strings.Contains(text, "go build "+gobuild.GoFlags+" ") || !strings.Contains(text, "CGO_ENABLED=0") {
		t.Errorf("Dockerfile's go build flags differ from gobuild.GoFlags (%s) or CGO_ENABLED=0 is missing", gobuild.GoFlags)
	}
	if !strings.Contains(text, buildinfo.VersionVar) {
		t.Errorf("Dockerfile does not stamp %s", buildinfo.VersionVar)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
