package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// publish releases for real, in two phases, so that nothing goes out before the scan gate:
//
//  1. stage: the whole release is built with images pushed to the loopback registry and nothing
//     signed (a keyless signature would already be public, in the transparency log); the scan
//     gate runs and must include a vulnerability scan.
//  2. publish: goreleaser runs again with the real registry, the signing identity and the
//     GitHub release. The build is reproducible (the archives byte for byte, the images'
//     platform manifests by digest; only BuildKit's provenance records its build time), so
//     what goes out is what was scanned, and the release checks it: any archive or platform
//     image that differs from phase 1 fails it, by name.
func publish(ctx context.Context, o Options, st *stages, in inputs, plan Plan) error {
	infra, err := startImageInfra(ctx, o, st, in)
	if err != nil {
		return err
	}
	b, err := buildStaged(ctx, o, st, in, infra, stagedBuild{sign: false, publish: true})
	if err != nil {
		return err
	}
	if b.notScanned != nil {
		return fmt.Errorf("refusing to publish %s: %w", in.version, b.notScanned)
	}
	dist := project.DistDir(o.Root)
	staged, err := fingerprint(ctx, dist, in.crane)
	if err != nil {
		return err
	}

	signer := sign.Signer{Cosign: in.cosign, Key: in.state.CosignKey, Tlog: true}
	v, _ := VerifierFromEnv(o.Root, in.cosign)
	env := slices.Concat(infra.env, signer.Env(), in.goreleaserEnv(true),
		[]string{"SLIPWAY_IMAGE=" + in.state.Registry + "/" + project.Name})
	// --clean empties dist/: keep the scan reports of the images that are about to go out.
	reports, kept := filepath.Join(dist, "scan"), filepath.Join(project.StateDir(o.Root), "scan-of-release")
	os.RemoveAll(kept)
	if err := os.Rename(reports, kept); err != nil {
		return err
	}
	if err := runGoreleaser(ctx, st, in, env, []string{"release", "--clean"}); err != nil {
		return err
	}
	if err := os.Rename(kept, reports); err != nil {
		return err
	}
	if err := signImages(ctx, st, dist, signer); err != nil {
		return err
	}
	if err := st.run("image SBOMs", func() (string, error) {
		files, err := ImageSBOMs(ctx, dist, project.Name, in.version, in.trivy, in.crane, &signer)
		b.imageSBOMs = files
		return fmt.Sprintf("%d written and attested", len(files)), err
	}); err != nil {
		return err
	}
	if err := st.run("same as scanned", func() (string, error) {
		published, err := fingerprint(ctx, dist, in.crane)
		if err != nil {
			return "", err
		}
		if diff := staged.differences(published); len(diff) > 0 {
			return "", fmt.Errorf("published artifacts differ from the scanned ones (the build is not reproducible): %v", diff)
		}
		return "", nil
	}); err != nil {
		return err
	}
	return finish(ctx, o, st, in, plan, b, v)
}

// prints identifies a release's content: each archive's digest, each platform image's digest.
type prints struct {
	files  map[string]string
	images []string // os/arch=sha256:...
}

func fingerprint(ctx context.Context, dist, crane string) (prints, error) {
	p := prints{files: map[string]string{}}
	sums, err := readChecksums(filepath.Join(dist, ChecksumsFile))
	if err != nil {
		return p, err
	}
	for name, sum := range sums {
		if isArchive(name) {
			p.files[name] = sum
		}
	}
	recs, err := ReadImages(dist)
	if err != nil {
		return p, err
	}
	for _, r := range recs {
		ps, err := IndexPlatforms(ctx, crane, r.Repo+"@"+r.Digest)
		if err != nil {
			return p, err
		}
		for _, pl := range ps {
			p.images = append(p.images, pl.String()+"="+pl.Digest)
		}
	}
	slices.Sort(p.images)
	return p, nil
}

func (a prints) differences(b prints) []string {
	var d []string
	for name, sum := range a.files {
		if b.files[name] != sum {
			d = append(d, name)
		}
	}
	for name := range b.files {
		if _, ok := a.files[name]; !ok {
			d = append(d, name+" (not scanned)")
		}
	}
	if !slices.Equal(a.images, b.images) {
		d = append(d, fmt.Sprintf("images: scanned %v, published %v", a.images, b.images))
	}
	slices.Sort(d)
	return d
}
