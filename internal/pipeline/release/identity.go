package release

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/project"
	"github.com/slipway-dev/slipway/internal/pipeline/registry"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// GitHubIssuer is the OIDC issuer of GitHub Actions tokens: keyless signatures made by the
// release workflow carry it.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// VerifierFromEnv chooses what `mage verify` trusts, and describes it:
//   - VERIFY_KEY: a public key file or KMS URI;
//   - else COSIGN_KEY when it is a KMS URI (cosign reads the public half from the KMS);
//   - else VERIFY_CERT_IDENTITY and VERIFY_CERT_ISSUER: a keyless signer, e.g. the release
//     workflow of a downloaded release
//     (https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/vX.Y.Z and
//     https://token.actions.githubusercontent.com);
//   - else, inside the GitHub Actions job that signed keyless, that job's own workflow identity;
//   - else the project-local key, .slipway/cosign.pub.
func VerifierFromEnv(root, cosign string) (sign.Verifier, string) {
	v := sign.Verifier{Cosign: cosign}
	switch {
	case os.Getenv("VERIFY_KEY") != "":
		v.Key = os.Getenv("VERIFY_KEY")
		return v, "public key " + v.Key + " (VERIFY_KEY)"
	case strings.Contains(os.Getenv("COSIGN_KEY"), "://"):
		v.Key = os.Getenv("COSIGN_KEY")
		return v, "the publishing key " + v.Key + " (COSIGN_KEY)"
	case os.Getenv("VERIFY_CERT_IDENTITY") != "" || os.Getenv("VERIFY_CERT_ISSUER") != "":
		v.CertIdentity, v.CertIssuer = os.Getenv("VERIFY_CERT_IDENTITY"), os.Getenv("VERIFY_CERT_ISSUER")
		return v, fmt.Sprintf("keyless signer %s from %s (VERIFY_CERT_IDENTITY, VERIFY_CERT_ISSUER)", v.CertIdentity, v.CertIssuer)
	case os.Getenv("GITHUB_WORKFLOW_REF") != "" && os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != "":
		// GITHUB_WORKFLOW_REF is OWNER/REPO/.github/workflows/release.yml@refs/tags/vX.Y.Z:
		// exactly the subject Fulcio puts in the certificate of a workflow's keyless signature.
		v.CertIdentity = strings.TrimSuffix(os.Getenv("GITHUB_SERVER_URL"), "/") + "/" + os.Getenv("GITHUB_WORKFLOW_REF")
		v.CertIssuer = GitHubIssuer
		return v, "this workflow's keyless identity " + v.CertIdentity
	}
	v.Key = sign.LocalKey(root).Public
	return v, "the project-local key " + v.Key
}

// VerifyDist is `mage verify`: it checks the release in dist/ against its signed contents and
// VerifierFromEnv's trust, prints what it checked and fails naming every artifact that does
// not verify.
func VerifyDist(ctx context.Context, root, cosign, crane string, out io.Writer) error {
	v, trust := VerifierFromEnv(root, cosign)
	if err := v.Check(); err != nil {
		return err
	}
	dist := project.DistDir(root)
	fmt.Fprintf(out, "verifying %s against %s\n", dist, trust)
	// A local release's images live in the project's loopback registry: make sure it answers.
	// (The contents are read unverified here only to learn that; Verify checks them first.)
	if c, err := ReadContents(dist); err == nil && slices.ContainsFunc(c.Images, func(i Image) bool { return onLoopback(i.Repo) }) {
		if _, err := registry.Project(ctx, root); err != nil {
			return err
		}
	}
	c, err := Verify(ctx, dist, v, crane, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "OK: %s signature; %d files match it; %s lists exactly its archives and SBOMs and its signature verifies; every archive has an SBOM\n",
		ContentsFile, len(c.Files), ChecksumsFile)
	for _, img := range c.Images {
		var ps []string
		for _, p := range img.Platforms {
			ps = append(ps, p.String())
		}
		fmt.Fprintf(out, "OK: image %s (%s): in its registry, tags %s point at it, signature and SBOM attestations verify\n",
			img.Ref(), strings.Join(ps, ", "), strings.Join(img.Tags, ", "))
	}
	if c.ArchivesOnly {
		fmt.Fprintf(out, "OK: no images, as the signed %s says (archives_only)\n", ContentsFile)
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
