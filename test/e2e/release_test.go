//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/release"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
	"github.com/slipway-dev/slipway/internal/pipeline/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/version"
)

// TestLocalRelease is `mage release` on a fresh clone, offline: every stage runs, the result
// verifies, and each kind of tampering is caught. It takes minutes: seven platforms, two
// images, SBOMs, signatures, the scan.
func TestLocalRelease(t *testing.T) {
	ctx := context.Background()
	clone := freshClone(t)
	env := offlineReleaseEnv(t, clone)

	start := time.Now()
	out := mage(t, clone, env, "release")
	t.Logf("full local release took %s", time.Since(start).Round(time.Second))
	if i, j := strings.Index(out, "\nStages\n"), strings.Index(out, "\nVerify it yourself"); i >= 0 && j > i {
		t.Log(out[i:j]) // stage times, artifacts with sizes and digests, images
	}
	for _, want := range []string{"LOCAL release", "Verify it yourself", "linux/amd64", "linux/arm64", "scan"} {
		if !strings.Contains(out, want) {
			t.Fatalf("release output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SKIPPED") {
		t.Fatalf("a release without SKIP skipped a stage:\n%s", out)
	}
	dist := filepath.Join(clone, "dist")

	t.Run("verify passes", func(t *testing.T) {
		mage(t, clone, env, "verify")
	})

	cosign := toolstest.Path(t, "cosign")
	crane := toolstest.Path(t, "crane")
	ours := sign.Verifier{Cosign: cosign, Key: filepath.Join(clone, ".slipway", "cosign.pub")}
	other := otherKey(t, cosign)

	t.Run("image index has both platforms and verifies only with our key", func(t *testing.T) {
		imgs, err := release.ReadImages(dist)
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) != 1 {
			t.Fatalf("release pushed %d image indexes, want 1", len(imgs))
		}
		ref := imgs[0].Repo + "@" + imgs[0].Digest
		platforms, err := release.IndexPlatforms(ctx, crane, ref)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range platforms {
			got = append(got, p.String())
		}
		if strings.Join(got, ",") != "linux/amd64,linux/arm64" {
			t.Fatalf("index %s lists %v, want linux/amd64 and linux/arm64", ref, got)
		}
		if err := ours.VerifyImage(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if err := other.VerifyImage(ctx, ref); err == nil {
			t.Fatal("the image verified against another key")
		}
		for _, p := range platforms {
			if err := ours.VerifyAttestation(ctx, imgs[0].Repo+"@"+p.Digest, release.SBOMType); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("verify fails with another key", func(t *testing.T) {
		out := mageFails(t, clone, append(env, "VERIFY_KEY="+other.Key), "verify")
		if !strings.Contains(out, "checksums.txt: signature does not verify") {
			t.Fatalf("verify with another key did not name the checksums signature:\n%s", out)
		}
	})

	t.Run("verify fails on a one-byte change to an archive", func(t *testing.T) {
		archives, _ := filepath.Glob(filepath.Join(dist, "*_linux_amd64.tar.gz"))
		if len(archives) != 1 {
			t.Fatalf("want one linux/amd64 archive, found %v", archives)
		}
		data, err := os.ReadFile(archives[0])
		if err != nil {
			t.Fatal(err)
		}
		orig := append([]byte(nil), data...)
		data[len(data)/2] ^= 0x01
		if err := os.WriteFile(archives[0], data, 0o644); err != nil {
			t.Fatal(err)
		}
		out := mageFails(t, clone, env, "verify")
		if !strings.Contains(out, filepath.Base(archives[0])+": sha256") {
			t.Fatalf("verify did not name the changed archive:\n%s", out)
		}
		if err := os.WriteFile(archives[0], orig, 0o644); err != nil {
			t.Fatal(err)
		}
	})

	// One definition of the image: what the release ships (ko) and what docker:build builds
	// (Dockerfile.distroless) have the same user, entrypoint, labels and exposed ports, and the
	// release archive's binary, byte for byte.
	t.Run("the release image and docker:build's are one definition", func(t *testing.T) {
		imgs, err := release.ReadImages(dist)
		if err != nil || len(imgs) != 1 {
			t.Fatalf("ReadImages = %v, %v", imgs, err)
		}
		platforms, err := release.IndexPlatforms(ctx, crane, imgs[0].Repo+"@"+imgs[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		archived := sha256File(t, filepath.Join(dist, "slipway_linux_"+runtime.GOARCH+goreleaserSuffix(runtime.GOARCH), "slipway"))
		for _, p := range platforms {
			ref := imgs[0].Repo + "@" + p.Digest
			bin := fileInRemoteImage(t, crane, ref, "ko-app/slipway")
			if want := sha256File(t, filepath.Join(dist, "slipway_"+p.OS+"_"+p.Arch+goreleaserSuffix(p.Arch), "slipway")); bin != want {
				t.Errorf("%s: the image's binary (sha256 %s) is not the archive's (%s)", p, bin, want)
			}
		}
		var native string
		for _, p := range platforms {
			if p.Arch == runtime.GOARCH {
				native = imgs[0].Repo + "@" + p.Digest
			}
		}
		released := remoteConfig(t, crane, native)

		stamp, err := version.Describe(ctx, clone)
		if err != nil {
			t.Fatal(err)
		}
		repo := "slipway-e2e-" + randomHex(t)
		t.Cleanup(func() { removeImages(t, repo) })
		addr := envValue(env, "SLIPWAY_REGISTRY_ADDR")
		l := &image.Local{Repo: repo, Root: clone, Stamp: stamp, Out: testWriter{t},
			Source: image.Source{Mirror: addr + "/" + image.StandInPrefix, StandIns: true, Crane: crane}}
		info, err := l.Distroless(ctx, filepath.Join(dist, "slipway_linux_"+runtime.GOARCH+goreleaserSuffix(runtime.GOARCH), "slipway"), runtime.GOARCH)
		if err != nil {
			t.Fatal(err)
		}
		local := info.Config
		if released.User != local.User || strings.Join(released.Entrypoint, " ") != strings.Join(local.Entrypoint, " ") ||
			!maps.Equal(released.ExposedPorts, local.ExposedPorts) {
			t.Errorf("release image: user %q entrypoint %q ports %v; docker:build's: user %q entrypoint %q ports %v",
				released.User, released.Entrypoint, released.ExposedPorts, local.User, local.Entrypoint, local.ExposedPorts)
		}
		if !maps.Equal(released.Labels, local.Labels) {
			t.Errorf("labels differ:\nrelease      %v\ndocker:build %v", released.Labels, local.Labels)
		}
		if got := fileInImage(t, repo+":dev", "/ko-app/slipway"); got != archived {
			t.Errorf("docker:build's binary (sha256 %s) is not the archive's (%s)", got, archived)
		}
	})

	// One definition of the build: goreleaser's linux/amd64 binary is build:all's, byte for byte.
	t.Run("goreleaser and build:all build the same binary", func(t *testing.T) {
		rel, err := os.ReadFile(filepath.Join(dist, "slipway_linux_amd64_v1", "slipway"))
		if err != nil {
			t.Fatal(err)
		}
		mage(t, clone, env, "build:all")
		all, err := os.ReadFile(filepath.Join(dist, "slipway_linux_amd64", "slipway"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rel, all) {
			t.Fatalf("goreleaser's binary (%d bytes) differs from build:all's (%d bytes) for the same commit", len(rel), len(all))
		}
	})
}

// TestReleaseSkipIsReportedAndTyposFail: SKIP names stages in the output; a typo is an error
// before anything is built.
func TestReleaseSkipIsReportedAndTyposFail(t *testing.T) {
	clone := freshClone(t)
	env := offlineReleaseEnv(t, clone)
	out := mageFails(t, clone, append(env, "SKIP=scna"), "release")
	if !strings.Contains(out, `unknown stage "scna"`) {
		t.Fatalf("SKIP typo:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(clone, "dist")); err == nil {
		t.Fatal("a refused release left a dist/ behind")
	}
	out = mage(t, clone, append(env, "SKIP=images,scan"), "release")
	for _, want := range []string{"images: SKIPPED (SKIP=images,scan)", "scan: SKIPPED (SKIP=images,scan)"} {
		if !strings.Contains(out, want) {
			t.Errorf("release with SKIP=images,scan lacks %q:\n%s", want, out)
		}
	}
}

// offlineReleaseEnv is the environment of an offline local release in clone, with an empty
// registry of the test's own (stopped at the end): the release builds the stand-in it needs on
// first use, as on a fresh machine. No publishing settings or SKIP come from the caller's
// environment.
func offlineReleaseEnv(t *testing.T, clone string) []string {
	t.Helper()
	return []string{
		"SLIPWAY_OFFLINE=1", "SLIPWAY_REGISTRY_ADDR=" + startRegistry(t), "COSIGN_PASSWORD=e2e", "SLIPWAY_IMAGE_MIRROR=",
		"SLIPWAY_REGISTRY=", "COSIGN_KEY=", "SKIP=", "VERIFY_KEY=", "SLIPWAY_DIST=",
	}
}

// goreleaserSuffix is goreleaser's build directory suffix for arch's default level.
func goreleaserSuffix(arch string) string {
	switch arch {
	case "amd64":
		return "_v1"
	case "arm64":
		return "_v8.0"
	}
	return ""
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// remoteConfig reads an image's config from its registry.
func remoteConfig(t *testing.T, crane, ref string) imageConfig {
	t.Helper()
	out, err := exec.Command(crane, "config", ref).Output()
	if err != nil {
		t.Fatalf("crane config %s: %v", ref, err)
	}
	var c struct{ Config imageConfig }
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	return c.Config
}

type imageConfig struct {
	User         string
	Entrypoint   []string
	Labels       map[string]string
	ExposedPorts map[string]struct{}
}

// fileInRemoteImage is the sha256 of one file of an image in a registry (crane export: the
// flattened file system as a tarball).
func fileInRemoteImage(t *testing.T, crane, ref, name string) string {
	t.Helper()
	cmd := exec.Command(crane, "export", ref, "-")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no %s in the image (%v)", ref, name, err)
		}
		if strings.TrimPrefix(h.Name, "/") == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, out)
			return fmt.Sprintf("%x", sha256.Sum256(data))
		}
	}
}

// otherKey is a verifier for a key pair that signed nothing.
func otherKey(t *testing.T, cosign string) sign.Verifier {
	t.Helper()
	t.Setenv(sign.PasswordEnv, "other")
	dir := t.TempDir()
	k := sign.KeyPair{Private: filepath.Join(dir, "other.key"), Public: filepath.Join(dir, "other.pub")}
	if _, err := k.Ensure(context.Background(), cosign); err != nil {
		t.Fatal(err)
	}
	return sign.Verifier{Cosign: cosign, Key: k.Public}
}
