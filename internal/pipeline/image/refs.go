// Package image builds, sizes and runs the service's container images, and is the one place
// that names upstream images.
//
// Every image the pipeline builds FROM is listed below, pinned by digest. Where it is taken from
// is a Source: upstream (the default), a mirror registry (SLIPWAY_IMAGE_MIRROR=host/prefix), or,
// with SLIPWAY_OFFLINE=1, the project's own loopback registry filled with stand-ins by
// internal/pipeline/offline/standin. The Dockerfiles carry the same references as ARG defaults for a
// plain `docker build`; a test keeps the two in step.
package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/oci"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/preflight"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// Ref is an upstream image: a tag for people to read, a digest for the machines to trust.
type Ref struct {
	Registry string // docker.io, gcr.io
	Path     string // library/golang, distroless/static-debian12
	Tag      string
	Digest   string // of the multi-platform index
}

// The upstream images. The digests are the multi-platform indexes that public, digest-pinned
// Dockerfiles used for these tags in 2026 (this machine cannot reach a registry to ask); to
// refresh one: `crane digest <registry>/<path>:<tag>`, then update the Dockerfiles' ARG defaults
// (TestDockerfileDefaultsMatchRefs says which).
var (
	// Go is the builder of the multi-stage Dockerfile: the Go release go.mod's toolchain uses.
	Go = Ref{"docker.io", "library/golang", "1.26.8", "sha256:3c3e25a4da13fd0478eed2df1eb35a0e667094a7124d3993a6a1d30f71c17e79"}
	// Alpine is the multi-stage Dockerfile's runtime: a shell and busybox for people who want them.
	Alpine = Ref{"docker.io", "library/alpine", "3.24.2", "sha256:294b683cb724975bec92580e1e685676bd4b50bda910ddb8c51d4cabeaec77e6"}
	// Distroless is the base of the image releases ship (Dockerfile.distroless): CA bundle,
	// tzdata, /etc/passwd with nonroot (65532), nothing else.
	Distroless = Ref{"gcr.io", "distroless/static-debian12", "nonroot", "sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab"}
)

// Upstream lists every upstream image, for setup (stand-ins) and docs.
var Upstream = []Ref{Go, Alpine, Distroless}

// String is the full reference, tag and digest: what a Dockerfile pins.
func (r Ref) String() string {
	return r.Registry + "/" + r.Path + ":" + r.Tag + "@" + r.Digest
}

// MirrorPath is where the image lives under a mirror prefix: the upstream path without the
// registry host and without Docker Hub's implicit "library/" (docker.io/library/golang ->
// golang, gcr.io/distroless/static-debian12 -> distroless/static-debian12). It is the path
// `crane copy` would be given when filling a mirror.
func (r Ref) MirrorPath() string {
	if r.Registry == "docker.io" {
		return strings.TrimPrefix(r.Path, "library/")
	}
	return r.Path
}

// In is the tagged reference of the image in the mirror at prefix (host[:port][/path]).
func (r Ref) In(prefix string) string {
	return prefix + "/" + r.MirrorPath() + ":" + r.Tag
}

// Settings names, for messages.
const (
	MirrorEnv  = project.EnvPrefix + "IMAGE_MIRROR"
	OfflineEnv = project.EnvPrefix + "OFFLINE"
)

// StandInPrefix is the repository prefix of the stand-ins in the project's registry.
const StandInPrefix = "mirror"

// Source says where upstream images come from.
type Source struct {
	// Mirror is host[:port][/prefix]; empty means upstream.
	Mirror string
	// StandIns: the mirror is the project's registry holding stand-ins, whose digests differ
	// from upstream's; they are looked up there (and printed loudly) rather than assumed.
	StandIns bool
	// Crane is the pinned crane binary, needed to look up stand-in digests and labels.
	Crane string
}

// ShipStandInsEnv (set to 1) is for the pipeline's own end-to-end test of publishing, never for a real
// release: that test cannot pull a real base image, so the mirror (MirrorEnv) holds stand-ins
// (looked up by tag, as offline mode does) and a publishing release may ship images built on
// them. The images keep StandInLabel, so they still say what they are; a CI tag build refuses it.
const ShipStandInsEnv = project.EnvPrefix + "TEST_ONLY_SHIP_STANDINS"

// ShipStandIns reports whether ShipStandInsEnv is set (SourceFrom checks its value).
func ShipStandIns(s settings.Settings) bool { return s.ShipStandIns == "1" }

// SourceFrom reads SLIPWAY_IMAGE_MIRROR, SLIPWAY_OFFLINE and ShipStandInsEnv from s. registryAddr is
// the project's loopback registry (only used offline); crane is the pinned crane binary.
func SourceFrom(s settings.Settings, registryAddr, crane string) (Source, error) {
	mirror := s.ImageMirror
	if v := s.ShipStandIns; v != "" && (v != "1" || mirror == "") {
		return Source{}, fmt.Errorf("%s=%q: test only, and only =1 with %s naming the registry that holds the stand-ins; unset it",
			ShipStandInsEnv, v, MirrorEnv)
	}
	if s.Offline {
		if mirror != "" {
			return Source{}, fmt.Errorf("%s=1 takes images from the project's own registry, but %s=%s names another mirror: unset one of them",
				OfflineEnv, MirrorEnv, mirror)
		}
		return Source{Mirror: registryAddr + "/" + StandInPrefix, StandIns: true, Crane: crane}, nil
	}
	if mirror == "" {
		return Source{}, nil
	}
	m, err := ParseMirror(mirror)
	if err != nil {
		return Source{}, err
	}
	return Source{Mirror: m, StandIns: ShipStandIns(s), Crane: crane}, nil
}

