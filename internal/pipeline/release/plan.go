package release

import (
	"fmt"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// State is what decides between publishing and a local release, read from git and the
// environment (see ReadState) so the decision itself is a pure function.
type State struct {
	Tag       string // the release tag on HEAD (vX.Y.Z...), "" when HEAD has none
	Dirty     bool   // uncommitted changes
	Registry  string // SLIPWAY_REGISTRY: where published images go, e.g. ghcr.io/acme
	CosignKey string // COSIGN_KEY: the publishing key (path or KMS URI)
	OIDC      bool   // a CI OIDC token can be requested: keyless signing works
	Offline   bool   // SLIPWAY_OFFLINE: nothing may be published
	TagBuild  bool   // CI started this build for a tag push: it exists to publish
}

// ReadState fills the environment part of State; the caller adds Tag and Dirty from git.
func ReadState(s settings.Settings) State {
	return State{
		Registry:  strings.TrimSuffix(s.Registry, "/"),
		CosignKey: s.CosignKey,
		// GitHub Actions with `permissions: id-token: write`, or a token handed to cosign.
		OIDC:     s.ActionsIDTokenRequestURL != "" || s.SigstoreToken != "",
		Offline:  s.Offline,
		TagBuild: s.GitHubRefType == "tag",
	}
}

// Plan is the decision: publish, or build everything locally.
type Plan struct {
	Publish bool
	// Why not publishing, one reason per missing condition (empty when publishing).
	Local []string
	// Signing identity: "key" (COSIGN_KEY or the local key) or "keyless".
	Identity string
}

// Decide publishes only when everything a real release needs is there: an exact tag, a clean
// tree, a registry and an identity to sign with. Anything less builds a complete local release,
// and says why. A CI build started by a tag push must publish, so there it is an error.
func Decide(s State, skip Skips) (Plan, error) {
	var missing []string
	if s.Tag == "" {
		missing = append(missing, "HEAD has no release tag (vX.Y.Z)")
	}
	if s.Dirty {
		missing = append(missing, "the tree has uncommitted changes")
	}
	if s.Registry == "" {
		missing = append(missing, "SLIPWAY_REGISTRY is not set")
	}
	if s.CosignKey == "" && !s.OIDC {
		missing = append(missing, "no signing identity: set COSIGN_KEY, or run in CI with an OIDC token (id-token: write)")
	}
	if s.Offline {
		missing = append(missing, "SLIPWAY_OFFLINE is set")
	}
	if len(missing) > 0 {
		if s.TagBuild {
			return Plan{}, fmt.Errorf("this CI build of tag %q must publish, but cannot: %s", s.Tag, strings.Join(missing, "; "))
		}
		return Plan{Local: missing, Identity: "key"}, nil
	}
	if len(skip) > 0 {
		return Plan{}, fmt.Errorf("a publishing release runs every stage: unset SKIP (%s), or build a local release", skip)
	}
	p := Plan{Publish: true, Identity: "keyless"}
	if s.CosignKey != "" {
		p.Identity = "key"
	}
	return p, nil
}

// Stages a local release can be asked to skip with SKIP=stage,...
var Stages = []struct{ Name, What string }{
	{"images", "multi-platform images: build, push to the loopback registry, sign, SBOM, scan"},
	{"sbom", "SBOMs of archives and images"},
	{"sign", "signatures of the checksums file and images, and their SBOM, provenance and VEX attestations"},
	{"scan", "the scan gate (Trivy, govulncheck) and the VEX document made of govulncheck's verdict"},
	{"verify", "verifying the finished release"},
}

// Skips is the set of stages SKIP names.
type Skips []string

// ParseSkip reads SKIP ("images,scan"): unknown names are an error, so a typo skips nothing
// silently.
func ParseSkip(v string) (Skips, error) {
	var s Skips
	for f := range strings.SplitSeq(v, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" || slices.Contains(s, f) {
			continue
		}
		if !slices.ContainsFunc(Stages, func(st struct{ Name, What string }) bool { return st.Name == f }) {
			var names []string
			for _, st := range Stages {
				names = append(names, st.Name)
			}
			return nil, fmt.Errorf("SKIP: unknown stage %q; stages that can be skipped: %s", f, strings.Join(names, ", "))
		}
		s = append(s, f)
	}
	return s, nil
}

// Has reports whether stage is skipped.
func (s Skips) Has(stage string) bool { return slices.Contains(s, stage) }

func (s Skips) String() string { return "SKIP=" + strings.Join(s, ",") }
