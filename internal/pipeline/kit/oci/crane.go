// Package oci is the pipeline's client of image registries: crane, the pinned tool, behind one
// method per question, so that the stages read digests, manifests and tags the same way and
// tell "not there" from "cannot ask" the same way.
package oci

import (
	"context"
	"errors"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
)

// Crane runs the pinned crane at Bin (tools.Path(ctx, root, "crane")). Credentials come from
// $DOCKER_CONFIG/config.json, as docker's do.
type Crane struct{ Bin string }

func (c Crane) output(ctx context.Context, args ...string) (string, error) {
	return run.Output(ctx, c.Bin, args...)
}

// Digest is the digest ref (repo:tag or repo@digest) names in its registry.
func (c Crane) Digest(ctx context.Context, ref string) (string, error) {
	return c.output(ctx, "digest", ref)
}

// Lookup is Digest with found false when the registry has no such tag or repository. Any other
// failure (credentials, TLS, network) is an error, never "absent".
func (c Crane) Lookup(ctx context.Context, ref string) (digest string, found bool, err error) {
	digest, err = c.Digest(ctx, ref)
	if NotFound(err) {
		return "", false, nil
	}
	return digest, err == nil, err
}

// Manifest is the manifest or index ref names, as the registry serves it (JSON).
func (c Crane) Manifest(ctx context.Context, ref string) (string, error) {
	return c.output(ctx, "manifest", ref)
}

// Config is the image config of ref for platform (e.g. linux/amd64), as JSON.
func (c Crane) Config(ctx context.Context, ref, platform string) (string, error) {
	return c.output(ctx, "config", "--platform", platform, ref)
}

// Tags lists the tags of repo.
func (c Crane) Tags(ctx context.Context, repo string) ([]string, error) {
	out, err := c.output(ctx, "ls", repo)
	return strings.Fields(out), err
}

// Copy copies src (repo@digest) to dst with everything it names; crane keeps the digest, and for
// a manifest with a subject updates dst's referrers.
func (c Crane) Copy(ctx context.Context, src, dst string) error {
	_, err := c.output(ctx, "copy", src, dst)
	return err
}

// Tag points tag at ref (repo@digest) in ref's repository.
func (c Crane) Tag(ctx context.Context, ref, tag string) error {
	_, err := c.output(ctx, "tag", ref, tag)
	return err
}

// CanPush asks the registry for a token with push scope on repo: it proves a login where
// registries deny reading a repository that does not exist yet (Docker Hub).
func (c Crane) CanPush(ctx context.Context, repo string) error {
	_, err := c.output(ctx, "auth", "token", "--push", repo)
	return err
}

// NotFound recognizes a registry's "no such manifest or repository" in crane's error.
func NotFound(err error) bool {
	return outputHas(err, "MANIFEST_UNKNOWN", "NAME_UNKNOWN", "NOT_FOUND", "404 Not Found")
}

// Denied recognizes a registry's refusal of the credentials (or of anonymous access).
func Denied(err error) bool {
	return outputHas(err, "UNAUTHORIZED", "DENIED")
}

func outputHas(err error, marks ...string) bool {
	var re *run.Error
	if !errors.As(err, &re) {
		return false
	}
	for _, s := range marks {
		if strings.Contains(re.Output, s) {
			return true
		}
	}
	return false
}
