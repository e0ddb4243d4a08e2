package release

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/slipway-dev/slipway/internal/pipeline/run"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// ImageSBOMs writes a CycloneDX SBOM of every platform image of every pushed index into dist/
// (Trivy, reading the image from its registry) and, with a signer, attaches each one to its
// platform manifest as a signed cosign attestation, so the SBOM travels with the image.
// BuildKit's own SBOM attestation would pull a scanner image, which offline machines cannot.
func ImageSBOMs(ctx context.Context, dist, project, version, trivy, crane string, signer *sign.Signer) ([]File, error) {
	recs, err := ReadImages(dist)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, rec := range recs {
		ref := rec.Repo + "@" + rec.Digest
		platforms, err := IndexPlatforms(ctx, crane, ref)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		for _, p := range platforms {
			name := imageSBOMName(project, version, p)
			path := filepath.Join(dist, name)
			pref := rec.Repo + "@" + p.Digest
			err := (run.Cmd{}).Run(ctx, trivy, "image", "--image-src=remote", "--format=cyclonedx",
				"--output="+path, "--skip-version-check", "--disable-telemetry", pref)
			if err != nil {
				return nil, fmt.Errorf("SBOM of image %s (%s): %w", ref, p, err)
			}
			if signer != nil {
				if err := signer.Attest(ctx, pref, SBOMType, path); err != nil {
					return nil, err
				}
			}
			f, err := fileDigest(path)
			if err != nil {
				return nil, err
			}
			f.Name = name
			files = append(files, f)
		}
	}
	return files, nil
}