// A mirror prefix: a registry host (with an optional port) and an optional path, lower case.
var mirrorRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)

// ParseMirror checks a SLIPWAY_IMAGE_MIRROR value and drops a trailing slash.
func ParseMirror(s string) (string, error) {
	m := strings.TrimSuffix(strings.TrimSpace(s), "/")
	if !mirrorRE.MatchString(m) {
		return "", fmt.Errorf("%s=%q is not a registry prefix: want host[:port][/path] in lower case with no scheme or tag, e.g. mirror.example.com/upstream",
			MirrorEnv, s)
	}
	return m, nil
}

// Resolved is an upstream image as this build will use it.
type Resolved struct {
	Upstream Ref
	Ref      string // what FROM gets: always pinned by digest
	StandIn  bool   // an offline stand-in, not the upstream image
}

// Resolve says which image to build from instead of r:
//   - upstream: r itself, tag and digest;
//   - a mirror: the same digest under the mirror (a `crane copy` keeps digests, so the pin still
//     holds, and a mirror that altered the image fails the build);
//   - offline: the stand-in's own digest, read from the project's registry, because a stand-in
//     is a different image from the upstream one. The build stays pinned to what setup pushed.
func (s Source) Resolve(ctx context.Context, r Ref) (Resolved, error) {
	switch {
	case s.Mirror == "":
		return Resolved{Upstream: r, Ref: r.String()}, nil
	case !s.StandIns:
		return Resolved{Upstream: r, Ref: r.In(s.Mirror) + "@" + r.Digest}, nil
	}
	tagged := r.In(s.Mirror)
	digest, err := run.Output(ctx, s.Crane, "digest", tagged)
	if err != nil {
		return Resolved{}, fmt.Errorf("offline stand-in %s is missing (it stands in for %s): run `%s=1 mage setup`: %w",
			tagged, r, OfflineEnv, err)
	}
	pinned := tagged + "@" + digest
	// The project's registry may also hold a real copy of the upstream image: only the label
	// tells a stand-in.
	labels, err := Labels(ctx, s.Crane, pinned, "linux/amd64")
	if err != nil {
		return Resolved{}, err
	}
	return Resolved{Upstream: r, Ref: pinned, StandIn: IsStandIn(labels)}, nil
}

// StandInLabel marks an offline stand-in; its value names the upstream image it replaces.
// Docker copies a base image's labels into every image built FROM it, so an image built on a
// stand-in carries the label too, and a release can see what it would ship.
const StandInLabel = "dev.slipway.standin"

// IsStandIn reports whether image config labels mark a stand-in (or an image built on one).
func IsStandIn(labels map[string]string) bool {
	return labels[StandInLabel] != ""
}

// CheckShippable refuses an image built on a stand-in unless offline mode (or the test-only
// ShipStandInsEnv) was asked for: a stand-in is a local imitation of an upstream image, fine for
// trying the pipeline offline, never something to publish by accident.
func CheckShippable(ref string, labels map[string]string, s settings.Settings) error {
	if !IsStandIn(labels) || s.Offline || ShipStandIns(s) {
		return nil
	}
	return fmt.Errorf("%s is built on an offline stand-in for %s (label %s), not on the upstream image: "+
		"rebuild it without %s=1 (or with %s pointing at a real mirror), or set %s=1 to make a local release on purpose",
		ref, labels[StandInLabel], StandInLabel, OfflineEnv, MirrorEnv, OfflineEnv)
}

// Labels reads the image config labels of ref (for platform, e.g. linux/amd64) from its registry.
func Labels(ctx context.Context, crane, ref, platform string) (map[string]string, error) {
	out, err := oci.Crane{Bin: crane}.Config(ctx, ref, platform)
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	var cfg struct {
		Config struct {
			Labels map[string]string
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		return nil, fmt.Errorf("config of %s: %w", ref, err)
	}
	return cfg.Config.Labels, nil
}

// ErrNoBuildx is returned when the Docker CLI has no buildx plugin.
var ErrNoBuildx = errors.New("docker buildx not found: docker:build installs the pinned buildx as a Docker CLI plugin " +
	"into $DOCKER_CONFIG/cli-plugins (so does `mage setup`); if it is there, check that `docker buildx version` works")

// RegistryCheck is the preflight check that the registry r is fetched from answers: the
// mirror's, or r's own. Offline (stand-ins) there is nothing to reach.
func (s Source) RegistryCheck(r Ref) preflight.Check {
	host := r.Registry
	if s.Mirror != "" {
		host, _, _ = strings.Cut(s.Mirror, "/")
	}
	if host == "docker.io" {
		host = "registry-1.docker.io" // Docker Hub's API host
	}
	scheme := "https"
	if h, _, err := net.SplitHostPort(host); (err == nil && isLoopback(h)) || isLoopback(host) {
		scheme = "http"
	}
	fix := fmt.Sprintf("the base image %s cannot be fetched; on a machine that cannot pull, set %s=1 (stand-ins built locally) "+
		"or %s=host/prefix (a mirror that holds it)", r, OfflineEnv, MirrorEnv)
	if s.Mirror != "" {
		fix = fmt.Sprintf("the mirror %s=%s does not answer; check it, or unset it", MirrorEnv, s.Mirror)
	}
	return preflight.Reachable("base image registry", scheme+"://"+host+"/v2/", fix)
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
