package runproof

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/image"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/docker"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/platform"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// runEnv skips the service's drain delay (time for a load balancer to notice, 5 s by default):
// there is none here, and the stop below is still the service's whole graceful shutdown.
var runEnv = []string{project.EnvPrefix + "DRAIN_DELAY=0s"}

// platformImage is one image to run.
type platformImage struct {
	ref      string
	platform platform.Platform
	pull     bool // from a registry; false: a local image
}

// Images runs every platform image of refs, each an image index or a single image pinned by
// digest in its registry (name@sha256:...), or a local image by tag. Each runs hardened as
// docker:run runs it, must answer /readyz, report its platform and wantVersion from `version`,
// pass `healthcheck` (run inside it with the image's own entrypoint) and exit 0 on SIGTERM.
// Containers, and images this check pulled, are removed however it ends. The error names
// every image that failed; one this machine cannot run is NOT RUN in its Result.
func (c Checker) Images(ctx context.Context, refs []string, wantVersion string) ([]Result, error) {
	if wantVersion == "" {
		return nil, errors.New("runproof: no version to expect from the images")
	}
	if len(refs) == 0 {
		return nil, errors.New("runproof: no image to run")
	}
	var results []Result
	var errs []error
	if _, err := (docker.CLI{}).ServerVersion(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, ref := range refs {
			results = append(results, Result{Kind: "image", Artifact: ref,
				NotRun: fmt.Sprintf("Docker is not available (%v): start the Docker daemon", err)})
		}
		return results, nil
	}
	for _, ref := range refs {
		imgs, err := c.platformImages(ctx, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, im := range imgs {
			r := c.image(ctx, im, wantVersion)
			if r.Err != nil && ctx.Err() != nil {
				// A step cut short by Ctrl-C fails in its own words ("exited"); say what happened.
				r.Err = fmt.Errorf("interrupted (%w): %w", ctx.Err(), r.Err)
			}
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("image %s (%s): %w", im.ref, im.platform, r.Err))
			}
			results = append(results, r)
			if ctx.Err() != nil {
				return results, errors.Join(errs...)
			}
		}
	}
	return results, errors.Join(errs...)
}

