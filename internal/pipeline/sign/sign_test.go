package sign

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
)

func newKey(t *testing.T, cosign, dir string) KeyPair {
	t.Helper()
	k := KeyPair{Private: filepath.Join(dir, "cosign.key"), Public: filepath.Join(dir, "cosign.pub")}
	created, err := k.Ensure(context.Background(), cosign)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("Ensure did not report creating a new key pair")
	}
	return k
}

func TestEnsureGeneratesOnceAndKeepsThePair(t *testing.T) {
	cosign := toolstest.Installed(t, "cosign")
	t.Setenv(PasswordEnv, "test-password")
	k := newKey(t, cosign, t.TempDir())
	before, err := os.ReadFile(k.Private)
	if err != nil {
		t.Fatal(err)
	}
	created, err := k.Ensure(context.Background(), cosign)
	if err != nil || created {
		t.Fatalf("second Ensure: created=%v err=%v, want the existing pair kept", created, err)
	}
	after, _ := os.ReadFile(k.Private)
	if string(before) != string(after) {
		t.Fatal("second Ensure replaced the private key")
	}
	entries, _ := os.ReadDir(filepath.Dir(k.Private))
	if len(entries) != 2 {
		t.Fatalf("key directory holds %d entries, want just the pair (no scratch directory left)", len(entries))
	}
}

