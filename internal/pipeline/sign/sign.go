// Package sign signs and verifies what a release ships, with cosign: files (the checksums file)
// with Sigstore bundles, in-toto statements about files (provenance) as attestation bundles,
// container images by digest in their registry, and attestations (SBOM, provenance, VEX) on
// images.
//
// Two identities exist. A key (a path or a KMS URI in COSIGN_KEY, or the project-local pair in
// .slipway/ that a local release generates on first use) signs without any network: no
// transparency log, no signing config from Sigstore's TUF repository. Keyless signing (no key:
// cosign gets a certificate for the CI job's OIDC identity) needs Fulcio and Rekor online;
// verifying it needs the certificate identity and issuer, and Sigstore's trusted root: from its
// TUF repository online, or from a file (TrustedRoot) on a machine without network. Every command line is built here, so
// the release, `mage verify` and the summary's "verify it yourself" commands cannot drift apart.
package sign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/project"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/settings"
)

// PasswordEnv is the variable cosign reads the private key's password from.
const PasswordEnv = "COSIGN_PASSWORD"

// KeyPair is a cosign key pair on disk.
type KeyPair struct {
	Private string // encrypted with COSIGN_PASSWORD
	Public  string
}

// LocalKey is the project-local pair: .slipway/cosign.key and .slipway/cosign.pub (git-ignored).
func LocalKey(root string) KeyPair {
	dir := project.StateDir(root)
	return KeyPair{Private: filepath.Join(dir, "cosign.key"), Public: filepath.Join(dir, "cosign.pub")}
}