// platformImages lists what ref stands for: an index's platform images, or ref itself.
func (c Checker) platformImages(ctx context.Context, ref string) ([]platformImage, error) {
	name, _, pinned := strings.Cut(ref, "@")
	if !pinned {
		out, err := (docker.CLI{}).ImageInspect(ctx, ref, "{{.Os}}/{{.Architecture}}/{{.Variant}}")
		if err != nil {
			return nil, fmt.Errorf("image %s is neither pinned by digest (name@sha256:...) nor a local image: %w", ref, err)
		}
		p, err := ociPlatform(ref, strings.TrimSuffix(out, "/"))
		return []platformImage{{ref: ref, platform: p}}, err
	}
	if c.Crane == "" {
		return nil, fmt.Errorf("image %s: reading it from its registry needs crane (Checker.Crane)", ref)
	}
	out, err := run.Output(ctx, c.Crane, "manifest", ref)
	if err != nil {
		return nil, fmt.Errorf("reading image %s from its registry: %w", ref, err)
	}
	var m struct {
		Manifests []struct {
			Digest   string
			Platform struct {
				OS           string
				Architecture string
				Variant      string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", ref, err)
	}
	if len(m.Manifests) == 0 { // one image, not an index: its config names the platform
		out, err := run.Output(ctx, c.Crane, "config", ref)
		if err != nil {
			return nil, fmt.Errorf("reading the config of image %s: %w", ref, err)
		}
		var cfg struct{ OS, Architecture, Variant string }
		if err := json.Unmarshal([]byte(out), &cfg); err != nil {
			return nil, fmt.Errorf("image %s: config: %w", ref, err)
		}
		p, err := ociPlatform(ref, join(cfg.OS, cfg.Architecture, cfg.Variant))
		return []platformImage{{ref: ref, platform: p, pull: true}}, err
	}
	var imgs []platformImage
	for _, d := range m.Manifests {
		if d.Platform.OS == "unknown" {
			continue // buildx's attestation manifests (SBOM, provenance): nothing to run
		}
		p, err := ociPlatform(ref, join(d.Platform.OS, d.Platform.Architecture, d.Platform.Variant))
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, platformImage{ref: name + "@" + d.Digest, platform: p, pull: true})
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("image index %s lists no platform image", ref)
	}
	return imgs, nil
}

func join(goos, arch, variant string) string {
	if variant == "" {
		return goos + "/" + arch
	}
	return goos + "/" + arch + "/" + variant
}

// ociPlatform reads an OCI platform; arm64's "v8" is its only variant, so it is dropped.
func ociPlatform(ref, s string) (platform.Platform, error) {
	p, err := platform.Parse(strings.TrimSuffix(s, "/v8"))
	if err != nil {
		return p, fmt.Errorf("image %s: %w", ref, err)
	}
	return p, nil
}

func (c Checker) image(ctx context.Context, im platformImage, wantVersion string) Result {
	r := Result{Kind: "image", Artifact: im.ref, Platform: im.platform}
	if r.Handler, r.NotRun = How(c.binfmt(), im.platform); r.NotRun != "" {
		return r
	}
	// Interrupted or not, what this run made goes away.
	cleanup := context.WithoutCancel(ctx)
	if im.pull && !(docker.CLI{}).HasImage(ctx, im.ref) {
		if err := (docker.CLI{}).Pull(ctx, im.ref, im.platform.String()); err != nil {
			r.Err = err
			return r
		}
		defer func() { _ = (docker.CLI{}).RemoveImage(cleanup, im.ref) }()
	}
	info, err := image.Inspect(ctx, im.ref)
	if err != nil {
		r.Err = err
		return r
	}
	// The entrypoint is the image's own: a Dockerfile's /slipway, ko's /ko-app/slipway.
	entry := info.Config.Entrypoint
	if len(entry) == 0 {
		r.Err = errors.New("the image has no entrypoint: it cannot start the service, nor run `healthcheck`")
		return r
	}
	if info.Architecture != im.platform.Arch {
		r.Err = fmt.Errorf("its config says architecture %s, want %s", info.Architecture, im.platform.Arch)
		return r
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := project.Name + "-runproof-" + hex.EncodeToString(suffix)
	defer func() { _ = (docker.CLI{}).Remove(cleanup, name) }()

	start := time.Now()
	cont, err := image.Start(ctx, image.RunOptions{Image: im.ref, Name: name, Env: runEnv, Platform: im.platform.String()})
	if err != nil {
		r.Err = fmt.Errorf("it does not start (entrypoint %s): %w", strings.Join(entry, " "), err)
		return r
	}
	if err := cont.WaitReady(ctx, c.readyTimeout()); err != nil {
		r.Err = err
		return r
	}
	r.Time = time.Since(start)
	if r.Output, err = (docker.CLI{}).Exec(ctx, name, entry[0], "version"); err != nil {
		r.Err = err
		return r
	}
	if r.Err = checkVersion(r.Output, im.platform, wantVersion); r.Err != nil {
		return r
	}
	if _, err := (docker.CLI{}).Exec(ctx, name, entry[0], "healthcheck"); err != nil {
		r.Err = fmt.Errorf("healthcheck inside it failed: %w", err)
		return r
	}
	stop := time.Now()
	code, err := image.Stop(ctx, name, image.StopGrace)
	r.Stop = time.Since(stop)
	switch {
	case err != nil:
		r.Err = err
	case code != 0:
		r.Err = fmt.Errorf("on SIGTERM it exited with code %d, want 0; its last log lines:\n%s", code, cont.LogTail(cleanup, 20))
	}
	return r
}

func (c Checker) readyTimeout() time.Duration {
	if c.ReadyTimeout == 0 {
		return DefaultReadyTimeout
	}
	return c.ReadyTimeout
}
