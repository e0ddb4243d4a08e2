//go:build e2e

// The image tests run containers: Docker-backed, so they run with the e2e tests (`mage test`,
// CI), not in the quick `go test ./...` loop.

package runproof

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
)

// koDockerfile lays an image out as ko does, so nothing may assume the Dockerfiles' /slipway.
const koDockerfile = "FROM scratch\nCOPY app /ko-app/slipway\nUSER 65532:65532\nENTRYPOINT [\"/ko-app/slipway\"]\n"

var index struct {
	once  sync.Once
	crane string
	ref   string // <registry>/runproof-e2e@sha256:<index digest>
	err   error
}

// serviceIndex is an image index of the real service for every platform of linux, pushed to a
// registry of the test's own and removed locally, so the check has to pull each image.
func serviceIndex(t *testing.T) (crane, ref string) {
	t.Helper()
	crane = toolstest.Path(t, "crane")
	regBin := toolstest.Installed(t, "registry")
	for _, p := range linux {
		builtBinary(t, p)
	}
	index.once.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "runproof-registry-")
		if err != nil {
			index.err = err
			return
		}
		atExit = append(atExit, func() { os.RemoveAll(dir) })
		reg, err := registry.Start(ctx, regBin, dir, "127.0.0.1:0")
		if err != nil {
			index.err = err
			return
		}
		atExit = append(atExit, func() { _ = reg.Stop() })
		repo := reg.Addr + "/runproof-e2e"
		args := []string{"index", "append", "--tag", repo + ":index"}
		for _, p := range linux {
			tag := repo + ":" + strings.ReplaceAll(strings.TrimPrefix(p.String(), "linux/"), "/", "")
			if index.err = build(t, tag, p, builtBinary(t, p), koDockerfile); index.err != nil {
				return
			}
			if index.err = run.Run(ctx, "docker", "push", "--quiet", tag); index.err != nil {
				return
			}
			if index.err = run.Run(ctx, "docker", "image", "rm", tag); index.err != nil {
				return
			}
			args = append(args, "--manifest", tag)
		}
		if index.err = run.Run(ctx, crane, args...); index.err != nil {
			return
		}
		digest, err := run.Output(ctx, crane, "digest", repo+":index")
		index.ref, index.err = repo+"@"+digest, err
	})
	if index.err != nil {
		t.Fatal(index.err)
	}
	return crane, index.ref
}

// build makes the image tag for p from dockerfile, with the file app in its context.
func build(t *testing.T, tag string, p platform.Platform, app, dockerfile string) error {
	dir := t.TempDir()
	if app != "" {
		copyFile(t, app, filepath.Join(dir, "app"))
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	return run.Run(context.Background(), "docker", "build", "--quiet", "--platform", p.String(), "--tag", tag, dir)
}

// localImage builds a local image (tag runproof-e2e-<random>) and removes it after the test.
func localImage(t *testing.T, p platform.Platform, app, dockerfile string) string {
	t.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	tag := "runproof-e2e-" + hex.EncodeToString(suffix) + ":test"
	if err := build(t, tag, p, app, dockerfile); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		noContainers(t, "ancestor="+tag)
		_ = run.Run(context.Background(), "docker", "image", "rm", "--force", tag)
	})
	return tag
}

// fake builds testdata/fake for this machine in mode (see its doc comment).
func fake(t *testing.T, mode string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fake")
	ld := "-X main.mode=" + mode + " -X main.version=" + stamp.Version
	env := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH}
	if err := (run.Cmd{Env: env}).Run(context.Background(), "go", "build", "-ldflags", ld, "-o", bin, "./testdata/fake"); err != nil {
		t.Fatal(err)
	}
	return bin
}

// noContainers fails the test if a container matching the docker ps filter exists.
func noContainers(t *testing.T, filter string) {
	t.Helper()
	out, err := run.Output(context.Background(), "docker", "ps", "--all", "--quiet", "--filter", filter)
	if err != nil || out != "" {
		t.Errorf("containers left behind (%s): %q %v", filter, out, err)
	}
}