// Ensure generates the pair unless both halves exist, and says whether it did. Half a pair is an
// error rather than something to overwrite: a lost public key is recoverable, a silently
// replaced private key makes every earlier signature unverifiable.
func (k KeyPair) Ensure(ctx context.Context, cosign string) (created bool, err error) {
	_, errPriv := os.Stat(k.Private)
	_, errPub := os.Stat(k.Public)
	switch {
	case errPriv == nil && errPub == nil:
		return false, nil
	case errPriv == nil || errPub == nil:
		return false, fmt.Errorf("half a cosign key pair: %s and %s must both exist; "+
			"restore the missing file, or delete both to generate a new pair (earlier signatures will no longer verify)",
			k.Private, k.Public)
	case !errors.Is(errPriv, os.ErrNotExist):
		return false, errPriv
	}
	if !settings.Current().CosignPassword {
		return false, fmt.Errorf("%s is not set: cosign encrypts the new signing key %s with it; "+
			"export %s=<password> (empty is allowed but leaves the key unprotected)", PasswordEnv, k.Private, PasswordEnv)
	}
	dir := filepath.Dir(k.Private)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	// Generate in a scratch directory and move both halves into place, so an interrupted run
	// never leaves half a pair behind.
	tmp, err := os.MkdirTemp(dir, "cosign-keygen-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	prefix := filepath.Join(tmp, "cosign")
	if err := (run.Cmd{Dir: tmp}).Run(ctx, cosign, "generate-key-pair", "--output-key-prefix", prefix); err != nil {
		return false, fmt.Errorf("generating the signing key: %w", err)
	}
	if err := os.Rename(prefix+".pub", k.Public); err != nil {
		return false, err
	}
	if err := os.Rename(prefix+".key", k.Private); err != nil {
		os.Remove(k.Public)
		return false, err
	}
	return true, nil
}

// CheckPassword proves COSIGN_PASSWORD opens the private key, in a fraction of a second, so a
// wrong password fails before a release builds anything rather than at its signing step. A key
// that does not exist yet passes: Ensure makes it with that password.
func (k KeyPair) CheckPassword(ctx context.Context, cosign string) error {
	if _, err := os.Stat(k.Private); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := run.Run(ctx, cosign, "public-key", "--key", k.Private); err != nil {
		return fmt.Errorf("%s does not open %s (%v): export the password the key was made with, "+
			"or, for the local key, delete %s and its .pub to make a new pair (earlier local signatures will no longer verify)",
			PasswordEnv, k.Private, run.Brief(err), k.Private)
	}
	return nil
}

// Signer signs with a key, or keyless when Key is empty.
type Signer struct {
	Cosign string // the cosign binary
	Key    string // private key: a path or a KMS URI; "" signs keyless (OIDC, online)
	// Tlog records signatures in the public transparency log (Rekor) and takes the service URLs
	// from Sigstore's signing config. Off for the local key: signing then needs no network.
	Tlog bool
}

// Env is the signing identity for goreleaser's `signs` and `docker_signs` (.goreleaser.yaml
// reads these variables), so goreleaser signs exactly as Signer does.
func (s Signer) Env() []string {
	return []string{"COSIGN_KEY=" + s.Key, fmt.Sprintf("SLIPWAY_SIGN_TLOG=%t", s.Tlog)}
}

// Flags are the options every signing command shares.
func (s Signer) Flags() []string {
	var f []string
	if s.Key != "" {
		f = append(f, "--key="+s.Key)
	}
	// cosign v3 reads a signing config from TUF by default, which also forbids
	// --tlog-upload=false; both must be off together to sign offline.
	return append(f, fmt.Sprintf("--tlog-upload=%t", s.Tlog), fmt.Sprintf("--use-signing-config=%t", s.Tlog), "--yes")
}

// SignBlob writes a Sigstore bundle for file (signature, and the certificate when keyless).
func (s Signer) SignBlob(ctx context.Context, file, bundle string) error {
	args := append([]string{"sign-blob"}, s.Flags()...)
	args = append(args, "--bundle="+bundle, file)
	if err := (run.Cmd{}).Run(ctx, s.Cosign, args...); err != nil {
		return fmt.Errorf("signing %s: %w", file, err)
	}
	return nil
}

// SignImage signs an image by digest and stores the signature in its registry.
func (s Signer) SignImage(ctx context.Context, ref string) error {
	if err := requireDigest(ref); err != nil {
		return err
	}
	args := append([]string{"sign"}, s.Flags()...)
	if err := (run.Cmd{}).Run(ctx, s.Cosign, append(args, ref)...); err != nil {
		return fmt.Errorf("signing image %s: %w", ref, err)
	}
	return nil
}

// AttestBlob signs an in-toto statement as is (its subjects name the files it is about) and
// writes it, in a DSSE envelope with the signature, to a Sigstore bundle: one bundle can attest
// many files.
func (s Signer) AttestBlob(ctx context.Context, statement, bundle string) error {
	args := append([]string{"attest-blob"}, s.Flags()...)
	args = append(args, "--statement="+statement, "--bundle="+bundle)
	if err := (run.Cmd{}).Run(ctx, s.Cosign, args...); err != nil {
		return fmt.Errorf("attesting %s: %w", statement, err)
	}
	return nil
}

// Attest attaches a signed in-toto attestation (for example an SBOM, predicateType "cyclonedx")
// to an image by digest.
func (s Signer) Attest(ctx context.Context, ref, predicateType, predicate string) error {
	if err := requireDigest(ref); err != nil {
		return err
	}
	args := append([]string{"attest"}, s.Flags()...)
	args = append(args, "--type="+predicateType, "--predicate="+predicate, ref)
	if err := (run.Cmd{}).Run(ctx, s.Cosign, args...); err != nil {
		return fmt.Errorf("attesting %s for image %s: %w", predicateType, ref, err)
	}
	return nil
}

// Verifier checks signatures against a public key, or a keyless certificate identity.
type Verifier struct {
	Cosign string
	Key    string // public key (path or KMS URI); "" means keyless
	// Keyless: who must have signed, e.g.
	// https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/tags/v1.2.3
	// and https://token.actions.githubusercontent.com.
	CertIdentity, CertIssuer string
	// TrustedRoot is a Sigstore trusted-root file (the CAs, transparency logs and timestamp
	// authorities keyless signatures chain to): given, cosign reads it instead of fetching
	// Sigstore's from its TUF repository, so keyless verification needs no network.
	TrustedRoot string
}

// Check reports a verifier that could not verify anything.
func (v Verifier) Check() error {
	switch {
	case v.Key != "" && (v.CertIdentity != "" || v.CertIssuer != ""):
		return errors.New("verify with a public key or a keyless certificate identity, not both")
	case v.Key == "" && (v.CertIdentity == "" || v.CertIssuer == ""):
		return errors.New("nothing to verify against: give a public key, or both the certificate identity " +
			"and the OIDC issuer of a keyless signature")
	case v.TrustedRoot != "":
		if _, err := os.Stat(v.TrustedRoot); err != nil {
			return fmt.Errorf("the trusted root %s cannot be read (%w): give the path of a Sigstore trusted_root.json", v.TrustedRoot, err)
		}
	}
	return nil
}

// flags are the trust options every verify command shares. A key is its own trust anchor and
// local signatures have no transparency-log entry; keyless trust comes from Fulcio and Rekor.
func (v Verifier) flags() []string {
	var f []string
	if v.Key != "" {
		f = []string{"--key=" + v.Key, "--insecure-ignore-tlog=true"}
	} else {
		f = []string{"--certificate-identity=" + v.CertIdentity, "--certificate-oidc-issuer=" + v.CertIssuer}
	}
	if v.TrustedRoot != "" {
		f = append(f, "--trusted-root="+v.TrustedRoot)
	}
	return f
}

// BlobArgs is the cosign command line that verifies file against its bundle.
func (v Verifier) BlobArgs(file, bundle string) []string {
	return append(append([]string{"verify-blob"}, v.flags()...), "--bundle="+bundle, file)
}

// ImageArgs is the cosign command line that verifies an image's signature.
func (v Verifier) ImageArgs(ref string) []string {
	return append(append([]string{"verify"}, v.flags()...), ref)
}

// AttestationArgs is the cosign command line that verifies an image's attestation of one type.
func (v Verifier) AttestationArgs(ref, predicateType string) []string {
	return append(append([]string{"verify-attestation"}, v.flags()...), "--type="+predicateType, ref)
}

// BlobAttestationArgs is the cosign command line that verifies bundle as an attestation of
// predicateType about file: signed by the expected identity, with file's digest among the
// statement's subjects.
func (v Verifier) BlobAttestationArgs(file, bundle, predicateType string) []string {
	return append(append([]string{"verify-blob-attestation"}, v.flags()...), "--type="+predicateType, "--bundle="+bundle, file)
}

// VerifyBlob fails unless bundle holds a valid signature of file by the expected identity.
func (v Verifier) VerifyBlob(ctx context.Context, file, bundle string) error {
	if err := v.Check(); err != nil {
		return err
	}
	if _, err := os.Stat(bundle); err != nil {
		return fmt.Errorf("%s is not signed: its signature bundle %s is missing", file, bundle)
	}
	if err := (run.Cmd{}).Run(ctx, v.Cosign, v.BlobArgs(file, bundle)...); err != nil {
		return fmt.Errorf("%s: signature does not verify (%s): %w", file, v.trust(), err)
	}
	return nil
}

// VerifyImage fails unless the registry holds a valid signature of the image by the expected identity.
func (v Verifier) VerifyImage(ctx context.Context, ref string) error {
	if err := v.Check(); err != nil {
		return err
	}
	if err := requireDigest(ref); err != nil {
		return err
	}
	if err := (run.Cmd{}).Run(ctx, v.Cosign, v.ImageArgs(ref)...); err != nil {
		return fmt.Errorf("image %s: signature does not verify (%s): %w", ref, v.trust(), err)
	}
	return nil
}

// VerifyBlobAttestation fails unless bundle holds an attestation of predicateType about file by
// the expected identity, and returns the bundle it verified (what is read is what was checked:
// cosign verifies a private copy), for the caller to read the statement from.
func (v Verifier) VerifyBlobAttestation(ctx context.Context, file, bundle, predicateType string) ([]byte, error) {
	if err := v.Check(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(bundle)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s has no %s attestation: its bundle %s is missing", file, predicateType, bundle)
	} else if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "attestation-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	copied := filepath.Join(tmp, filepath.Base(bundle))
	if err := os.WriteFile(copied, data, 0o600); err != nil {
		return nil, err
	}
	if err := (run.Cmd{}).Run(ctx, v.Cosign, v.BlobAttestationArgs(file, copied, predicateType)...); err != nil {
		return nil, fmt.Errorf("%s: %s attestation %s does not verify (%s): %w", file, predicateType, bundle, v.trust(), err)
	}
	return data, nil
}

// VerifyAttestation fails unless the image carries a valid attestation of predicateType.
func (v Verifier) VerifyAttestation(ctx context.Context, ref, predicateType string) error {
	_, err := v.VerifiedAttestations(ctx, ref, predicateType)
	return err
}

// VerifiedAttestations fails unless the image carries a valid attestation of predicateType, and
// returns every one that verified: a DSSE envelope each, as cosign prints them.
func (v Verifier) VerifiedAttestations(ctx context.Context, ref, predicateType string) ([][]byte, error) {
	if err := v.Check(); err != nil {
		return nil, err
	}
	if err := requireDigest(ref); err != nil {
		return nil, err
	}
	// cosign prints what it verified on stdout, one envelope a line, and its report on stderr.
	var stderr strings.Builder
	out, err := (run.Cmd{Stderr: &stderr}).Output(ctx, v.Cosign, v.AttestationArgs(ref, predicateType)...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %s attestation does not verify (%s): %w", ref, predicateType, v.trust(), err)
	}
	var envs [][]byte
	for line := range strings.Lines(out) {
		if line = strings.TrimSpace(line); line != "" {
			envs = append(envs, []byte(line))
		}
	}
	if len(envs) == 0 {
		return nil, fmt.Errorf("image %s: cosign verified a %s attestation but printed none: %s", ref, predicateType, strings.TrimSpace(stderr.String()))
	}
	return envs, nil
}

func (v Verifier) trust() string {
	if v.Key != "" {
		return "public key " + v.Key
	}
	return fmt.Sprintf("keyless identity %s from %s", v.CertIdentity, v.CertIssuer)
}

// requireDigest refuses tags: a tag can be moved to another image after it was signed.
func requireDigest(ref string) error {
	if _, d, ok := strings.Cut(ref, "@sha256:"); !ok || len(d) != 64 {
		return fmt.Errorf("image %q is not pinned by digest: sign and verify name@sha256:<digest>, never a tag", ref)
	}
	return nil
}
