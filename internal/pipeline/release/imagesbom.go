package release

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// ImageSBOMs writes a CycloneDX SBOM of every platform image of every pushed index into dist/
// (Trivy, reading the image from its registry) and, with a signer, attaches each one to its
// platform manifest as a signed cosign attestation, so the SBOM travels with the image.
// BuildKit's own SBOM attestation would pull a scanner image, which offline machines cannot.
func ImageSBOMs(ctx context.Context, dist, project, version, trivy, crane string, signer *sign.Signer) ([]artifact.File, error) {
	var files []artifact.File
	err := eachPlatformImage(ctx, dist, crane, func(ref string, p artifact.Platform) error {
		name := artifact.ImageSBOMName(project, version, p)
		path := filepath.Join(dist, name)
		err := (run.Cmd{}).Run(ctx, trivy, "image", "--image-src=remote", "--format=cyclonedx",
			"--output="+path, "--skip-version-check", "--disable-telemetry", ref)
		if err != nil {
			return fmt.Errorf("SBOM of image %s (%s): %w", ref, p, err)
		}
		if signer != nil {
			if err := signer.Attest(ctx, ref, artifact.SBOMType, path); err != nil {
				return err
			}
		}
		f, err := fileDigest(path)
		if err != nil {
			return err
		}
		f.Name = name
		files = append(files, f)
		return nil
	})
	return files, err
}

// attestImageSBOMs attaches the SBOMs ImageSBOMs wrote unsigned to their platform images, as
// signed attestations: a publishing release signs only once the scan gate has passed.
func attestImageSBOMs(ctx context.Context, dist, project, version, crane string, signer sign.Signer) (int, error) {
	n := 0
	err := eachPlatformImage(ctx, dist, crane, func(ref string, p artifact.Platform) error {
		n++
		return signer.Attest(ctx, ref, artifact.SBOMType, filepath.Join(dist, artifact.ImageSBOMName(project, version, p)))
	})
	return n, err
}

// eachPlatformImage calls fn with every platform image of every pushed index, by digest.
func eachPlatformImage(ctx context.Context, dist, crane string, fn func(ref string, p artifact.Platform) error) error {
	return eachImage(ctx, dist, crane, func(ref string, p *artifact.Platform) error {
		if p == nil {
			return nil
		}
		return fn(ref, *p)
	})
}

// eachImage calls fn with every pushed index (p nil) and each of its platform images, by digest.
func eachImage(ctx context.Context, dist, crane string, fn func(ref string, p *artifact.Platform) error) error {
	recs, err := ReadImages(dist)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		index := rec.Repo + "@" + rec.Digest
		platforms, err := IndexPlatforms(ctx, crane, index)
		if err != nil {
			return fmt.Errorf("image %s: %w", index, err)
		}
		if err := fn(index, nil); err != nil {
			return err
		}
		for _, p := range platforms {
			if err := fn(rec.Repo+"@"+p.Digest, &p); err != nil {
				return err
			}
		}
	}
	return nil
}
