package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
	"github.com/slipway-dev/slipway/internal/pipeline/sign"
)

// The pinned cosign signs a statement as is (attest-blob --statement) and verifies it against
// the artifact; Check reads the bundle it wrote. A predicate alone goes the way of an image's
// (cosign attest --type slsaprovenance1): cosign makes the statement around it.
func TestCosignSignsStatementAndPredicate(t *testing.T) {
	cosign := toolstest.Installed(t, "cosign")
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv(sign.PasswordEnv, "test-password")
	key := sign.KeyPair{Private: filepath.Join(dir, "cosign.key"), Public: filepath.Join(dir, "cosign.pub")}
	if _, err := key.Ensure(ctx, cosign); err != nil {
		t.Fatal(err)
	}
	artifact := filepath.Join(dir, archive)
	if err := os.WriteFile(artifact, []byte("an archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("an archive"))
	in := inputs(t)
	in.Subjects = []Subject{{Name: archive, SHA256: hex.EncodeToString(sum[:])}}
	data, err := Statement(in)
	if err != nil {
		t.Fatal(err)
	}
	stmt, bundle := filepath.Join(dir, "provenance.json"), filepath.Join(dir, "provenance.sigstore.json")
	if err := os.WriteFile(stmt, data, 0o644); err != nil {
		t.Fatal(err)
	}
	signer := sign.Signer{Cosign: cosign, Key: key.Private}
	if err := signer.AttestBlob(ctx, stmt, bundle); err != nil {
		t.Fatal(err)
	}
	verify := func(file string) error {
		return run.Run(ctx, cosign, "verify-blob-attestation", "--key="+key.Public, "--insecure-ignore-tlog=true",
			"--type=slsaprovenance1", "--bundle="+bundle, file)
	}
	if err := verify(artifact); err != nil {
		t.Fatalf("cosign does not verify the statement it signed: %v", err)
	}
	other := filepath.Join(dir, "other.tar.gz")
	if err := os.WriteFile(other, []byte("another archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := verify(other); err == nil {
		t.Fatal("cosign verified the statement against an artifact it is not about")
	}

	signed, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bundle: %d bytes for a %d-byte statement", len(signed), len(data))
	want := Expect{SHA256: in.Subjects[0].SHA256, Repository: repoURL, Commit: commit, BuilderID: LocalBuilder}
	if err := Check(signed, want); err != nil {
		t.Fatalf("Check of cosign's bundle: %v", err)
	}
	want.BuilderID = workflow
	if err := Check(signed, want); !errors.Is(err, ErrBuilder) {
		t.Fatalf("Check of cosign's bundle against CI's builder: %v", err)
	}

	pred, err := Predicate(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stmt, pred, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"attest-blob"}, signer.Flags()...), "--type=slsaprovenance1", "--predicate="+stmt, "--bundle="+bundle, artifact)
	if err := run.Run(ctx, cosign, args...); err != nil {
		t.Fatalf("cosign does not take the predicate: %v", err)
	}
	if err := verify(artifact); err != nil {
		t.Fatal(err)
	}
	if signed, err = os.ReadFile(bundle); err != nil {
		t.Fatal(err)
	}
	want.BuilderID = LocalBuilder
	if err := Check(signed, want); err != nil {
		t.Fatalf("Check of the statement cosign made around the predicate: %v", err)
	}
}
