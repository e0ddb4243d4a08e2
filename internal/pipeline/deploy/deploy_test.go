package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project/projecttest"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestImageOutputs(t *testing.T) {
	img := artifact.Image{Repo: "ghcr.io/acme/widget", Digest: digest}
	want := "name=ghcr.io/acme/widget\ndigest=" + digest + "\nref=ghcr.io/acme/widget@" + digest + "\n"
	if got := Outputs(img); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// contents is a artifact.json listing images (archives only when there are none), and no VEX
// document, with the reason, as an offline release without a vulnerability database writes it.
func contents(t *testing.T, images ...artifact.Image) string {
	t.Helper()
	c := artifact.Contents{Schema: artifact.ContentsSchema, Version: "1.2.3", ArchivesOnly: len(images) == 0, Images: images,
		NoVEX: "govulncheck did not run: no vulnerability database offline",
		Files: []artifact.File{{Name: artifact.ChecksumsFile, Kind: artifact.KindChecksums, Size: 1, SHA256: strings.Repeat("a", 64)}}}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestReleasedImage(t *testing.T) {
	const other = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	platforms := []artifact.Platform{{OS: "linux", Arch: "amd64", Digest: other}}
	widget := artifact.Image{Repo: "ghcr.io/acme/widget", Digest: digest, Tags: []string{"1.2.3", "latest"}, Platforms: platforms}
	debug := artifact.Image{Repo: "ghcr.io/acme/widget-debug", Digest: other, Platforms: platforms}
	for _, tc := range []struct{ name, json, want, err string }{
		{"tags share one digest", contents(t, widget), "ghcr.io/acme/widget@" + digest, ""},
		{"two different images", contents(t, widget, debug), "", "2 different images"},
		{"archives only", contents(t), "", "archives only"},
		{"an image without a digest", strings.Replace(contents(t, widget), digest, "latest", 1), "", "sha256 digest"},
		{"corrupt", `{`, "", artifact.ContentsFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dist := t.TempDir()
			if err := os.WriteFile(filepath.Join(dist, artifact.ContentsFile), []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReleasedImage(dist)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got.Ref() != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
	t.Run("no release", func(t *testing.T) {
		_, err := ReleasedImage(t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "run `mage release`") {
			t.Fatalf("got %v, want an error telling to run the release", err)
		}
	})
}

func TestChooseImagePrefersDeployImage(t *testing.T) {
	dist := t.TempDir() // no release: only the setting can answer
	img, err := ChooseImage(settings.Settings{DeployImage: "ghcr.io/acme/widget@" + digest}, dist)
	if err != nil || img.Ref() != "ghcr.io/acme/widget@"+digest {
		t.Fatalf("got %v, %v", img, err)
	}
	if _, err := ChooseImage(settings.Settings{DeployImage: "ghcr.io/acme/widget:latest"}, dist); err == nil || !strings.Contains(err.Error(), "DEPLOY_IMAGE") {
		t.Fatalf("a tag-only DEPLOY_IMAGE: got %v, want an error naming DEPLOY_IMAGE", err)
	}
}

func kustomize(t *testing.T) (bin, root string) {
	t.Helper()
	root = projecttest.Root(t)
	// The pinned kustomize builds on first use (under a minute) and is cached in .slipway/tools.
	bin, err := tools.Path(context.Background(), root, "kustomize")
	if err != nil {
		t.Fatal(err)
	}
	return bin, root
}

func TestRenderPinsTheDigest(t *testing.T) {
	bin, root := kustomize(t)
	img := artifact.Image{Repo: "ghcr.io/acme/widget", Digest: digest}
	out, err := Render(context.Background(), bin, root, filepath.Join(root, DefaultOverlay), img)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.Contains(s, "image: "+img.Ref()) {
		t.Fatalf("rendered manifests do not run %s:\n%s", img, s)
	}
	for _, want := range []string{"kind: Deployment", "kind: Service", "kind: PodDisruptionBudget", "kind: NetworkPolicy"} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered manifests lack %q", want)
		}
	}
	left, _ := filepath.Glob(filepath.Join(project.StateDir(root), "deploy-render-*"))
	if len(left) > 0 {
		t.Errorf("render left its wrapper behind: %v", left)
	}
}

// deploy:render prints the manifests of DEPLOY_OVERLAY with DEPLOY_IMAGE, or says which is wrong.
func TestPrint(t *testing.T) {
	_, root := kustomize(t)
	ref := "ghcr.io/acme/widget@" + digest
	s, err := settings.Load([]string{"DEPLOY_IMAGE=" + ref})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Print(context.Background(), stage.New(root, &out, s)); err != nil || !strings.Contains(out.String(), "image: "+ref) {
		t.Fatalf("Print = %v, printed:\n%s", err, out.String())
	}
	s.DeployOverlay = t.TempDir()
	if err := Print(context.Background(), stage.New(root, &out, s)); err == nil || !strings.Contains(err.Error(), "DEPLOY_OVERLAY") {
		t.Fatalf("an overlay without kustomization.yaml: %v", err)
	}
}

func TestRenderRefusesAnOverlayThatRenamesTheImage(t *testing.T) {
	bin, root := kustomize(t)
	overlay := t.TempDir()
	base, err := filepath.Rel(overlay, filepath.Join(root, "deploy", "kubernetes", "base"))
	if err != nil {
		t.Fatal(err)
	}
	k := "resources:\n  - " + filepath.ToSlash(base) + "\nimages:\n  - name: " + project.Name + "\n    newName: docker.io/someone/else\n    newTag: latest\n"
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Render(context.Background(), bin, root, overlay, artifact.Image{Repo: "ghcr.io/acme/widget", Digest: digest})
	if err == nil || !strings.Contains(err.Error(), "renamed image") {
		t.Fatalf("got %v, want an error saying the overlay renamed the image", err)
	}
}

func TestRenderNamesAMissingOverlay(t *testing.T) {
	_, err := Render(context.Background(), "kustomize", t.TempDir(), t.TempDir(), artifact.Image{Repo: "x", Digest: digest})
	if err == nil || !strings.Contains(err.Error(), "DEPLOY_OVERLAY") {
		t.Fatalf("got %v, want an error pointing at DEPLOY_OVERLAY", err)
	}
}
