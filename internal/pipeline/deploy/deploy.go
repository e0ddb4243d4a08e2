// Package deploy renders the Kubernetes manifests (deploy/kubernetes) for one environment, with
// the container image pinned to the digest of the released image.
//
// The manifests name the image only by the project's name ("slipway"); the digest comes from
// DEPLOY_IMAGE or, by default, from the last release's list of contents, dist/release.json.
// Rendering wraps the chosen overlay in a throwaway kustomization that sets the
// image, so the checked-in overlays are never edited.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/stage"
)

// DefaultOverlay is the overlay rendered when DEPLOY_OVERLAY is not set, relative to the root.
const DefaultOverlay = "deploy/kubernetes/overlays/example"

// Outputs renders img as key=value lines: readable, and the format of a GitHub Actions step's
// $GITHUB_OUTPUT (release.yml attests the image by name and digest).
func Outputs(img artifact.Image) string {
	return fmt.Sprintf("name=%s\ndigest=%s\nref=%s\n", img.Repo, img.Digest, img.Ref())
}

// ReleasedImage is the image the last release made, from its list of contents,
// dist/release.json: the file `mage verify` checks against its signature, which names each
// image by digest in the registry it was published to. It must list one image index (its
// tags, such as 1.2.3 and latest, share the digest); anything else needs DEPLOY_IMAGE.
func ReleasedImage(dist string) (artifact.Image, error) {
	path := filepath.Join(dist, artifact.ContentsFile)
	c, err := artifact.ReadContents(dist)
	if errors.Is(err, os.ErrNotExist) {
		return artifact.Image{}, fmt.Errorf("no release to deploy: %s does not exist; run `mage release`, "+
			"or set DEPLOY_IMAGE=name@sha256:<digest>", path)
	}
	if err != nil {
		return artifact.Image{}, fmt.Errorf("%w; run `mage release`, or set DEPLOY_IMAGE=name@sha256:<digest>", err)
	}
	var found []string
	for _, img := range c.Images {
		found = append(found, img.Ref())
	}
	switch len(found) {
	case 0:
		return artifact.Image{}, fmt.Errorf("%s lists no container image: the release was made without images (archives only); "+
			"set DEPLOY_IMAGE=name@sha256:<digest>", path)
	case 1:
		return artifact.ParseRef(found[0])
	}
	return artifact.Image{}, fmt.Errorf("the release made %d different images (%s): set DEPLOY_IMAGE to the one to deploy",
		len(found), strings.Join(found, ", "))
}

// ChooseImage is DEPLOY_IMAGE when set, else the image of the release in dist.
func ChooseImage(s settings.Settings, dist string) (artifact.Image, error) {
	if ref := s.DeployImage; ref != "" {
		img, err := artifact.ParseRef(ref)
		if err != nil {
			return artifact.Image{}, fmt.Errorf("DEPLOY_IMAGE: %w", err)
		}
		return img, nil
	}
	return ReleasedImage(dist)
}

// Overlay is DEPLOY_OVERLAY (a directory relative to root) or DefaultOverlay.
func Overlay(s settings.Settings, root string) string {
	o := s.DeployOverlay
	if !filepath.IsAbs(o) {
		o = filepath.Join(root, o)
	}
	return o
}

// Print is `mage deploy:render`: the manifests of the run's overlay (DEPLOY_OVERLAY) with the
// image ChooseImage picks, rendered by the pinned kustomize, on c.Out.
func Print(ctx context.Context, c *stage.Context) error {
	img, err := ChooseImage(c.Settings, c.Dist)
	if err != nil {
		return err
	}
	kustomize, err := c.Tool(ctx, "kustomize")
	if err != nil {
		return err
	}
	out, err := Render(ctx, kustomize, c.Root, Overlay(c.Settings, c.Root), img)
	if err != nil {
		return err
	}
	_, err = c.Out.Write(out)
	return err
}

// Render runs the pinned kustomize on overlay with the service's image pinned to img, and checks
// that the pin took: an overlay that renames the image itself would otherwise ship unpinned.
func Render(ctx context.Context, kustomize, root, overlay string, img artifact.Image) ([]byte, error) {
	if _, err := os.Stat(filepath.Join(overlay, "kustomization.yaml")); err != nil {
		return nil, fmt.Errorf("overlay %s has no kustomization.yaml: set DEPLOY_OVERLAY to a kustomize directory (default %s)", overlay, DefaultOverlay)
	}
	// kustomize refuses absolute resource paths, so the wrapper lives inside the checkout
	// (in the git-ignored state directory) and names the overlay relative to itself.
	state := project.StateDir(root)
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(state, "deploy-render-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rel, err := filepath.Rel(dir, overlay)
	if err != nil {
		return nil, err
	}
	wrapper := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - %s
images:
  - name: %s
    newName: %s
    digest: %s
`, filepath.ToSlash(rel), project.Name, img.Repo, img.Digest)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(wrapper), 0o644); err != nil {
		return nil, err
	}
	out, err := run.Cmd{}.Output(ctx, kustomize, "build", dir)
	if err != nil {
		return nil, err
	}
	if err := pinned(out, img); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", overlay, err)
	}
	return []byte(out + "\n"), nil
}

var imageLine = regexp.MustCompile(`(?m)^[\s-]*image:\s*["']?([^"'\s]+)`)

// pinned checks that the service's containers run img and none still names the placeholder.
func pinned(manifests string, img artifact.Image) error {
	uses := false
	for _, m := range imageLine.FindAllStringSubmatch(manifests, -1) {
		ref := m[1]
		name, _, _ := strings.Cut(ref, "@")
		switch {
		case ref == img.Ref():
			uses = true
		case artifact.StripTag(name) == project.Name:
			return fmt.Errorf("a container still runs the unpinned image %q: the overlay must not set `images:` for %q itself", m[1], project.Name)
		}
	}
	if !uses {
		return fmt.Errorf("no container runs %s: the overlay renamed image %q (remove its `images:` entry; deploy:render pins it)", img.Ref(), project.Name)
	}
	return nil
}