func TestEnsureRefusesHalfAPair(t *testing.T) {
	dir := t.TempDir()
	k := KeyPair{Private: filepath.Join(dir, "cosign.key"), Public: filepath.Join(dir, "cosign.pub")}
	if err := os.WriteFile(k.Public, []byte("pub"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No cosign needed: the check comes first.
	_, err := k.Ensure(context.Background(), "cosign-not-needed")
	if err == nil || !strings.Contains(err.Error(), "half a cosign key pair") {
		t.Fatalf("Ensure with only the public key: %v, want a half-pair error", err)
	}
}

func TestEnsureNeedsAPassword(t *testing.T) {
	dir := t.TempDir()
	k := KeyPair{Private: filepath.Join(dir, "cosign.key"), Public: filepath.Join(dir, "cosign.pub")}
	t.Setenv(PasswordEnv, "")
	os.Unsetenv(PasswordEnv)
	_, err := k.Ensure(context.Background(), "cosign-not-needed")
	if err == nil || !strings.Contains(err.Error(), "COSIGN_PASSWORD is not set") {
		t.Fatalf("Ensure without COSIGN_PASSWORD: %v", err)
	}
	if _, err := os.Stat(k.Private); err == nil {
		t.Fatal("a key was written without a password")
	}
}

// twoKeys makes a working directory with two new key pairs: ours, and another that has nothing
// to do with what ours signs.
func twoKeys(t *testing.T) (cosign, dir string, ours, other KeyPair) {
	t.Helper()
	cosign = toolstest.Installed(t, "cosign")
	t.Setenv(PasswordEnv, "test-password")
	dir = t.TempDir()
	return cosign, dir, newKey(t, cosign, filepath.Join(dir, "ours")), newKey(t, cosign, filepath.Join(dir, "theirs"))
}

func TestSignBlobVerifiesAndRejectsTamperingAndOtherKeys(t *testing.T) {
	cosign, dir, k, other := twoKeys(t)
	ctx := context.Background()

	file := filepath.Join(dir, "checksums.txt")
	if err := os.WriteFile(file, []byte("abc  slipway_1.0.0_linux_amd64.tar.gz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := file + ".sigstore.json"
	if err := (Signer{Cosign: cosign, Key: k.Private}).SignBlob(ctx, file, bundle); err != nil {
		t.Fatal(err)
	}
	ours := Verifier{Cosign: cosign, Key: k.Public}
	if err := ours.VerifyBlob(ctx, file, bundle); err != nil {
		t.Fatalf("verifying our own signature: %v", err)
	}

	err := (Verifier{Cosign: cosign, Key: other.Public}).VerifyBlob(ctx, file, bundle)
	if err == nil || !strings.Contains(err.Error(), "checksums.txt: signature does not verify") {
		t.Fatalf("verifying with another key: %v, want a failure naming the file", err)
	}

	if err := os.WriteFile(file, []byte("abd  slipway_1.0.0_linux_amd64.tar.gz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ours.VerifyBlob(ctx, file, bundle); err == nil {
		t.Fatal("a one-byte change to the signed file still verifies")
	}

	err = ours.VerifyBlob(ctx, file, filepath.Join(dir, "missing.sigstore.json"))
	if err == nil || !strings.Contains(err.Error(), "is not signed") {
		t.Fatalf("verifying without a bundle: %v", err)
	}
}

// One statement about two files, signed once: each file verifies against the bundle, a third
// file (not a subject) does not, nor does another key; what comes back is the bundle verified.
func TestAttestBlobCoversEverySubject(t *testing.T) {
	cosign, dir, k, other := twoKeys(t)
	ctx := context.Background()
	var subjects []string
	for _, name := range []string{"a.tar.gz", "b.zip", "c.tar.gz"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(name))
		subjects = append(subjects, fmt.Sprintf(`{"name":%q,"digest":{"sha256":"%x"}}`, name, sum))
	}
	statement := filepath.Join(dir, "provenance.json")
	doc := `{"_type":"https://in-toto.io/Statement/v1","subject":[` + strings.Join(subjects[:2], ",") +
		`],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://example.com/b"},"runDetails":{"builder":{"id":"https://example.com/builder"}}}}`
	if err := os.WriteFile(statement, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := statement + ".sigstore.json"
	if err := (Signer{Cosign: cosign, Key: k.Private}).AttestBlob(ctx, statement, bundle); err != nil {
		t.Fatal(err)
	}
	ours := Verifier{Cosign: cosign, Key: k.Public}
	for _, name := range []string{"a.tar.gz", "b.zip"} {
		got, err := ours.VerifyBlobAttestation(ctx, filepath.Join(dir, name), bundle, "slsaprovenance1")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var b struct{ DSSEEnvelope struct{ Payload []byte } }
		if err := json.Unmarshal(got, &b); err != nil || string(b.DSSEEnvelope.Payload) != doc {
			t.Fatalf("%s: the verified bundle does not carry the statement as signed (%v): %s", name, err, got)
		}
	}
	for name, c := range map[string]struct {
		v               Verifier
		file, predicate string
		bundle, says    string
	}{
		"a file the statement is not about": {ours, "c.tar.gz", "slsaprovenance1", bundle, "c.tar.gz: slsaprovenance1 attestation " + bundle + " does not verify (public key " + k.Public},
		"another key":                       {Verifier{Cosign: cosign, Key: other.Public}, "a.tar.gz", "slsaprovenance1", bundle, "does not verify (public key " + other.Public},
		"another predicate type":            {ours, "a.tar.gz", "openvex", bundle, "openvex attestation"},
		"no bundle":                         {ours, "a.tar.gz", "slsaprovenance1", bundle + ".missing", "a.tar.gz has no slsaprovenance1 attestation: its bundle " + bundle + ".missing is missing"},
	} {
		_, err := c.v.VerifyBlobAttestation(ctx, filepath.Join(dir, c.file), c.bundle, c.predicate)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.says)
		}
	}
}

func TestVerifierNeedsExactlyOneTrustAnchor(t *testing.T) {
	for _, v := range []Verifier{
		{},
		{CertIdentity: "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.0.0"},
		{Key: "cosign.pub", CertIssuer: "https://token.actions.githubusercontent.com"},
	} {
		if err := v.Check(); err == nil {
			t.Errorf("Check(%+v) passed, want an error", v)
		}
	}
	keyless := Verifier{CertIdentity: "id", CertIssuer: "issuer"}
	if err := keyless.Check(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(keyless.BlobArgs("f", "f.sigstore.json"), " ")
	want := "verify-blob --certificate-identity=id --certificate-oidc-issuer=issuer --bundle=f.sigstore.json f"
	if got != want {
		t.Errorf("keyless BlobArgs = %q, want %q", got, want)
	}

	// A trusted-root file replaces Sigstore's TUF repository: it must exist, and every command
	// passes it.
	keyless.TrustedRoot = filepath.Join(t.TempDir(), "trusted_root.json")
	if err := keyless.Check(); err == nil || !strings.Contains(err.Error(), "the trusted root "+keyless.TrustedRoot+" cannot be read") {
		t.Fatalf("Check with a missing trusted root: %v", err)
	}
	for _, args := range [][]string{keyless.BlobArgs("f", "b"), keyless.ImageArgs("r@sha256:x"), keyless.AttestationArgs("r@sha256:x", "openvex"), keyless.BlobAttestationArgs("f", "b", "slsaprovenance1")} {
		if !slices.Contains(args, "--trusted-root="+keyless.TrustedRoot) {
			t.Errorf("%q does not pass the trusted root", args)
		}
	}
}

func TestSigningFlagsFollowTheIdentity(t *testing.T) {
	local := strings.Join(Signer{Key: "k.key"}.Flags(), " ")
	if local != "--key=k.key --tlog-upload=false --use-signing-config=false --yes" {
		t.Errorf("local key flags = %q: must sign with no network", local)
	}
	keyless := strings.Join(Signer{Tlog: true}.Flags(), " ")
	if keyless != "--tlog-upload=true --use-signing-config=true --yes" {
		t.Errorf("keyless flags = %q", keyless)
	}
}

func TestImagesMustBePinnedByDigest(t *testing.T) {
	v := Verifier{Cosign: "cosign-not-needed", Key: "k.pub"}
	err := v.VerifyImage(context.Background(), "127.0.0.1:5000/slipway:latest")
	if err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Fatalf("VerifyImage by tag: %v", err)
	}
	err = (Signer{Cosign: "cosign-not-needed"}).SignImage(context.Background(), "r/slipway@sha256:abc")
	if err == nil {
		t.Fatal("SignImage accepted a short digest")
	}
}

// The right password opens the key; a wrong one fails naming COSIGN_PASSWORD and the key; a key
// not made yet passes (Ensure makes it with the password given).
func TestCheckPasswordCatchesAWrongPassword(t *testing.T) {
	cosign := toolstest.Installed(t, "cosign")
	t.Setenv(PasswordEnv, "right")
	k := newKey(t, cosign, t.TempDir())
	ctx := context.Background()
	if err := k.CheckPassword(ctx, cosign); err != nil {
		t.Fatalf("right password: %v", err)
	}
	t.Setenv(PasswordEnv, "wrong")
	err := k.CheckPassword(ctx, cosign)
	if err == nil || !strings.Contains(err.Error(), PasswordEnv+" does not open "+k.Private) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := (KeyPair{Private: filepath.Join(t.TempDir(), "none.key")}).CheckPassword(ctx, cosign); err != nil {
		t.Errorf("a key not made yet: %v", err)
	}
}
