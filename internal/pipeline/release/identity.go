package release

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/artifact"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/git"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
	"github.com/slipway-dev/slipway/internal/pipeline/offline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/provenance"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// GitHubIssuer is the OIDC issuer of GitHub Actions tokens: keyless signatures made by the
// release workflow carry it.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// VerifierFrom chooses what `mage verify` trusts, and describes it:
//   - VERIFY_KEY: a public key file or KMS URI;
//   - else COSIGN_KEY when it is a KMS URI (cosign reads the public half from the KMS);
//   - else VERIFY_CERT_IDENTITY and VERIFY_CERT_ISSUER: a keyless signer, e.g. the release
//     workflow of a downloaded release
//     (https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/vX.Y.Z and
//     https://token.actions.githubusercontent.com);
//   - else, inside the GitHub Actions job that signed keyless, that job's own workflow identity;
//   - else the project-local key, .slipway/cosign.pub.
//
// VERIFY_TRUSTED_ROOT names a Sigstore trusted-root file for keyless verification on a machine
// without network (cosign then never fetches Sigstore's from its TUF repository).
func VerifierFrom(s settings.Settings, root, cosign string) (sign.Verifier, string) {
	v, trust := verifierFrom(s, root, cosign)
	if v.TrustedRoot = s.VerifyTrustedRoot; v.TrustedRoot != "" {
		trust += ", trusted root " + v.TrustedRoot + " (" + TrustedRootEnv + ")"
	}
	return v, trust
}

// TrustedRootEnv names a Sigstore trusted-root file: `cosign trusted-root create`, or the
// trusted_root.json of Sigstore's TUF repository copied from a machine with network.
const TrustedRootEnv = "VERIFY_TRUSTED_ROOT"

func verifierFrom(s settings.Settings, root, cosign string) (sign.Verifier, string) {
	v := sign.Verifier{Cosign: cosign}
	switch {
	case s.VerifyKey != "":
		v.Key = s.VerifyKey
		return v, "public key " + v.Key + " (VERIFY_KEY)"
	case strings.Contains(s.CosignKey, "://"):
		v.Key = s.CosignKey
		return v, "the publishing key " + v.Key + " (COSIGN_KEY)"
	case s.VerifyCertIdentity != "" || s.VerifyCertIssuer != "":
		v.CertIdentity, v.CertIssuer = s.VerifyCertIdentity, s.VerifyCertIssuer
		return v, fmt.Sprintf("keyless signer %s from %s (VERIFY_CERT_IDENTITY, VERIFY_CERT_ISSUER)", v.CertIdentity, v.CertIssuer)
	case s.GitHubWorkflowRef != "" && s.ActionsIDTokenRequestURL != "":
		// GITHUB_WORKFLOW_REF is OWNER/REPO/.github/workflows/release.yml@refs/tags/vX.Y.Z:
		// exactly the subject Fulcio puts in the certificate of a workflow's keyless signature.
		v.CertIdentity = strings.TrimSuffix(s.GitHubServerURL, "/") + "/" + s.GitHubWorkflowRef
		v.CertIssuer = GitHubIssuer
		return v, "this workflow's keyless identity " + v.CertIdentity
	}
	v.Key = sign.LocalKey(root).Public
	return v, "the project-local key " + v.Key
}

// workflowsPath is where a GitHub workflow identity names its file: the repository is before it.
const workflowsPath = "/.github/workflows/"

// sourceRepository is the repository a release's provenance names as its source: the one the
// GitHub Actions job runs in, else the module's home (https://<module path>), which `mage init`
// makes the project's own.
func sourceRepository(root string, getenv func(string) string) string {
	if getenv("GITHUB_ACTIONS") == "true" && getenv("GITHUB_SERVER_URL") != "" && getenv("GITHUB_REPOSITORY") != "" {
		return strings.TrimSuffix(getenv("GITHUB_SERVER_URL"), "/") + "/" + getenv("GITHUB_REPOSITORY")
	}
	url, err := moduleURL(root)
	if err != nil {
		return ""
	}
	return url
}

// Expectation is what verify requires every provenance statement of the release to say, besides
// the artifact's digest: where it was built from and by whom.
type Expectation struct {
	Repository string // the source repository URL
	Commit     string // the full commit hash
	BuilderID  string // provenance.LocalBuilder, or the release workflow's identity
}

func (e Expectation) of(sha256 string) provenance.Expect {
	return provenance.Expect{SHA256: sha256, Repository: e.Repository, Commit: e.Commit, BuilderID: e.BuilderID}
}

func (e Expectation) String() string {
	return fmt.Sprintf("source %s at %s, built by %s", e.Repository, e.Commit, e.BuilderID)
}

// The settings that say what provenance verify expects.
const (
	RepositoryEnv = "VERIFY_SOURCE_REPOSITORY"
	CommitEnv     = "VERIFY_SOURCE_COMMIT"
	BuilderEnv    = "VERIFY_BUILDER_ID"
)