func TestImagesRunEveryPlatform(t *testing.T) {
	crane, ref := serviceIndex(t)
	results, err := Checker{Crane: crane}.Images(context.Background(), []string{ref}, stamp.Version)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(linux) {
		t.Fatalf("got %d results for the %d platforms of the index: %+v", len(results), len(linux), results)
	}
	for _, r := range results {
		if _, notRun := How(DefaultBinfmt, r.Platform); notRun != "" {
			if r.NotRun == "" {
				t.Errorf("%s: this machine cannot emulate it, yet it is not NOT RUN: %+v", r.Platform, r)
			}
			continue
		}
		native := r.Platform.Arch == runtime.GOARCH
		if r.Err != nil || r.NotRun != "" || native != (r.Handler == "") || r.Time <= 0 || r.Stop <= 0 ||
			!strings.Contains(r.Output, stamp.Version) || !strings.HasPrefix(r.Artifact, strings.Split(ref, "@")[0]+"@sha256:") {
			t.Errorf("%s: %+v", r.Platform, r)
		}
		t.Logf("%s %s: ready in %s, stopped in %s", r.Platform, r.How(), r.Time, r.Stop)
		// The platform image it pulled is gone again.
		if run.Run(context.Background(), "docker", "image", "inspect", r.Artifact) == nil {
			t.Errorf("%s: the pulled image %s was left behind", r.Platform, r.Artifact)
		}
	}
	noContainers(t, "name=slipway-runproof-")
}

func TestImagesNotRunWithoutEmulation(t *testing.T) {
	crane, ref := serviceIndex(t)
	results, err := Checker{Crane: crane, Binfmt: t.TempDir()}.Images(context.Background(), []string{ref}, stamp.Version)
	if err != nil {
		t.Fatalf("NOT RUN is not a failure: %v", err)
	}
	if !AnyNotRun(results) || len(results) != len(linux) {
		t.Fatalf("results: %+v", results)
	}
	for _, r := range results {
		if native := r.Platform.Arch == runtime.GOARCH; native == (r.NotRun != "") || (!native && !strings.Contains(r.NotRun, Fix)) {
			t.Errorf("%s: %+v", r.Platform, r)
		}
	}
}

func TestImagesFailWithoutTheirEntrypoint(t *testing.T) {
	host := platform.Host()
	missing := localImage(t, host, "", "FROM scratch\nENTRYPOINT [\"/ko-app/slipway\"]\n")
	none := localImage(t, host, fake(t, "badexit"), "FROM scratch\nCOPY app /app\n")
	for ref, want := range map[string]string{
		missing: `it does not start (entrypoint /ko-app/slipway)`,
		none:    "the image has no entrypoint",
	} {
		_, err := Checker{}.Images(context.Background(), []string{ref}, stamp.Version)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ref) {
			t.Errorf("%s: error = %v, want %q", ref, err, want)
		}
	}
	_, err := Checker{}.Images(context.Background(), []string{missing}, stamp.Version)
	if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("the error does not carry Docker's reason: %v", err)
	}
}

func TestImagesFailWhenNeverReady(t *testing.T) {
	ref := localImage(t, platform.Host(), fake(t, "sleep"), koDockerfile)
	start := time.Now()
	_, err := Checker{ReadyTimeout: 3 * time.Second}.Images(context.Background(), []string{ref}, stamp.Version)
	if err == nil || !strings.Contains(err.Error(), "did not become ready within 3s") {
		t.Errorf("error = %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the check took %s with a 3s timeout", took)
	}
}

func TestImagesFailWhenSIGTERMDoesNotExit0(t *testing.T) {
	ref := localImage(t, platform.Host(), fake(t, "badexit"), koDockerfile)
	_, err := Checker{}.Images(context.Background(), []string{ref}, stamp.Version)
	if err == nil || !strings.Contains(err.Error(), "on SIGTERM it exited with code 3, want 0") {
		t.Errorf("error = %v", err)
	}
}

// An image that says it is for another platform but holds this machine's binary starts (the
// kernel runs it natively), so only what the binary reports gives it away.
func TestImagesFailOnTheWrongArchitecture(t *testing.T) {
	needsEmulation(t, foreign())
	ref := localImage(t, foreign(), builtBinary(t, platform.Host()), koDockerfile)
	results, err := Checker{}.Images(context.Background(), []string{ref}, stamp.Version)
	want := "it runs as linux/" + runtime.GOARCH + ", want " + foreign().String()
	if err == nil || !strings.Contains(err.Error(), want) || len(results) != 1 || results[0].Handler == "" {
		t.Errorf("error = %v, want %q; results %+v", err, want, results)
	}
}

func TestImagesRemoveTheContainerWhenCancelled(t *testing.T) {
	ref := localImage(t, platform.Host(), fake(t, "sleep"), koDockerfile)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := Checker{}.Images(ctx, []string{ref}, stamp.Version)
	if err == nil || !strings.Contains(err.Error(), "interrupted (context deadline exceeded)") {
		t.Errorf("error = %v", err)
	}
	noContainers(t, "ancestor="+ref)
}