// ExpectationFrom chooses what verify requires of the provenance, and describes where each
// part came from:
//   - the repository: VERIFY_SOURCE_REPOSITORY, else the one a keyless identity names
//     (https://github.com/OWNER/REPO/.github/workflows/...), else this checkout's (sourceRepository);
//   - the commit: VERIFY_SOURCE_COMMIT, else this checkout's HEAD (check out the release's tag
//     to verify a downloaded release);
//   - the builder: VERIFY_BUILDER_ID, else the keyless identity (the workflow that signed is the
//     one that built), else inside GitHub Actions this workflow, else provenance.LocalBuilder.
func ExpectationFrom(ctx context.Context, s settings.Settings, root string, v sign.Verifier) (Expectation, string, error) {
	var e Expectation
	var from []string
	// pick sets dst from env, else from the first default with a value, and records which.
	type option struct{ value, from string }
	pick := func(dst *string, env, what string, defaults ...option) {
		if *dst = s.Getenv(env); *dst != "" {
			from = append(from, what+" from "+env)
			return
		}
		for _, d := range defaults {
			if d.value != "" {
				*dst = d.value
				from = append(from, what+" "+d.from)
				return
			}
		}
	}
	repo, _, keyless := strings.Cut(v.CertIdentity, workflowsPath)
	if !keyless {
		repo = ""
	}
	pick(&e.Repository, RepositoryEnv, "repository", option{repo, "from the signer's identity"},
		option{sourceRepository(root, s.Getenv), "of this checkout"})

	head, _ := git.Repo{Dir: root}.Head(ctx)
	pick(&e.Commit, CommitEnv, "commit", option{head, "is this checkout's HEAD"})

	ci := ""
	if s.GitHubActions {
		r, err := provenance.FromEnv(s.Getenv)
		if err != nil {
			return e, "", err
		}
		ci = r.BuilderID
	}
	pick(&e.BuilderID, BuilderEnv, "builder", option{v.CertIdentity, "is the signer's identity"},
		option{ci, "is this workflow"}, option{provenance.LocalBuilder, "is a local build"})

	var missing []string
	if e.Repository == "" {
		missing = append(missing, "no source repository: set "+RepositoryEnv)
	}
	if e.Commit == "" {
		missing = append(missing, root+" is not a git checkout with a commit: set "+CommitEnv+" to the release's commit")
	}
	if len(missing) > 0 {
		return e, "", fmt.Errorf("what the provenance must say is unknown: %s", strings.Join(missing, "; "))
	}
	return e, strings.Join(from, ", "), nil
}

// VerifyDist is `mage verify`: it checks the release in dist/ against its signed contents and
// VerifierFrom's trust, prints what it checked and fails naming every artifact that does
// not verify.
func VerifyDist(ctx context.Context, s settings.Settings, root, cosign, crane string, out io.Writer) error {
	v, trust := VerifierFrom(s, root, cosign)
	if err := v.Check(); err != nil {
		return err
	}
	want, from, err := ExpectationFrom(ctx, s, root, v)
	if err != nil {
		return err
	}
	dist := project.DistDir(root, s)
	fmt.Fprintf(out, "verifying %s against %s\nprovenance must say: %s (%s)\n", dist, trust, want, from)
	// A local release's images live in the project's loopback registry: make sure it answers.
	// (The contents are read unverified here only to learn that; Verify checks them first.)
	if c, err := artifact.ReadContents(dist); err == nil && slices.ContainsFunc(c.Images, func(i artifact.Image) bool { return onLoopback(i.Repo) }) {
		if _, err := registry.Project(ctx, root); err != nil {
			return err
		}
	}
	c, err := verifyAgainst(ctx, dist, v, want, crane, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "OK: %s signature; %d files match it; %s lists exactly its archives and SBOMs and its signature verifies; every archive has an SBOM\n",
		artifact.ContentsFile, len(c.Files), artifact.ChecksumsFile)
	fmt.Fprintf(out, "OK: provenance of every archive and image verifies and says: %s\n", want)
	attested := "SBOM, provenance and VEX"
	if c.NoVEX != "" {
		attested = "SBOM and provenance"
	}
	for _, img := range c.Images {
		var ps []string
		for _, p := range img.Platforms {
			ps = append(ps, p.String())
		}
		fmt.Fprintf(out, "OK: image %s (%s): in its registry, tags %s point at it, signature and %s attestations verify\n",
			img.Ref(), strings.Join(ps, ", "), strings.Join(img.Tags, ", "), attested)
	}
	if c.ArchivesOnly {
		fmt.Fprintf(out, "OK: no images, as the signed %s says (archives_only)\n", artifact.ContentsFile)
	}
	if c.NoVEX != "" {
		fmt.Fprintf(out, "NOTE: no VEX document, as the signed %s says: %s\n", artifact.ContentsFile, c.NoVEX)
	}
	for _, n := range c.Notes {
		fmt.Fprintf(out, "NOTE: %s\n", n)
	}
	return nil
}

// onLoopback reports whether an image repository is on this machine's loopback registry.
func onLoopback(repo string) bool {
	host, _, _ := strings.Cut(repo, "/")
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}
